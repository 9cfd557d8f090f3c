"""Consumer half of the numpy-over-a-ring example (see producer.py): reads each array in place,
checks it, frees its block, and removes the heap's name at the end."""

import sys
import time

import numpy as np

import talc
from producer import HEAP_SIZE


def main(name: str, count: int) -> None:
    with talc.Heap.open_or_create_shm(name, HEAP_SIZE) as heap:
        ring = heap.ring("arrays")
        start, total = time.perf_counter(), 0
        for k in range(count):
            while (item := ring.pop()) is None:
                pass  # empty: the producer is behind
            block = heap.block(*item)  # refused unless it is a live block that long
            arr = np.frombuffer(block, dtype=np.float64)  # in place, no copy
            assert arr[0] == k and arr[-1] == k + arr.size - 1
            total += arr.nbytes
            del arr
            block.free()
        seconds = time.perf_counter() - start
        heap.check()
        print(f"consumer: {count} arrays, {total / 1e6:.1f} MB in {seconds:.2f} s "
              f"({count / seconds:,.0f} arrays/s)")
    talc.remove_shm(name)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
