"""The package follows Python's conventions: its errors, argument types, values and reprs."""

import numpy as np
import pytest

import talc
from conftest import unique_name


def test_negative_sizes_raise_value_error_and_too_large_overflow_error(heap, tmp_path):
    block = heap.allocate(64)
    calls = {
        "allocate size": lambda n: heap.allocate(n),
        "allocate align": lambda n: heap.allocate(64, n),
        "block offset": lambda n: heap.block(n),
        "block size": lambda n: heap.block(block.offset, n),
        "reallocate size": lambda n: heap.reallocate(block, n),
        "reallocate align": lambda n: heap.reallocate(block, 128, n),
        "named size": lambda n: heap.named("n", n),
        "named align": lambda n: heap.named("n", 64, n),
        "set_root": lambda n: heap.set_root(n),
        "create_shm size": lambda n: talc.Heap.create_shm(unique_name(), n),
        "create_shm max_size": lambda n: talc.Heap.create_shm(unique_name(), 1 << 20, n),
        "open_or_create_shm size": lambda n: talc.Heap.open_or_create_shm(unique_name(), n),
        "create_file size": lambda n: talc.Heap.create_file(str(tmp_path / "f"), n),
        "open_or_create_file size": lambda n: talc.Heap.open_or_create_file(str(tmp_path / "g"), n),
    }
    for what, call in calls.items():
        with pytest.raises(ValueError, match="negative") as info:
            call(-1)
        assert "\n" not in str(info.value), what
        with pytest.raises(OverflowError):
            call(2**64)
        with pytest.raises(OverflowError):
            call(2**200)
        with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
            call(1.5)
    assert block.live and block.size == 64
    assert not list(tmp_path.iterdir())  # no create got as far as making its file
    heap.check()


def test_a_zero_size_raises_value_error_everywhere(heap, tmp_path):
    name = unique_name()
    for call in (lambda: talc.Heap.create_shm(name, 0),
                 lambda: talc.Heap.open_or_create_shm(name, 0),
                 lambda: talc.Heap.create_file(str(tmp_path / "f"), 0),
                 lambda: talc.Heap.open_or_create_file(str(tmp_path / "f"), 0),
                 lambda: heap.allocate(0),
                 lambda: heap.reallocate(heap.allocate(16), 0),
                 lambda: heap.named("zero", 0),
                 lambda: heap.block(heap.allocate(16).offset, 0)):
        with pytest.raises(ValueError):
            call()
    assert not talc.remove_shm(name)
    assert not list(tmp_path.iterdir())


def test_sizes_take_any_integer(heap):
    block = heap.allocate(np.int64(100), align=np.uint32(64))
    assert block.size == 100 and block.offset % 64 == 0
    assert heap.block(np.uint64(block.offset), np.int16(100)).live
    heap.reallocate(block, np.int32(300))
    assert block.size == 300
    heap.set_root(np.uint64(block.offset))
    assert heap.root == block.offset


class _PathLike:
    """An os.PathLike that is not a pathlib.Path."""

    def __init__(self, path):
        self.path = path

    def __fspath__(self):
        return str(self.path)


def test_file_paths_take_path_like_objects(tmp_path):
    made = tmp_path / "made"
    with talc.Heap.create_file(made, 1 << 20) as h:
        h.named("mark", 8)
    for path in (made, _PathLike(made), str(made), bytes(made)):
        with talc.Heap.open_file(path) as h:
            assert h.find("mark").size == 8
        with talc.Heap.open_or_create_file(path, 1 << 20) as h:
            assert h.find("mark").size == 8
    with talc.Heap.open_or_create_file(_PathLike(tmp_path / "other"), 1 << 20) as h:
        assert h.size == 1 << 20
    assert (tmp_path / "other").exists()
    with pytest.raises(FileExistsError):
        talc.Heap.create_file(_PathLike(made), 1 << 20)
    with pytest.raises(FileNotFoundError):
        talc.Heap.open_file(tmp_path / "missing")


