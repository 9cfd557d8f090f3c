"""A ring's waiting calls from Python: bounds, wake-ups across threads and processes, the end of
the stream, a peer killed while the other end waits, and a waiting call that uses no CPU."""

import contextlib
import multiprocessing
import os
import signal
import threading
import time

import pytest

import talc
import workers

spawn = multiprocessing.get_context("spawn")

# How late a wait may end on a machine that runs other work: the scheduler's delays, not ours.
SLACK = 1.0


def timed(call):
    """(what call() returned or raised, seconds it took)."""
    start = time.monotonic()
    try:
        result = call()
    except Exception as e:  # noqa: BLE001 - the caller checks what it was
        result = e
    return result, time.monotonic() - start


def fill(heap, ring):
    """Fills the ring with small blocks; returns them (the consumer's now)."""
    offsets = []
    while True:
        block = heap.allocate(16)
        offset = block.offset
        if not ring.try_push(block):
            block.free()
            return offsets
        offsets.append(offset)


def drain(heap, ring):
    while (item := ring.try_pop()) is not None:
        heap.block(*item).free()


def test_a_pop_waits_at_most_its_timeout(heap):
    ring = heap.ring("r")
    for timeout in (0.05, 0.3):
        err, took = timed(lambda: ring.pop(timeout=timeout))
        assert isinstance(err, TimeoutError) and err.errc == "timed_out"
        assert timeout <= took < timeout + SLACK
    # Longer than one slice of the wait without the GIL: still one wait, ending on time.
    err, took = timed(lambda: ring.pop(timeout=0.25))
    assert isinstance(err, TimeoutError) and 0.25 <= took < 0.25 + SLACK


def test_a_push_on_a_full_ring_waits_at_most_its_timeout_and_keeps_the_block(heap):
    ring = heap.ring("r")
    fill(heap, ring)
    assert len(ring) == talc.RING_CAPACITY
    block = heap.allocate(64)
    err, took = timed(lambda: ring.push(block, timeout=0.2))
    assert isinstance(err, TimeoutError) and 0.2 <= took < 0.2 + SLACK
    assert block.live  # still the caller's
    block.free()
    drain(heap, ring)


def test_zero_timeout_polls_and_none_waits_without_bound(heap):
    ring = heap.ring("r")
    err, took = timed(lambda: ring.pop(timeout=0))
    assert isinstance(err, TimeoutError) and took < 0.1
    assert ring.try_pop() is None
    with pytest.raises(ValueError):
        ring.pop(timeout=-1)
    with pytest.raises(ValueError):
        ring.pop(timeout=float("nan"))

    def later():
        time.sleep(0.2)
        heap.ring("r").push(heap.allocate(32))

    t = threading.Thread(target=later)
    t.start()
    (offset, size), took = timed(lambda: ring.pop(timeout=None))
    t.join()
    assert size == 32 and 0.15 < took < 0.2 + SLACK
    heap.block(offset, size).free()


def test_a_waiting_pop_releases_the_gil_and_is_woken_by_a_push(heap):
    ring = heap.ring("r")
    got = []
    consumer = threading.Thread(target=lambda: got.append(ring.pop(timeout=30)))
    consumer.start()
    time.sleep(0.2)  # the consumer waits; this thread runs Python meanwhile
    block = heap.allocate(48)
    offset = block.offset
    ring.push(block, timeout=0)
    consumer.join(timeout=10)
    assert got == [(offset, 48)]
    heap.block(offset, 48).free()


def test_a_waiting_consumer_uses_no_cpu(heap):
    ring = heap.ring("r")
    before = time.process_time()
    with pytest.raises(TimeoutError):
        ring.pop(timeout=1.0)
    cpu = time.process_time() - before
    assert cpu < 0.05, f"a second's wait used {cpu:.3f} s of CPU: it spins"


