"""One process: blocks as buffers, the heap's figures, its check, its files and its close."""

import numpy as np
import pytest

import talc
from conftest import live_state, unique_name


def test_block_is_a_writable_buffer_numpy_reads_in_place(heap):
    block = heap.allocate(4096)
    assert block.size == len(block) == 4096
    assert block.offset % 16 == 0 and block.live
    view = memoryview(block)
    assert not view.readonly and view.nbytes == 4096
    arr = np.frombuffer(block, dtype=np.uint32)
    arr[:] = np.arange(1024, dtype=np.uint32)
    # The array and the view are the same bytes: no copy anywhere.
    assert bytes(view[4:8]) == (1).to_bytes(4, "little")
    view[0:4] = (77).to_bytes(4, "little")
    assert arr[0] == 77
    del arr, view
    block.free()
    assert not block.live


def test_a_block_adopted_by_offset_sees_the_same_bytes(heap):
    block = heap.allocate(100, zeroed=True)
    assert bytes(block) == bytes(100)
    memoryview(block)[:5] = b"hello"
    same = heap.block(block.offset, 5)
    # One block, however many Blocks name it: they share its size (the widest proven) and state.
    assert same.size == 100 and bytes(same)[:5] == b"hello"
    whole = heap.block(block.offset)
    assert whole.size >= 100 and block.size == whole.size  # the usable size
    heap.free(block)
    assert not same.live and not whole.live


def test_alignment_and_stats_account_for_every_block(heap):
    before = heap.stats()
    blocks = [heap.allocate(1000 + i, align=256) for i in range(50)]
    assert all(b.offset % 256 == 0 for b in blocks)
    during = heap.stats()
    assert during["live_allocations"] == before["live_allocations"] + 50
    assert during["live_bytes"] >= before["live_bytes"] + sum(b.size for b in blocks)
    heap.check()
    for b in blocks:
        b.free()
    heap.trim()
    after = heap.stats()
    assert after["live_allocations"] == before["live_allocations"]
    assert after["live_bytes"] == before["live_bytes"]
    assert 0.0 <= after["fragmentation"] <= 1.0
    heap.check()


def test_reallocate_keeps_the_bytes(heap):
    block = heap.allocate(64)
    memoryview(block)[:] = bytes(range(64))
    heap.reallocate(block, 1 << 20)
    assert block.size == 1 << 20
    assert bytes(memoryview(block)[:64]) == bytes(range(64))
    heap.reallocate(block, 32)
    assert bytes(block) == bytes(range(32))
    block.free()


def test_root_is_seen_by_a_second_mapping(heap, shm_name):
    block = heap.allocate(8)
    heap.set_root(block.offset)
    with talc.Heap.open_shm(shm_name) as other:
        assert not other.built and heap.built
        assert other.root == block.offset
        memoryview(block)[:] = b"12345678"
        assert bytes(other.block(other.root, 8)) == b"12345678"
    block.free()


def test_file_heap_reopens_with_its_blocks(tmp_path):
    path = str(tmp_path / "heap")
    with talc.Heap.create_file(path, 1 << 20, max_size=8 << 20) as h:
        b = h.allocate(2 << 20)  # past the first size: the region grows
        np.frombuffer(b, dtype=np.uint8)[:] = 7
        h.set_root(b.offset)
        assert h.stats()["growths"] >= 1
        del b
    with talc.Heap.open_or_create_file(path, 1 << 20) as h:
        assert not h.built and h.max_size == 8 << 20
        b = h.block(h.root)
        assert np.all(np.frombuffer(b, dtype=np.uint8)[: 2 << 20] == 7)
        b.free()
        h.check()


def test_open_or_create_shm_builds_once():
    name = unique_name()
    try:
        with talc.Heap.open_or_create_shm(name, 4 << 20) as a, \
                talc.Heap.open_or_create_shm(name, 4 << 20) as b:
            assert a.built and not b.built
    finally:
        assert talc.remove_shm(name)
    assert not talc.remove_shm(name)


def test_an_exception_leaving_a_with_is_not_replaced(shm_name):
    # With a view still alive the heap cannot close: it stays open, and the exception that left
    # the block is the one the caller sees.
    with pytest.raises(KeyError, match="mine"):
        with talc.Heap.create_shm(shm_name, 4 << 20) as h:
            arr = np.frombuffer(h.allocate(64), dtype=np.uint8)
            raise KeyError("mine")
    assert not h.closed
    arr[:] = 1  # still mapped
    del arr
    h.close()
    assert h.closed
    # Without an exception, a view alive at the end of the block is still a BufferError.
    with pytest.raises(BufferError):
        with talc.Heap.open_shm(shm_name) as h2:
            arr = np.frombuffer(h2.allocate(64), dtype=np.uint8)
    del arr
    h2.close()


def test_close_unmaps_once_no_buffer_is_held(shm_name):
    h = talc.Heap.create_shm(shm_name, 4 << 20)
    block = h.allocate(64)
    arr = np.frombuffer(block, dtype=np.uint8)
    with pytest.raises(BufferError):
        h.close()
    assert not h.closed
    arr[:] = 1  # still mapped
    del arr
    h.close()
    h.close()  # a second close does nothing
    assert h.closed
    for use in (lambda: h.allocate(64), h.stats, h.check, lambda: h.root,
                lambda: memoryview(block), block.free, lambda: h.block(block.offset)):
        with pytest.raises(ValueError, match="closed"):
            use()
    assert block.offset > 0 and block.size == 64  # a Block's figures stay readable


def test_threads_allocate_with_the_gil_released(heap):
    import threading

    before = live_state(heap)

    def work():
        for _ in range(2000):
            heap.allocate(48).free()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    heap.trim()
    heap.check()
    assert live_state(heap)[:2] == before[:2]


def test_a_call_that_waits_on_the_heap_lets_other_threads_run(shm_name):
    import threading
    import time

    # Zeroing 256 MiB keeps the calling thread inside the heap's call for tens of milliseconds.
    # This thread notes the time at every turn of a loop: were the GIL held through the call,
    # none of its turns would fall inside it but at its very ends.
    with talc.Heap.create_shm(shm_name, 300 << 20) as heap:
        window = []

        def work():
            start = time.monotonic()
            block = heap.allocate(256 << 20, zeroed=True)
            window.extend((start, time.monotonic(), block))

        worker = threading.Thread(target=work)
        turns = []
        worker.start()
        while worker.is_alive():
            turns.append(time.monotonic())
        worker.join()
        start, end, block = window
        inside = [t for t in turns if start < t < end]
        assert inside and inside[-1] - inside[0] > (end - start) / 2
        block.free()
