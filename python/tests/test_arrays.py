"""numpy arrays in the heap: heap.ndarray, and named arrays whose dtype and shape live in the region
(read back by another Python process and by C), listing names, and pickling to spawned children."""

import multiprocessing
import os
import pickle
import struct
import subprocess

import numpy as np
import pytest

import talc
import workers
from conftest import live_state

C_PEER = os.environ.get("TALC_C_ARRAY_PEER")


def test_ndarray_views_a_new_block_in_place(heap):
    before = live_state(heap)[0]
    a = heap.ndarray((3, 5), np.float32)
    assert a.shape == (3, 5) and a.dtype == np.float32 and a.flags.writeable
    assert a.ctypes.data % 64 == 0
    a[:] = np.arange(15, dtype=np.float32).reshape(3, 5)
    assert live_state(heap)[0] == before + 1
    # The array is a counted view: the heap cannot close under it.
    with pytest.raises(BufferError):
        heap.close()
    z = heap.ndarray(1000, "<u2", zeroed=True)
    assert z.shape == (1000,) and not z.any()
    empty = heap.ndarray((0, 4))
    assert empty.shape == (0, 4) and empty.dtype == np.float64
    del a, z, empty
    heap.close()
    assert heap.closed


def test_block_ndarray_keeps_the_block_viewed(heap):
    block = heap.allocate(64 * 8)
    a = block.ndarray((8, 8), np.uint8)
    a[:] = 7
    assert bytes(block)[:3] == b"\x07\x07\x07"
    with pytest.raises(BufferError):
        block.free()
    with pytest.raises(ValueError, match="bytes over a block"):
        block.ndarray((100, 100), np.float64)
    del a
    block.free()


def test_ndarray_refuses_what_a_heap_cannot_hold(heap):
    with pytest.raises(TypeError, match="Python objects"):
        heap.ndarray(3, object)
    with pytest.raises(TypeError, match="structured"):
        heap.named_ndarray("s", 3, [("a", "<f8"), ("b", "<i4")])
    with pytest.raises(ValueError):
        heap.ndarray(-1)
    with pytest.raises(OverflowError):
        heap.ndarray((2**40, 2**40))
    with pytest.raises(ValueError, match="32 dimensions"):
        heap.ndarray((1,) * 33)


def test_a_named_array_is_made_once_with_its_dtype_and_shape(heap):
    a = heap.named_ndarray("grid", (4, 6), np.int64)
    assert not a.any() and a.ctypes.data % 64 == 0
    a[:] = np.arange(24).reshape(4, 6)
    again = heap.named_ndarray("grid", (4, 6), np.int64)
    assert np.shares_memory(a, again) or a.ctypes.data == again.ctypes.data
    found = heap.find_ndarray("grid")
    assert found.dtype == np.int64 and found.shape == (4, 6)
    assert np.array_equal(found, np.arange(24).reshape(4, 6))
    for shape, dtype, errc in (((6, 4), np.int64, "size_mismatch"),
                               ((5,), np.int64, "size_mismatch"),
                               ((4, 6), np.float64, "type_mismatch"),
                               ((4, 6), np.int32, "type_mismatch"),
                               ((3,), np.float32, "type_mismatch")):
        with pytest.raises(talc.Error) as info:
            heap.named_ndarray("grid", shape, dtype)
        assert info.value.errc == errc, (shape, dtype)
    heap.named("bytes", 64)
    with pytest.raises(talc.Error) as info:
        heap.find_ndarray("bytes")
    assert info.value.errc == "type_mismatch"
    with pytest.raises(talc.Error) as info:
        heap.find("grid")  # an array is not found as a block of bytes
    assert info.value.errc == "type_mismatch"
    with pytest.raises(BufferError):
        heap.destroy("grid")
    del a, again, found
    heap.destroy("grid")
    with pytest.raises(talc.Error) as info:
        heap.find_ndarray("grid")
    assert info.value.errc == "not_found"
    heap.check()


def test_another_process_reads_the_same_named_array(heap, shm_name):
    arr = heap.named_ndarray("shared", (2, 3), "<f4")
    arr[:] = [[1, 2, 3], [4, 5, 6]]
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    child = spawn.Process(target=workers.read_named_array, args=(shm_name, "shared", results))
    child.start()
    got = results.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert got == ("<f4", (2, 3), [[1, 2, 3], [4, 5, 6]])
    assert arr.tolist() == [[2, 4, 6], [8, 10, 12]]  # the child's writes, in place


