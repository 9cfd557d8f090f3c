"""Separate interpreters (multiprocessing's spawn) on one heap: blocks passed by offset, read in
place by numpy, freed by another process; a worker killed with SIGKILL mid-way."""

import multiprocessing
import os
import signal
import time

import numpy as np

import talc
import workers

spawn = multiprocessing.get_context("spawn")


def test_children_fill_blocks_the_parent_reads_in_place_and_frees(heap, shm_name):
    before = heap.stats()["live_allocations"]
    results = spawn.Queue()
    children = [spawn.Process(target=workers.fill_and_report, args=(shm_name, tag, 40, results))
                for tag in range(3)]
    for c in children:
        c.start()
    sent = [item for _ in children for item in results.get(timeout=30)]
    for c in children:
        c.join(timeout=30)
        assert c.exitcode == 0
    assert len(sent) == 120 and len({offset for _, _, offset, _ in sent}) == 120
    assert heap.stats()["live_allocations"] == before + 120
    for tag, i, offset, size in sent:
        block = heap.block(offset, size)
        arr = np.frombuffer(block, dtype=np.uint32)
        assert np.array_equal(arr, workers.pattern(tag, i, size))
        del arr
        block.free()
    heap.trim()  # the empty pages of the children's lanes, and of any a dead one held
    heap.check()
    assert heap.stats()["live_allocations"] == before


def test_a_child_hands_arrays_over_through_the_ring(heap, shm_name):
    ring = heap.ring("arrays")
    before = heap.stats()["live_allocations"]
    child = spawn.Process(target=workers.fill_into_ring, args=(shm_name, "arrays", 9, 3000))
    child.start()
    got = 0
    try:
        for offset, size in ring:  # waits for each; ends when the child closes the ring
            block = heap.block(offset, size)
            arr = np.frombuffer(block, dtype=np.uint32)
            assert np.array_equal(arr, workers.pattern(9, got, size))
            del arr
            block.free()
            got += 1
        child.join(timeout=60)
    finally:
        if child.is_alive():
            child.kill()
    assert got == 3000 and child.exitcode == 0 and len(ring) == 0
    heap.trim()
    heap.check()
    assert heap.stats()["live_allocations"] == before


def test_a_killed_worker_leaves_the_heap_consistent_for_the_others(heap, shm_name):
    mine = [heap.allocate(1000 + 100 * i) for i in range(30)]
    for i, block in enumerate(mine):
        np.frombuffer(block, dtype=np.uint8)[:] = i
    before = heap.stats()["live_allocations"]
    hold = 16
    stop = spawn.RawValue("b", 0)  # lock-free: see workers.churn
    progress = [spawn.RawValue("q", seed) for seed in (1, 2)]
    victims = [spawn.Process(target=workers.churn, args=(shm_name, p, stop, hold))
               for p in progress]
    for v in victims:
        v.start()
    deadline = time.monotonic() + 60
    while min(p.value for p in progress) < 3000 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(victims[0].pid, signal.SIGKILL)  # while it loops, maybe inside the heap's lock
    victims[0].join(timeout=10)
    assert victims[0].exitcode == -signal.SIGKILL

    # The survivors keep allocating: the other worker, and this process.
    survivor_then = progress[1].value
    extra = [heap.allocate(512) for _ in range(200)]
    deadline = time.monotonic() + 60  # a wait of its own: the first may have used its time
    while progress[1].value < survivor_then + 2000 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert progress[1].value >= survivor_then + 2000
    heap.check()
    stop.value = 1
    victims[1].join(timeout=30)
    assert victims[1].exitcode == 0

    for block in extra:
        block.free()
    for i, block in enumerate(mine):
        assert np.all(np.frombuffer(block, dtype=np.uint8) == i)
    heap.trim()  # gives back the empty pages of the dead worker's lane
    heap.check()
    # Only what the dead worker held (at most hold + 1 blocks) may still be live.
    lost = heap.stats()["live_allocations"] - before
    assert 0 <= lost <= hold + 1
    for block in mine:
        block.free()
    heap.check()
    assert heap.stats()["live_allocations"] == before - len(mine) + lost
    assert heap.allocate(1 << 20).size == 1 << 20  # room enough still
