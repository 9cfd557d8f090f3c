"""Measures the Python package (not run in CI):

1. allocate/free pairs per second through talc.Heap, for 64 B, 4 KiB, 64 KiB and 1 MiB,
   against multiprocessing.shared_memory.SharedMemory create + close + unlink of the same
   sizes: the standard library's way to get shared bytes from Python;
2. numpy arrays exchanged between two Python processes through a ring in the heap (the
   producer fills each array in place, the consumer sums it in place and frees it), in
   arrays/s and MB/s, with both ends polling (try_push / try_pop in a loop) and with both
   waiting (push / pop, asleep on the ring's futex), and the consumer's CPU time for each;
3. numpy arrays passed from one Python process to another per second, 4 KiB, 64 KiB and
   1 MiB, three ways side by side: through the ring (waiting ends, the figures of 2.); a
   multiprocessing.shared_memory.SharedMemory per array (the producer creates a segment,
   fills the array in it and sends its name over a multiprocessing pipe; the consumer
   attaches by name, sums the array in place, closes and unlinks it); and a
   multiprocessing.Queue (the producer puts the array, pickled and copied; the consumer gets
   it and sums it);
4. the CPU time a consumer uses while it waits one second on an empty ring, polling and
   waiting.

Every producer is a process of its own, spawned; the clock starts at the first array
received; the consumer checks a checksum of every array's values; each way's count of
arrays is sized, after shorter runs, so that its measured run lasts about `--seconds`.

    PYTHONPATH=build/release/python python3 python/bench.py [--seconds S]
"""

import argparse
import itertools
import multiprocessing
import os
import platform
import time
from multiprocessing import shared_memory

import numpy as np

import talc

SIZES = (64, 4 << 10, 64 << 10, 1 << 20)
ARRAY_SIZES = (4 << 10, 64 << 10, 1 << 20)
HEAP_SIZE = 512 << 20
LEAD = 1024  # arrays a producer may be ahead by, every way: the ring's capacity
SPAWN = multiprocessing.get_context("spawn")
_streams = itertools.count()  # a ring of its own name for every stream


def rate(fn, seconds: float) -> float:
    """Calls fn() in batches for about `seconds`; returns calls per second."""
    calls, batch = 0, 16
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(batch):
            fn()
        calls += batch
        batch = min(batch * 2, 4096)
    return calls / elapsed


def pairs(heap: talc.Heap, size: int, seconds: float) -> tuple[float, float]:
    def talc_pair():
        heap.allocate(size).free()

    def shm_pair():
        s = shared_memory.SharedMemory(create=True, size=size)
        s.close()
        s.unlink()

    return rate(talc_pair, seconds), rate(shm_pair, seconds)


def sized(measure, seconds: float, pilot: int = 200):
    """Runs measure(count), whose result starts with arrays/s, on more arrays each time until
    a run lasts at least 0.9 `seconds`, aiming at 1.1 `seconds`; returns that run's result."""
    count = pilot
    while True:
        result = measure(count)
        elapsed = count / result[0]
        if elapsed >= 0.9 * seconds:
            return result
        count = max(count + 1, int(count * min(50.0, 1.1 * seconds / elapsed)))