def test_the_end_of_the_stream_ends_iteration_after_every_block(heap):
    ring = heap.ring("r")
    sent = []
    for i in range(10):
        block = heap.allocate(16 + i)
        sent.append((block.offset, block.size))
        ring.push(block)
    ring.close()  # this Ring pushed: the producer's end
    received = list(ring)
    assert received == sent
    assert ring.pop(timeout=None) is None  # still the end, at once
    for item in received:
        heap.block(*item).free()
    # A push opens the producer's end again.
    ring.push(heap.allocate(16))
    assert ring.pop(timeout=0) is not None


def test_a_close_wakes_a_waiting_consumer(heap):
    ring = heap.ring("r")
    got = []
    consumer = threading.Thread(target=lambda: got.append(timed(lambda: ring.pop(timeout=30))))
    consumer.start()
    time.sleep(0.2)
    heap.ring("r").close("producer")
    consumer.join(timeout=10)
    assert got and got[0][0] is None and got[0][1] < 0.2 + SLACK


def test_a_closed_consumer_refuses_pushes_and_the_block_stays(heap):
    ring = heap.ring("r")
    ring.close("consumer")
    block = heap.allocate(16)
    with pytest.raises(BrokenPipeError) as e:
        ring.push(block)
    assert e.value.errc == "ring_closed" and block.live
    assert ring.try_push(block)  # the polling form keeps its meaning
    drain(heap, ring)


def test_close_names_its_end(heap):
    ring = heap.ring("r")
    with pytest.raises(ValueError):
        ring.close()  # it pushed and popped nothing: which end?
    with pytest.raises(ValueError):
        ring.close("sideways")
    ring.close("consumer")
    ring.close("producer")


@contextlib.contextmanager
def hanging_child(shm_name, target):
    """A spawned child that runs target(shm_name, "r", ready), and is killed in the end."""
    ready = spawn.Event()
    child = spawn.Process(target=target, args=(shm_name, "r", ready))
    child.start()
    try:
        assert ready.wait(30)
        yield child
    finally:
        child.kill()
        child.join()


def killed_during(child, wait):
    """What wait() gave while `child` was killed 0.2 s into it, and the seconds it took."""
    threading.Timer(0.2, os.kill, (child.pid, signal.SIGKILL)).start()
    err, took = timed(wait)
    assert isinstance(err, BrokenPipeError) and err.errc == "peer_gone", err
    return took


def test_a_killed_producer_is_told_to_a_waiting_consumer(heap, shm_name):
    ring = heap.ring("r")
    with hanging_child(shm_name, workers.push_then_hang) as child:
        heap.block(*ring.pop(timeout=10)).free()  # its block comes first
        assert killed_during(child, lambda: ring.pop(timeout=30)) < 0.2 + SLACK
    heap.trim()
    heap.check()


def test_a_killed_consumer_is_told_to_a_waiting_producer(heap, shm_name):
    ring = heap.ring("r")
    with hanging_child(shm_name, workers.attach_consumer_then_hang) as child:
        fill(heap, ring)
        block = heap.allocate(64)
        assert killed_during(child, lambda: ring.push(block, timeout=30)) < 0.2 + SLACK
        assert block.live  # still the caller's
        block.free()
    drain(heap, ring)
    heap.check()


def test_a_signal_interrupts_a_wait_without_bound(heap):
    class Alarm(Exception):
        pass

    def on_alarm(signum, frame):
        raise Alarm

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        err, took = timed(lambda: heap.ring("r").pop(timeout=None))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert isinstance(err, Alarm) and took < 0.2 + SLACK


def test_closing_the_heap_ends_a_wait_in_another_thread(shm_name):
    heap = talc.Heap.create_shm(shm_name, 1 << 20)
    ring = heap.ring("r")
    got = []
    waiter = threading.Thread(target=lambda: got.append(timed(lambda: ring.pop(timeout=None))))
    waiter.start()
    time.sleep(0.2)
    heap.close()
    waiter.join(timeout=10)
    assert got and isinstance(got[0][0], ValueError) and got[0][1] < 0.2 + SLACK
