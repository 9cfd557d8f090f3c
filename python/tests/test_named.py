"""Named blocks of bytes: found by name in every process, made zeroed once, freed by name."""

import multiprocessing

import numpy as np
import pytest

import talc
import workers
from conftest import live_state


def test_a_named_block_is_made_once_and_found_by_every_process(heap, shm_name):
    spawn = multiprocessing.get_context("spawn")
    children = [spawn.Process(target=workers.mark_named, args=(shm_name, "counts", tag))
                for tag in range(3)]
    for c in children:
        c.start()
    for c in children:
        c.join(timeout=30)
        assert c.exitcode == 0
    block = heap.find("counts")
    assert block.named and block.size == 64
    assert list(np.frombuffer(block, dtype=np.uint64)[:4]) == [1, 2, 3, 0]  # zeroed by its maker
    assert heap.named("counts", 64).offset == block.offset
    with talc.Heap.open_shm(shm_name) as other:
        assert other.find("counts").offset == block.offset


def test_destroy_frees_the_block_and_its_name(heap):
    block = heap.named("config", 4096, align=256)
    with_it = live_state(heap)[0]
    assert block.offset % 256 == 0 and bytes(block) == bytes(4096)
    memoryview(block)[:2] = b"ok"
    assert bytes(heap.named("config", 4096, align=256))[:2] == b"ok"  # found, not made again
    arr = np.frombuffer(block, dtype=np.uint8)
    with pytest.raises(BufferError):
        heap.destroy("config")
    del arr
    heap.destroy("config")
    with pytest.raises(talc.Error) as info:
        heap.find("config")
    assert info.value.errc == "not_found"
    heap.trim()
    assert live_state(heap)[0] == with_it - 1
    heap.check()


def test_a_named_block_is_not_freed_moved_or_handed_over_as_a_plain_one(heap):
    ring = heap.ring("r")
    block = heap.named("fixed", 128)
    for call in (block.free, lambda: heap.reallocate(block, 256), lambda: ring.push(block)):
        with pytest.raises(ValueError, match="named"):
            call()
    assert heap.find("fixed").offset == block.offset


def test_named_refusals(heap):
    heap.named("b", 16)
    for call, errc in ((lambda: heap.find("nothing"), "not_found"),
                       (lambda: heap.destroy("nothing"), "not_found"),
                       (lambda: heap.named("", 16), "empty_name"),
                       (lambda: heap.named("x" * 4096, 16), "name_too_long"),
                       (lambda: heap.named("b", 16, align=3), "bad_alignment"),
                       (lambda: heap.find("r"), "type_mismatch"),
                       (lambda: heap.named("b", 32), "size_mismatch"),
                       (lambda: heap.named("b", 16, align=64), "size_mismatch")):
        heap.ring("r")
        before = live_state(heap)
        with pytest.raises(talc.Error) as info:
            call()
        assert info.value.errc == errc
        assert live_state(heap) == before
    with pytest.raises(ValueError):
        heap.named("zero", 0)


def test_names_lists_every_named_block(heap):
    assert heap.names() == []
    a = heap.named("alpha", 100)
    heap.named("beta", 24)
    got = sorted(heap.names())
    assert [n for n, _, _, _ in got] == ["alpha", "beta"]
    assert got[0][1:] == (a.offset, 100, "bytes")
    heap.destroy("beta")
    assert [n for n, _, _, _ in heap.names()] == ["alpha"]
