"""A C++ program (cpp_peer.cpp) and Python exchange blocks through a ring, both ways."""

import os
import subprocess

import numpy as np
import pytest

PEER = os.environ.get("TALC_CPP_PEER")
pytestmark = pytest.mark.skipif(not PEER, reason="TALC_CPP_PEER names the C++ peer (ctest sets it)")

COUNT = 500


def expected(i: int, size: int) -> np.ndarray:
    """cpp_peer.cpp's pattern: word j of block i is i * 1000003 + j, modulo 2^32."""
    return ((i * 1000003 + np.arange(size // 4, dtype=np.uint64)) % 2**32).astype(np.uint32)


def test_python_reads_and_frees_what_cpp_filled(heap, shm_name):
    ring = heap.ring("to-python")
    before = heap.stats()["live_allocations"]
    peer = subprocess.Popen([PEER, shm_name, "produce", "to-python", str(COUNT), "4096"],
                            stdout=subprocess.PIPE, text=True)
    got = 0
    try:
        for item in ring:  # each waited for; the peer closes the ring after the last
            block = heap.block(*item)
            arr = np.frombuffer(block, dtype=np.uint32)  # in place: the C++ peer's bytes
            assert arr.size == 1024 and np.array_equal(arr, expected(got, 4096))
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


def test_cpp_verifies_and_frees_what_python_filled(heap, shm_name):
    ring = heap.ring("to-cpp")
    before = heap.stats()["live_allocations"]
    peer = subprocess.Popen([PEER, shm_name, "consume", "to-cpp", str(COUNT)],
                            stdout=subprocess.PIPE, text=True)
    try:
        for i in range(COUNT):
            size = 4 * (1 + (i * 13) % 2000)
            block = heap.allocate(size)
            arr = np.frombuffer(block, dtype=np.uint32)
            arr[:] = expected(i, size)
            del arr
            ring.push(block, timeout=30)  # BrokenPipeError if the consumer died
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
