"""What the spawned processes of test_processes.py run: each opens the heap by name itself."""

import random
import time

import numpy as np

import talc


def pattern(tag: int, i: int, size: int) -> np.ndarray:
    """The bytes block i of process `tag` holds, as 32-bit words."""
    return (np.arange(size // 4, dtype=np.uint32) + np.uint32(tag * 100_000 + i * 1000))


def fill_and_report(name: str, tag: int, count: int, results) -> None:
    """Allocates `count` blocks, fills them and sends (tag, i, offset, size) for each."""
    with talc.Heap.open_shm(name) as heap:
        sent = []
        for i in range(count):
            size = 64 * (1 + (i * 37 + tag) % 200)
            block = heap.allocate(size)
            np.frombuffer(block, dtype=np.uint32)[:] = pattern(tag, i, size)
            sent.append((tag, i, block.offset, block.size))
        results.put(sent)


def fill_into_ring(name: str, ring_name: str, tag: int, count: int) -> None:
    """Allocates and fills `count` blocks, handing each over through the ring, then closes it."""
    with talc.Heap.open_shm(name) as heap:
        ring = heap.ring(ring_name)
        for i in range(count):
            size = 4 * (1 + i % 300)
            block = heap.allocate(size)
            arr = np.frombuffer(block, dtype=np.uint32)
            arr[:] = pattern(tag, i, size)
            del arr
            ring.push(block, timeout=30)  # waits while the consumer is behind
        ring.close()


def push_then_hang(name: str, ring_name: str, ready) -> None:
    """Pushes one block (and so is the ring's producer), says so, and waits to be killed."""
    with talc.Heap.open_shm(name) as heap:
        heap.ring(ring_name).push(heap.allocate(16), timeout=10)
        ready.set()
        time.sleep(600)


def attach_consumer_then_hang(name: str, ring_name: str, ready) -> None:
    """Becomes the ring's consumer (a pop of an empty ring), says so, and waits to be killed."""
    with talc.Heap.open_shm(name) as heap:
        assert heap.ring(ring_name).try_pop() is None
        ready.set()
        time.sleep(600)


def churn(name: str, progress, stop, hold: int) -> None:
    """Allocates, fills, verifies and frees blocks until `stop` is set, holding at most `hold`.

    `stop` and `progress` are lock-free shared words (RawValue): a worker killed while it held
    the lock of a shared Event or Value would leave that lock held, and every other worker
    blocked on it for ever, which is multiprocessing's limit, not the heap's."""
    rng = random.Random(progress.value)
    with talc.Heap.open_shm(name) as heap:
        held = []
        while not stop.value:
            size = rng.choice((16, 48, 200, 1000, 5000, 70_000))
            block = heap.allocate(size)
            memoryview(block)[:8] = size.to_bytes(8, "little")
            held.append(block)
            if len(held) > hold:
                old = held.pop(0)
                assert int.from_bytes(memoryview(old)[:8], "little") == old.size
                old.free()
            progress.value += 1  # this worker alone writes it
        for block in held:
            block.free()


def mark_named(name: str, block_name: str, tag: int) -> None:
    """Finds (or makes) the named block and writes tag + 1 into its word `tag`."""
    with talc.Heap.open_shm(name) as heap:
        words = np.frombuffer(heap.named(block_name, 64), dtype=np.uint64)
        words[tag] = tag + 1
        del words  # the heap closes only once no buffer over its blocks is held


def read_named_array(name: str, array: str, results) -> None:
    """Sends back the named array's dtype, shape and values, then doubles them in place."""
    with talc.Heap.open_shm(name) as heap:
        arr = heap.find_ndarray(array)
        results.put((arr.dtype.str, arr.shape, arr.tolist()))
        arr *= 2
        del arr


def use_pickled(heap, block, results) -> None:
    """Receives a Heap and a Block pickled by the parent: reads the block, writes a named array."""
    view = np.frombuffer(block, dtype=np.uint8)
    results.put((type(heap).__name__, bytes(view[:5])))
    view[:5] = np.frombuffer(b"child", dtype=np.uint8)
    del view
    heap.named_ndarray("from-child", (4,), np.int32)[:] = [1, 2, 3, 4]
