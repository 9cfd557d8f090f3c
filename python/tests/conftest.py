"""Fixtures shared by the Python package's tests: unique shared memory names and heaps."""

import itertools
import os
import pathlib

import pytest

import talc

_counter = itertools.count()

# tests/programs/python_install.sh runs these tests against the copy pip installed in a virtual
# environment and names that environment here: a module found elsewhere would prove nothing.
_installed_in = os.environ.get("TALC_EXPECT_INSTALLED_IN")
if _installed_in and not pathlib.Path(talc.__file__).resolve().is_relative_to(
        pathlib.Path(_installed_in).resolve()):
    raise pytest.UsageError(f"talc was imported from {talc.__file__}, not from {_installed_in}")


def unique_name(tag: str = "py") -> str:
    """A shared memory name no other test (or run) uses at the same time."""
    return f"/talc-test-{tag}-{os.getpid()}-{next(_counter)}"


@pytest.fixture
def shm_name():
    name = unique_name()
    yield name
    talc.remove_shm(name)


@pytest.fixture
def heap(shm_name):
    with talc.Heap.create_shm(shm_name, 16 << 20) as h:
        yield h


def live_state(heap: talc.Heap) -> tuple:
    """What a refused request must leave as it was: the live, free and cached blocks."""
    s = heap.stats()
    return tuple(s[k] for k in ("live_allocations", "live_bytes", "free_bytes", "free_chunks",
                                "cached_blocks", "cached_bytes"))
