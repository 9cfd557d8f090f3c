"""A C program (c_peer.c, the C API alone) and Python exchange blocks through one ring, found by
name on both sides, each waiting on the ring rather than polling; and Python learns that the C
producer was killed."""

import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

PEER = os.environ.get("TALC_C_PEER")
pytestmark = pytest.mark.skipif(not PEER, reason="TALC_C_PEER names the C peer (ctest sets it)")

COUNT = 500


def size_of(i: int) -> int:
    return 4 * (1 + i * 13 % 2000)


def expected(i: int, size: int) -> np.ndarray:
    """c_peer.c's pattern: word j of block i is i * 1000003 + j, modulo 2^32."""
    return ((i * 1000003 + np.arange(size // 4, dtype=np.uint64)) % 2**32).astype(np.uint32)


def test_python_reads_until_the_c_producer_closes(heap, shm_name):
    ring = heap.ring("from-c")
    before = heap.stats()["live_allocations"]
    peer = subprocess.Popen([PEER, shm_name, "produce", "from-c", str(COUNT)],
                            stdout=subprocess.PIPE, text=True)
    got = 0
    try:
        for offset, size in ring:  # ends at the C side's talc_ring_close_producer
            block = heap.block(offset, size)
            arr = np.frombuffer(block, dtype=np.uint32)
            assert size == size_of(got) and np.array_equal(arr, expected(got, size))
            del arr
            block.free()
            got += 1
        out, _ = peer.communicate(timeout=60)
    finally:
        if peer.poll() is None:
            peer.kill()
    assert peer.returncode == 0, out
    assert got == COUNT and out.strip() == f"produced {COUNT}"
    heap.trim()
    heap.check()
    assert heap.stats()["live_allocations"] == before


def test_c_reads_until_python_closes(heap, shm_name):
    ring = heap.ring("to-c")
    before = heap.stats()["live_allocations"]
    peer = subprocess.Popen([PEER, shm_name, "consume", "to-c"], stdout=subprocess.PIPE, text=True)
    try:
        for i in range(COUNT):
            block = heap.allocate(size_of(i))
            arr = np.frombuffer(block, dtype=np.uint32)
            arr[:] = expected(i, size_of(i))
            del arr
            ring.push(block, timeout=30)
        ring.close()
        out, _ = peer.communicate(timeout=60)
    finally:
        if peer.poll() is None:
            peer.kill()
    assert peer.returncode == 0, out
    assert out.strip() == f"verified {COUNT}"
    heap.trim()
    heap.check()
    assert heap.stats()["live_allocations"] == before


def test_python_learns_that_the_c_producer_was_killed(heap, shm_name):
    ring = heap.ring("hang")
    peer = subprocess.Popen([PEER, shm_name, "hang", "hang"], stdout=subprocess.PIPE, text=True)
    try:
        assert peer.stdout.readline().strip() == "attached"
        heap.block(*ring.pop(timeout=10)).free()
        threading.Timer(0.2, os.kill, (peer.pid, signal.SIGKILL)).start()
        start = time.monotonic()
        with pytest.raises(BrokenPipeError) as e:
            ring.pop(timeout=30)
        assert e.value.errc == "peer_gone" and time.monotonic() - start < 0.2 + 1.0
    finally:
        peer.kill()
        peer.wait()