@pytest.mark.skipif(not C_PEER, reason="TALC_C_ARRAY_PEER names the C peer (ctest sets it)")
def test_c_reads_and_writes_the_named_array_python_made(heap, shm_name):
    arr = heap.named_ndarray("from-python", (3, 4), np.float64)
    arr[:] = np.arange(12).reshape(3, 4)
    out = subprocess.run([C_PEER, shm_name, "from-python"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["<f8 3 4", "66.0"]
    assert np.array_equal(arr, np.arange(12).reshape(3, 4) * 0.5 + 1)


@pytest.mark.skipif(not C_PEER, reason="TALC_C_ARRAY_PEER names the C peer (ctest sets it)")
def test_python_finds_the_named_array_c_made(heap, shm_name):
    out = subprocess.run([C_PEER, shm_name, "from-c", "make", "<f8", "2", "5"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = heap.find_ndarray("from-c")
    assert got.dtype == np.float64 and got.shape == (2, 5)
    assert got.tolist() == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


def header_block(heap, name):
    """An unnamed Block over a named array's whole block, header included, to damage it."""
    [(_, offset, size, kind)] = [n for n in heap.names() if n[0] == name]
    assert kind == "array"
    return heap.block(offset, size)


# Field offsets of the header (include/talc/named/array.hpp), and what a damaged one says.
DAMAGES = [
    (0, b"notarray", "magic"),
    (8, struct.pack("<I", 2), "another version"),
    (12, struct.pack("<I", 99), "32 dimensions"),
    (16, struct.pack("<Q", 0), "0 bytes"),
    (24, struct.pack("<Q", 4096), "data offset"),
    (32, struct.pack("<Q", 10**6), "data size"),
    (40, b"x" * 24, "not terminated"),
    (64, struct.pack("<QQ", 2**62, 2**62), "overflows"),
    (64, struct.pack("<QQ", 100, 100), "disagrees"),
]


@pytest.mark.parametrize("at,data,why", DAMAGES)
def test_a_damaged_header_is_refused_not_trusted(heap, at, data, why):
    heap.named_ndarray("victim", (2, 2), "<i8")
    raw = header_block(heap, "victim")
    good = bytes(raw)
    memoryview(raw)[at:at + len(data)] = data
    with pytest.raises(talc.Error, match=why) as info:
        heap.find_ndarray("victim")
    assert info.value.errc == "corrupted"
    with pytest.raises(talc.Error):
        heap.named_ndarray("victim", (2, 2), "<i8")
    if C_PEER:
        out = subprocess.run([C_PEER, heap_name(heap), "victim"], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 1 and "header is refused" in out.stderr and why in out.stderr
    memoryview(raw)[:] = good
    assert heap.find_ndarray("victim").shape == (2, 2)


def heap_name(heap):
    return heap.__getstate__()[1]


@pytest.mark.parametrize("type_string", [b"|O8", b"<zz", b"<f4"])
def test_a_type_numpy_cannot_read_safely_is_refused(heap, type_string):
    heap.named_ndarray("typed", (4,), "<i8")
    raw = header_block(heap, "typed")
    memoryview(raw)[40:64] = type_string.ljust(24, b"\0")
    with pytest.raises(talc.Error) as info:
        heap.find_ndarray("typed")  # objects would be pointers; "<f4" disagrees with item size
    assert info.value.errc == "type_mismatch"


def test_names_lists_every_kind(heap):
    heap.named("raw", 100)
    heap.named_ndarray("arr", (3,), np.uint8)
    ring = heap.ring("jobs")
    got = {n[0]: n[1:] for n in heap.names()}
    assert got["raw"][1:] == (100, "bytes")
    assert got["arr"][2] == "array" and got["arr"][1] >= 64 + 8 + 3
    assert got["jobs"] == (ring.offset, got["jobs"][1], "object")
    assert heap.find("raw").offset == got["raw"][0]


def test_a_heap_and_a_block_pickle_to_a_spawned_child(heap, shm_name, tmp_path):
    block = heap.allocate(16)
    memoryview(block)[:5] = b"hello"
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    child = spawn.Process(target=workers.use_pickled, args=(heap, block, results))
    child.start()
    got = results.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert got == ("Heap", b"hello")
    assert bytes(block)[:5] == b"child"
    assert heap.find_ndarray("from-child").tolist() == [1, 2, 3, 4]

    with talc.Heap.create_file(tmp_path / "f.heap", 1 << 20) as f:
        again = pickle.loads(pickle.dumps(f))
        assert again.size == f.size and "f.heap" in repr(again)
        again.close()
    with pytest.raises(ValueError, match="closed"):
        pickle.dumps(f)
    with pytest.raises(TypeError, match="named block"):
        pickle.dumps(heap.named("n", 16))
    block.free()
    with pytest.raises(talc.Error):
        pickle.dumps(block)