def checksum_of(size: int, count: int) -> float:
    """The sum of every array's values when array k holds k in each of its float64s."""
    return float(sum(range(count)) * (size // 8))


def producer(name: str, ring_name: str, size: int, count: int, polling: bool) -> None:
    with talc.Heap.open_shm(name) as heap:
        ring = heap.ring(ring_name)
        for k in range(count):
            while True:
                try:
                    block = heap.allocate(size)
                    break
                except talc.OutOfMemoryError:  # the consumer is behind: the ring holds the heap
                    time.sleep(0)
            arr = np.frombuffer(block, dtype=np.float64)
            arr.fill(k)
            del arr
            if polling:
                while not ring.try_push(block):
                    pass
            else:
                ring.push(block)
        ring.close()


def exchange(name: str, heap: talc.Heap, size: int, count: int,
             polling: bool) -> tuple[float, float, float]:
    """arrays/s, MB/s, and the consumer's CPU microseconds per array."""
    ring_name = f"bench-{size}-{'poll' if polling else 'wait'}-{next(_streams)}"
    ring = heap.ring(ring_name)
    child = SPAWN.Process(
        target=producer, args=(name, ring_name, size, count, polling))
    child.start()
    pop = ring.try_pop if polling else ring.pop

    def take():
        while (item := pop()) is None:  # try_pop: empty; pop waits, and gives None at the end
            pass
        return item

    item = take()  # the clock starts at the first array: not the spawn
    start, cpu, checksum = time.perf_counter(), time.process_time(), 0.0
    for k in range(count):
        if k:
            item = take()
        block = heap.block(*item)
        arr = np.frombuffer(block, dtype=np.float64)
        checksum += float(arr.sum())  # reads every byte, in place
        del arr
        block.free()
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    if not polling:
        assert ring.pop() is None  # the producer closed: the end of the stream
    child.join()
    assert checksum == checksum_of(size, count), "an array came back wrong"
    return count / seconds, count * size / seconds / 1e6, cpu / count * 1e6


def shm_producer(names, credits, size: int, count: int) -> None:
    """A SharedMemory per array: creates it, fills the array in it, sends its name, closes."""
    for k in range(count):
        credits.acquire()  # at most LEAD segments not yet unlinked by the consumer
        segment = shared_memory.SharedMemory(create=True, size=size)
        arr = np.ndarray((size // 8,), dtype=np.float64, buffer=segment.buf)
        arr.fill(k)
        del arr
        names.send(segment.name)
        segment.close()
    names.close()


def shm_exchange(size: int, count: int) -> tuple[float]:
    """arrays/s through a SharedMemory per array, its name sent over a pipe: the consumer
    attaches by name, sums the array in place, closes and unlinks the segment."""
    names, sender = SPAWN.Pipe(duplex=False)
    credits = SPAWN.Semaphore(LEAD)
    child = SPAWN.Process(target=shm_producer, args=(sender, credits, size, count))
    child.start()
    sender.close()
    checksum = 0.0
    for k in range(count):
        name = names.recv()
        if not k:
            start = time.perf_counter()  # the clock starts at the first array: not the spawn
        segment = shared_memory.SharedMemory(name=name)
        arr = np.ndarray((size // 8,), dtype=np.float64, buffer=segment.buf)
        checksum += float(arr.sum())
        del arr
        segment.close()
        segment.unlink()
        credits.release()
    seconds = time.perf_counter() - start
    child.join()
    assert child.exitcode == 0, f"the SharedMemory producer ended with {child.exitcode}"
    assert checksum == checksum_of(size, count), "an array came back wrong"
    return (count / seconds,)


def queue_producer(queue, size: int, count: int) -> None:
    """A multiprocessing.Queue: puts each array, which the queue pickles (a copy)."""
    for k in range(count):
        queue.put(np.full(size // 8, k, dtype=np.float64))


def queue_exchange(size: int, count: int) -> tuple[float]:
    """arrays/s through a multiprocessing.Queue: the consumer gets each array and sums it."""
    queue = SPAWN.Queue(maxsize=LEAD)
    child = SPAWN.Process(target=queue_producer, args=(queue, size, count))
    child.start()
    checksum = 0.0
    for k in range(count):
        arr = queue.get(timeout=60)  # raises queue.Empty if the producer died
        if not k:
            start = time.perf_counter()  # the clock starts at the first array: not the spawn
        assert arr.shape == (size // 8,), "an array came back wrong"
        checksum += float(arr.sum())
    seconds = time.perf_counter() - start
    child.join()
    assert child.exitcode == 0, f"the Queue producer ended with {child.exitcode}"
    assert checksum == checksum_of(size, count), "an array came back wrong"
    return (count / seconds,)


def idle_cpu(heap: talc.Heap, seconds: float) -> tuple[float, float]:
    """CPU seconds a consumer uses waiting `seconds` on an empty ring: polling, then waiting."""
    ring = heap.ring("idle")
    cpu, end = time.process_time(), time.monotonic() + seconds
    while time.monotonic() < end:
        assert ring.try_pop() is None
    polling = time.process_time() - cpu
    cpu = time.process_time()
    try:
        ring.pop(timeout=seconds)
    except TimeoutError:
        pass
    return polling, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    args = parser.parse_args()
    name = f"/talc-bench-{os.getpid()}"
    print(f"Python {platform.python_version()}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    try:
        with talc.Heap.create_shm(name, HEAP_SIZE) as heap:
            print("\nallocate + free pairs per second")
            print(f"{'size':>8} {'talc.Heap':>12} {'SharedMemory':>14} {'ratio':>8}")
            for size in SIZES:
                t, s = pairs(heap, size, args.seconds)
                print(f"{size:>8} {t:>12,.0f} {s:>14,.0f} {t / s:>7.0f}x")
            print("\nnumpy arrays through the ring, producer process -> consumer process")
            print(f"{'size':>8} {'ends':>6} {'arrays/s':>12} {'MB/s':>10} "
                  f"{'consumer CPU/array':>19}")
            ring_rates = {}  # arrays/s with waiting ends, for the table of three ways
            for size in ARRAY_SIZES:
                for polling in (True, False):
                    a, mb, cpu = sized(
                        lambda n: exchange(name, heap, size, n, polling), args.seconds)
                    ends = "poll" if polling else "wait"
                    print(f"{size:>8} {ends:>6} {a:>12,.0f} {mb:>10,.0f} {cpu:>16.1f} us")
                ring_rates[size] = a  # the waiting ends' run, the last
            print("\nnumpy arrays/s, producer process -> consumer process, three ways")
            print(f"{'size':>8} {'talc ring':>10} {'SharedMemory per array':>23} "
                  f"{'multiprocessing.Queue':>22}  ratios (ring/SharedMemory, ring/Queue)")
            for size in ARRAY_SIZES:
                (shm,) = sized(lambda n: shm_exchange(size, n), args.seconds)
                (queue,) = sized(lambda n: queue_exchange(size, n), args.seconds)
                ring = ring_rates[size]
                print(f"{size:>8} {ring:>10,.0f} {shm:>23,.0f} {queue:>22,.0f}  "
                      f"{ring / shm:>6.1f}x {ring / queue:>6.1f}x")
            print("\nCPU seconds of a consumer on an empty ring for 1 s")
            polling, waiting = idle_cpu(heap, 1.0)
            print(f"polling (try_pop): {polling:.3f} s; waiting (pop): {waiting:.4f} s")
            heap.trim()
            heap.check()
    finally:
        talc.remove_shm(name)


if __name__ == "__main__":
    main()
