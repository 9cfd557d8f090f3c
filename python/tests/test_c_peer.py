"""A C program (c_peer.c, the C API alone) and Python exchange blocks through one ring, found by
name on both sides, each waiting on the ring rather than polling; and Python learns that the C
producer was killed."""

import os
import signal
import subprocess
import threading
import time

import pytest

import peers

PEER = os.environ.get("TALC_C_PEER")
pytestmark = pytest.mark.skipif(not PEER, reason="TALC_C_PEER names the C peer (ctest sets it)")

COUNT = 500


def size_of(i: int) -> int:
    return 4 * (1 + i * 13 % 2000)  # c_peer.c's sizes


def test_python_reads_until_the_c_producer_closes(heap, shm_name):
    out = peers.receive(heap, heap.ring("from-c"),
                        [PEER, shm_name, "produce", "from-c", str(COUNT)], COUNT, size_of)
    assert out == f"produced {COUNT}"


def test_c_reads_until_python_closes(heap, shm_name):
    out = peers.send(heap, heap.ring("to-c"), [PEER, shm_name, "consume", "to-c"], COUNT, size_of)
    assert out == f"verified {COUNT}"


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
