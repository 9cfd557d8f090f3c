"""What test_cpp_peer.py and test_c_peer.py share: a peer program started beside the test that
sends blocks through a ring to Python, or takes them from it, in the peers' common pattern."""

import subprocess

import numpy as np


def expected(i: int, size: int) -> np.ndarray:
    """The peers' pattern: 32-bit word j of block i is i * 1000003 + j, modulo 2^32."""
    return ((i * 1000003 + np.arange(size // 4, dtype=np.uint64)) % 2**32).astype(np.uint32)


def _run(heap, argv, exchange) -> str:
    """Starts the peer, runs exchange(), and returns the peer's output once it exited 0; the heap
    then holds what it held before."""
    before = heap.stats()["live_allocations"]
    peer = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        exchange()
        out, _ = peer.communicate(timeout=60)
    finally:
        if peer.poll() is None:
            peer.kill()
    assert peer.returncode == 0, out
    heap.trim()
    heap.check()
    assert heap.stats()["live_allocations"] == before
    return out.strip()


def receive(heap, ring, argv, count: int, size_of) -> str:
    """The peer `argv` fills `count` blocks (block i of size_of(i) bytes) and pushes them through
    `ring`, then closes it; Python reads each in place, checks and frees it, until the end of
    the stream."""
    got = 0

    def exchange():
        nonlocal got
        for offset, size in ring:  # each waited for; the end of the stream ends the loop
            block = heap.block(offset, size)
            arr = np.frombuffer(block, dtype=np.uint32)  # in place: the peer's bytes
            assert size == size_of(got) and np.array_equal(arr, expected(got, size))
            del arr
            block.free()
            got += 1

    out = _run(heap, argv, exchange)
    assert got == count
    return out


def send(heap, ring, argv, count: int, size_of) -> str:
    """Python fills `count` blocks and pushes them through `ring` to the peer `argv`, then closes
    the ring; the peer checks and frees each."""

    def exchange():
        for i in range(count):
            block = heap.allocate(size_of(i))
            arr = np.frombuffer(block, dtype=np.uint32)
            arr[:] = expected(i, size_of(i))
            del arr
            ring.push(block, timeout=30)  # BrokenPipeError if the peer died
        ring.close()

    return _run(heap, argv, exchange)
