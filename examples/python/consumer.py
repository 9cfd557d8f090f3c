"""Consumer half of the numpy-over-a-ring example (see producer.py): reads each array in place,
checks it, frees its block until the producer closes the ring, and removes the heap's name at
the end, whatever happened."""

import sys
import time

import numpy as np

import talc
from producer import HEAP_SIZE, PATIENCE


def main(name: str, count: int, patience: float = PATIENCE) -> int:
    try:
        with talc.Heap.open_or_create_shm(name, HEAP_SIZE) as heap:
            ring = heap.ring("arrays")
            start, k, total = time.perf_counter(), 0, 0
            # Asleep while the ring is empty; None once the producer closed it and every array
            # it sent was taken.
            while (item := ring.pop(timeout=patience)) is not None:
                block = heap.block(*item)  # refused unless it is a live block that long
                arr = np.frombuffer(block, dtype=np.float64)  # in place, no copy
                assert arr[0] == k and arr[-1] == k + arr.size - 1
                total += arr.nbytes
                del arr
                block.free()
                k += 1
            seconds = time.perf_counter() - start
            heap.check()
            print(f"consumer: {k} arrays, {total / 1e6:.1f} MB in {seconds:.2f} s "
                  f"({k / seconds:,.0f} arrays/s)")
            return 0 if k == count else 1
    except TimeoutError:
        print(f"consumer: no array for {patience:g} s: is the producer running?")
        return 1
    except BrokenPipeError as e:
        print(f"consumer: {e}")
        return 1
    finally:
        talc.remove_shm(name)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:4])))