def test_the_root_is_none_until_set_and_none_clears_it(heap, shm_name):
    assert heap.root is None  # a new heap's root is the null offset
    block = heap.allocate(64)
    heap.root = block.offset
    assert heap.root == block.offset
    with talc.Heap.open_shm(shm_name) as other:  # the same word, in another mapping
        assert other.root == block.offset
        other.root = None
    assert heap.root is None
    heap.set_root(block.offset)
    assert heap.root == block.offset
    heap.set_root(None)
    assert heap.root is None
    heap.root = 0  # offset 0 is an offset like any other, not None
    assert heap.root == 0
    with pytest.raises(ValueError, match="None"):
        heap.root = 2**64 - 1  # the null offset itself is spelled None
    assert heap.root == 0
    with pytest.raises(ValueError):
        heap.root = -1


def test_the_version_is_the_projects():
    import pathlib
    import re
    cmake = pathlib.Path(__file__).resolve().parents[2] / "CMakeLists.txt"
    version = re.search(r"project\(talc VERSION ([0-9.]+)", cmake.read_text()).group(1)
    assert talc.__version__ == version


def test_reprs_say_what_each_object_is(heap, shm_name, tmp_path):
    assert repr(heap) == f"<talc.Heap shm {shm_name!r} size={16 << 20}>"
    with talc.Heap.create_file(tmp_path / "f", 1 << 20, max_size=4 << 20) as f:
        assert repr(f) == f"<talc.Heap file {str(tmp_path / 'f')!r} size={1 << 20} max_size={4 << 20}>"
    assert repr(f) == f"<talc.Heap file {str(tmp_path / 'f')!r} closed>"

    block = heap.allocate(100)
    assert repr(block) == f"<talc.Block offset={block.offset} size=100 live>"
    ring = heap.ring("arrays")
    assert repr(ring) == f"<talc.Ring 'arrays' offset={ring.offset} len=0 capacity=1024>"
    ring.push(block)
    assert repr(block) == f"<talc.Block offset={block.offset} size=100 handed_over>"
    assert repr(ring) == f"<talc.Ring 'arrays' offset={ring.offset} len=1 capacity=1024>"
    other = heap.allocate(8)
    other.free()
    assert repr(other) == f"<talc.Block offset={other.offset} size=8 freed>"
    named = heap.named("cfg", 16)
    assert repr(named) == f"<talc.Block offset={named.offset} size=16 live named>"
    heap.close()
    assert repr(heap) == f"<talc.Heap shm {shm_name!r} closed>"
    assert repr(ring) == f"<talc.Ring 'arrays' offset={ring.offset} closed>"


def _public_calls():
    """(qualified name, docstring) of every public call, property and dunder the package defines."""
    yield "talc.remove_shm", talc.remove_shm.__doc__
    for cls in (talc.Heap, talc.Block, talc.Ring):
        for name, attr in vars(cls).items():
            if name.startswith("_") and name not in ("__enter__", "__exit__", "__len__"):
                continue
            doc = attr.__doc__ if isinstance(attr, property) else getattr(cls, name).__doc__
            yield f"{cls.__name__}.{name}", doc


def test_every_public_call_has_a_docstring_and_python_types():
    for name, doc in _public_calls():
        assert doc, name
        lines = [line for line in doc.strip().splitlines() if line.strip()]
        if lines[0].startswith(name.split(".")[-1] + "("):  # a signature, then the text
            lines = lines[1:]
        assert lines and not lines[0].startswith("(arg0"), f"{name} has no docstring"
        assert "talc_py" not in doc and "::" not in doc, f"{name}: {doc.splitlines()[0]}"
    assert "-> talc.Block" in talc.Heap.allocate.__doc__
    assert "mode: int = 0o600" in talc.Heap.create_shm.__doc__
