"""Measures the Python package (not run in CI):

1. allocate/free pairs per second through talc.Heap, for 64 B, 4 KiB, 64 KiB and 1 MiB,
   against multiprocessing.shared_memory.SharedMemory create + close + unlink of the same
   sizes: the standard library's way to get shared bytes from Python;
2. numpy arrays exchanged between two Python processes through a ring in the heap (the
   producer fills each array in place, the consumer sums it in place and frees it), in
   arrays/s and MB/s, with both ends polling (try_push / try_pop in a loop) and with both
   waiting (push / pop, asleep on the ring's futex), and the consumer's CPU time for each;
3. the CPU time a consumer uses while it waits one second on an empty ring, polling and
   waiting.

    PYTHONPATH=build/release/python python3 python/bench.py [--seconds S]
"""

import argparse
import multiprocessing
import os
import platform
import time
from multiprocessing import shared_memory

import numpy as np

import talc

SIZES = (64, 4 << 10, 64 << 10, 1 << 20)
HEAP_SIZE = 512 << 20


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
    ring_name = f"bench-{size}-{'poll' if polling else 'wait'}"  # a stream of its own
    ring = heap.ring(ring_name)
    child = multiprocessing.get_context("spawn").Process(
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
    assert checksum == sum(range(count)) * (size // 8), "an array came back wrong"
    return count / seconds, count * size / seconds / 1e6, cpu / count * 1e6


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
            for size, count in ((4 << 10, 100_000), (64 << 10, 40_000), (1 << 20, 4_000)):
                for polling in (True, False):
                    a, mb, cpu = exchange(name, heap, size, count, polling)
                    ends = "poll" if polling else "wait"
                    print(f"{size:>8} {ends:>6} {a:>12,.0f} {mb:>10,.0f} {cpu:>16.1f} us")
            print("\nCPU seconds of a consumer on an empty ring for 1 s")
            polling, waiting = idle_cpu(heap, 1.0)
            print(f"polling (try_pop): {polling:.3f} s; waiting (pop): {waiting:.4f} s")
            heap.trim()
            heap.check()
    finally:
        talc.remove_shm(name)


if __name__ == "__main__":
    main()
