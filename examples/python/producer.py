"""Producer half of the numpy-over-a-ring example: numpy arrays passed by offset between two
Python processes that share one heap. Start consumer.py beside it (either one first):

    PYTHONPATH=build/release/python python3 examples/python/producer.py /talc-arrays 10000 &
    PYTHONPATH=build/release/python python3 examples/python/consumer.py /talc-arrays 10000

Each array is a block of the heap: the producer fills it in place, pushes its offset and size
through a ring in the heap, and forgets it; the consumer reads it in place and frees it. No byte
is copied between the processes.
"""

import sys

import numpy as np

import talc

HEAP_SIZE = 64 << 20


def main(name: str, count: int) -> None:
    with talc.Heap.open_or_create_shm(name, HEAP_SIZE) as heap:
        ring = heap.ring("arrays")
        for k in range(count):
            n = 1000 + k % 1000  # float64 elements; the consumer learns n from the block's size
            block = heap.allocate(n * 8)
            arr = np.frombuffer(block, dtype=np.float64)
            arr[:] = np.arange(n) + k  # array k starts at k
            del arr  # no view may outlive the hand-over
            while not ring.push(block):
                pass  # full: the consumer is behind
        print(f"producer: sent {count} arrays")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
