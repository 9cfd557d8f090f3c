"""A C program that loads libtalc.so at run time (dlopen, every call by dlsym, as an FFI would)
and exchanges blocks with this Python process through one heap in shared memory."""

import os
import subprocess

import pytest

import talc
from conftest import unique_name

PEER = os.environ.get("TALC_C_DLOPEN")
LIB = os.environ.get("TALC_LIBTALC")
pytestmark = pytest.mark.skipif(
    not (PEER and LIB), reason="TALC_C_DLOPEN and TALC_LIBTALC name the program and the library "
    "(ctest sets them)")


def test_a_program_that_dlopens_libtalc_answers_a_python_block():
    name = unique_name()
    try:
        with talc.Heap.create_shm(name, 1 << 20) as heap:
            ping = b"ping from python"
            block = heap.named("from-python", len(ping))
            memoryview(block)[:] = ping
            r = subprocess.run([PEER, LIB, "--exchange", name], capture_output=True, text=True,
                               timeout=60)
            assert r.returncode == 0, r.stderr
            answer = heap.find("from-c")
            assert bytes(memoryview(answer)) == b"pong: " + ping
            heap.destroy("from-c")
            heap.destroy("from-python")
            heap.check()
    finally:
        talc.remove_shm(name)
