"""A C++ program (cpp_peer.cpp) and Python exchange blocks through a ring, both ways."""

import os

import pytest

import peers

PEER = os.environ.get("TALC_CPP_PEER")
pytestmark = pytest.mark.skipif(not PEER, reason="TALC_CPP_PEER names the C++ peer (ctest sets it)")

COUNT = 500


def test_python_reads_and_frees_what_cpp_filled(heap, shm_name):
    out = peers.receive(heap, heap.ring("to-python"),
                        [PEER, shm_name, "produce", "to-python", str(COUNT), "4096"], COUNT,
                        lambda i: 4096)
    assert out == f"produced {COUNT}"


def test_cpp_verifies_and_frees_what_python_filled(heap, shm_name):
    out = peers.send(heap, heap.ring("to-cpp"), [PEER, shm_name, "consume", "to-cpp", str(COUNT)],
                     COUNT, lambda i: 4 * (1 + (i * 13) % 2000))
    assert out == f"verified {COUNT}"
