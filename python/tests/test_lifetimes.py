"""Ways pure Python code could reach freed or unmapped bytes: a second Block of a freed or
destroyed block, a named block freed by offset, a view taken while another thread moves a block
or closes the heap. Each scenario runs in a child interpreter, since a failure there may be a
segmentation fault."""

import os
import subprocess
import sys
import textwrap

import talc

HERE = os.path.dirname(os.path.abspath(__file__))


def run(body: str) -> subprocess.CompletedProcess:
    code = textwrap.dedent("""
        import sys, threading, time, talc
        from conftest import unique_name
        name = unique_name("lifetimes")
        try:
        """) + textwrap.indent(textwrap.dedent(body), "    ") + textwrap.dedent("""
        finally:
            talc.remove_shm(name)
        """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.run([sys.executable, "-c", code], cwd=HERE, env=env, capture_output=True,
                          text=True, timeout=120)


def test_a_second_block_of_a_freed_offset_gives_no_view_into_free_memory():
    r = run("""
        h = talc.Heap.create_shm(name, 16 << 20)
        keep = h.allocate(100_000)
        block = h.allocate(100_000)
        twin = h.block(block.offset)
        block.free()
        try:
            memoryview(twin)[:] = b"\\xff" * twin.size
        except talc.Error as e:
            assert e.errc == "not_allocated"
        h.check()
        """)
    assert r.returncode == 0, r.stderr[-2000:]


def test_a_destroyed_named_block_gives_no_view_into_free_memory():
    r = run("""
        h = talc.Heap.create_shm(name, 16 << 20)
        keep = h.allocate(100_000)
        block = h.named("cfg", 100_000)
        after = h.allocate(100_000)
        h.destroy("cfg")
        try:
            memoryview(block)[:] = b"\\xff" * block.size
        except talc.Error as e:
            assert e.errc == "not_allocated"
        h.check()
        """)
    assert r.returncode == 0, r.stderr[-2000:]


def test_a_named_block_is_freed_only_by_destroy():
    # While this process holds a Block of it from named() or find().
    r = run("""
        h = talc.Heap.create_shm(name, 16 << 20)
        block = h.named("cfg", 4096)
        try:
            h.block(block.offset).free()
        except (ValueError, talc.Error):
            pass
        assert h.find("cfg").offset == block.offset
        """)
    assert r.returncode == 0, r.stderr[-2000:]


def test_a_view_opened_while_another_thread_reallocates_does_not_outlive_the_move():
    # The move runs without the GIL: a view may not open over the place it leaves.
    r = run("""
        sys.setswitchinterval(1e-6)
        h = talc.Heap.create_shm(name, 512 << 20)
        for attempt in range(20):
            b = h.allocate(32 << 20)
            wall = h.allocate(64)  # growing must move
            started = threading.Event()
            def grow():
                started.set()
                h.reallocate(b, 96 << 20)
            t = threading.Thread(target=grow)
            old = b.offset
            t.start(); started.wait()
            v = None
            while t.is_alive():
                try:
                    v = memoryview(b); at = b.offset; break
                except (BufferError, talc.Error):
                    pass
            t.join()
            if v is not None:
                assert not (at == old and b.offset != old), "a view over the freed old place"
                del v
            h.free(b); h.free(wall)
        h.check()
        h.close()  # every view was counted and given back on the block it was opened on
        """)
    assert r.returncode == 0, r.stderr[-2000:]


def test_a_view_opened_while_close_waits_does_not_outlive_the_mapping():
    # close() waits, without the GIL, for a call in flight: no view may open meanwhile.
    r = run("""
        h = talc.Heap.create_shm(name, 600 << 20)
        b = h.allocate(64)
        busy = threading.Thread(target=lambda: h.allocate(512 << 20, zeroed=True))
        closer = threading.Thread(target=h.close)
        busy.start(); time.sleep(0.002)
        closer.start(); time.sleep(0.002)
        try:
            v = memoryview(b)
        except (ValueError, BufferError):
            v = None
        busy.join(); closer.join()
        if v is not None:
            assert not h.closed, "a view over an unmapped region"
            v[0] = 1
        """)
    assert r.returncode == 0, f"rc {r.returncode}: {r.stderr[-2000:]}"


def test_a_block_freed_through_another_handle_and_given_out_smaller_is_not_seen_wider():
    # Two Heaps of one region stand for two processes: a Block this one keeps of a block the
    # other frees says nothing of the smaller block the heap gives out there next.
    r = run("""
        h1 = talc.Heap.create_shm(name, 16 << 20)
        h2 = talc.Heap.open_shm(name)
        keep = h1.allocate(100_000)
        a = h1.allocate(100_000)
        tail = h1.allocate(100_000)
        stale = h2.block(a.offset)
        h1.free(a)
        n = h1.allocate(8192)  # larger than any page's block: the core reuses a's chunk
        assert n.offset == stale.offset
        fresh = h2.block(n.offset, 8192)
        assert fresh.size <= 8192 + 64, fresh.size
        memoryview(fresh)[:] = b"\\xff" * fresh.size
        h1.check()
        """)
    assert r.returncode == 0, r.stderr[-2000:]


def test_an_adoption_racing_a_free_in_another_thread_never_gives_a_live_block():
    # The adoption's look at the heap runs without the GIL; the free in the other thread may
    # finish in between. A thread that holds the GIL in turns shuffles who takes it back first.
    r = run("""
        sys.setswitchinterval(1e-4)
        h = talc.Heap.create_shm(name, 64 << 20)
        stop = []
        def hog():
            while not stop:
                pass
        threading.Thread(target=hog, daemon=True).start()
        for i in range(300):
            keep = h.allocate(100_000)
            b = h.allocate(100_000)
            off = b.offset
            got = []
            go = threading.Barrier(2)
            def adopt():
                go.wait()
                try:
                    got.append(h.block(off))
                except (talc.Error, BufferError):
                    pass
            t = threading.Thread(target=adopt)
            t.start()
            go.wait()
            b.free()
            t.join()
            assert not (got and got[0].live), f"a live Block over a freed block, attempt {i}"
            keep.free()
        stop.append(1)
        h.check()
        """)
    assert r.returncode == 0, r.stderr[-2000:]


def test_the_interpreter_exits_cleanly_with_daemon_threads_inside_calls(tmp_path):
    # Daemon threads inside talc calls as the interpreter finalises are ended by CPython as they
    # take the GIL back; that must not abort the process, nor leave the heap inconsistent.
    path = str(tmp_path / "heap")
    talc.Heap.create_file(path, 16 << 20).close()
    for _ in range(5):
        r = run(f"""
            h = talc.Heap.open_file({path!r})
            def work():
                while True:
                    h.stats()
                    h.allocate(64).free()
            for _ in range(4):
                threading.Thread(target=work, daemon=True).start()
            time.sleep(0.1)
            """)
        assert r.returncode == 0, r.stderr
    with talc.Heap.open_file(path) as h:
        h.check()
