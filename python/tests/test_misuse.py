"""Misuse raises the exception that names it, and changes nothing in the heap."""

import numpy as np
import pytest

import talc
from conftest import live_state, unique_name


def refused(heap, errc, call):
    """Runs call, which must raise talc.Error `errc` and leave the heap as it was."""
    heap.trim()  # a request that finds no memory first gives back empty pages: no change
    before = live_state(heap)
    with pytest.raises(talc.Error) as info:
        call()
    assert info.value.errc == errc, str(info.value)
    assert str(info.value)  # the text from talc::describe, or the refusal's own
    assert live_state(heap) == before
    heap.check()
    return info.value


def test_every_error_is_a_talc_error_and_out_of_memory_a_memory_error():
    assert issubclass(talc.OutOfMemoryError, talc.Error)
    assert issubclass(talc.OutOfMemoryError, MemoryError)


def test_a_freed_block_cannot_be_used_or_freed_again(heap):
    block = heap.allocate(256)
    offset = block.offset
    block.free()
    refused(heap, "not_allocated", lambda: memoryview(block))
    refused(heap, "not_allocated", block.free)
    refused(heap, "not_allocated", lambda: heap.free(block))
    refused(heap, "not_allocated", lambda: heap.reallocate(block, 512))
    assert block.offset == offset and block.size == 256


def test_a_double_free_through_two_blocks_is_refused(heap):
    for size in (64, 100_000):  # through a lane, and under the lock
        keep = heap.allocate(size)  # so the freed block does not merge into the rest
        block = heap.allocate(size)
        twin = heap.block(block.offset, size)
        block.free()
        assert not twin.live  # one block: freed through either Block, gone to both
        refused(heap, "not_allocated", twin.free)
        refused(heap, "not_allocated", lambda: memoryview(twin))
        keep.free()


def test_offsets_that_name_no_block_are_refused(heap):
    block = heap.allocate(8192)  # a core chunk: the core judges what lies inside it
    refused(heap, "foreign_pointer", lambda: heap.block(0))
    refused(heap, "foreign_pointer", lambda: heap.block(heap.size + 4096))
    refused(heap, "foreign_pointer", lambda: heap.block(block.offset + 16))  # inside a block
    refused(heap, "foreign_pointer", lambda: heap.block(block.offset + 3))  # misaligned
    refused(heap, "foreign_pointer", lambda: heap.block(block.offset, 1 << 20))  # too long
    refused(heap, "null_pointer", lambda: heap.block(2**64 - 1))  # the null offset
    with pytest.raises(ValueError):
        heap.block(-16)
    block.free()


def test_sizes_and_alignments_that_cannot_be(heap):
    before = live_state(heap)
    with pytest.raises(ValueError):
        heap.allocate(0)
    with pytest.raises(ValueError):
        heap.block(heap.allocate(16).offset, 0)
    with pytest.raises(ValueError):
        heap.allocate(-1)
    assert live_state(heap)[0] == before[0] + 1
    refused(heap, "size_overflow", lambda: heap.allocate(1 << 62))
    error = refused(heap, "out_of_memory", lambda: heap.allocate(64 << 20))
    assert isinstance(error, MemoryError)
    refused(heap, "bad_alignment", lambda: heap.allocate(64, align=3))
    refused(heap, "bad_alignment", lambda: heap.allocate(64, align=0))
    refused(heap, "alignment_too_large", lambda: heap.allocate(64, align=1 << 30))


def test_a_block_with_a_view_is_not_freed_resized_or_handed_over(heap):
    ring = heap.ring("r")
    block = heap.allocate(64)
    arr = np.frombuffer(block, dtype=np.uint8)
    before = live_state(heap)
    for call in (block.free, lambda: heap.reallocate(block, 128), lambda: ring.push(block)):
        with pytest.raises(BufferError):
            call()
    assert block.live and live_state(heap) == before
    del arr
    block.free()


def test_a_block_of_another_heap_is_refused(heap):
    ring = heap.ring("r")
    name = unique_name()
    try:
        with talc.Heap.create_shm(name, 4 << 20) as other:
            block = other.allocate(64)
            refused(heap, "foreign_pointer", lambda: heap.free(block))
            refused(heap, "foreign_pointer", lambda: ring.push(block))
            assert block.live
            block.free()
    finally:
        talc.remove_shm(name)


def test_opening_a_missing_name_or_creating_an_existing_one(heap, shm_name):
    with pytest.raises(FileNotFoundError):
        talc.Heap.open_shm(unique_name("missing"))
    with pytest.raises(FileExistsError):
        talc.Heap.create_shm(shm_name, 4 << 20)
    with pytest.raises(talc.Error) as info:
        talc.Heap.create_shm(unique_name("tiny"), 64)
    assert info.value.errc == "region_too_small"
    heap.check()  # the existing heap is untouched


def test_a_failed_create_leaves_nothing_behind(tmp_path):
    name = unique_name("failed")
    with pytest.raises(OSError):
        talc.Heap.create_shm(name, 1 << 50)  # no address space holds it
    with talc.Heap.create_shm(name, 1 << 20) as heap:  # not FileExistsError
        heap.check()
    talc.remove_shm(name)
    path = tmp_path / "heap"
    with pytest.raises(OSError):
        talc.Heap.create_file(str(path), 1 << 20, max_size=1 << 50)
    assert not path.exists()


def test_bad_names_for_a_ring(heap):
    refused(heap, "empty_name", lambda: heap.ring(""))
    refused(heap, "name_too_long", lambda: heap.ring("x" * 4096))
