"""Producer half of the numpy-over-a-ring example: numpy arrays passed by offset between two
Python processes that share one heap. Start consumer.py beside it (either one first):

    PYTHONPATH=build/release/python python3 examples/python/producer.py /talc-arrays 10000 &
    PYTHONPATH=build/release/python python3 examples/python/consumer.py /talc-arrays 10000

Each array is a block of the heap: the producer fills it in place, pushes its offset and size
through a ring in the heap, and forgets it; the consumer reads it in place and frees it. No byte
is copied between the processes. Both sides wait on the ring, asleep, rather than spin: the
producer while the ring is full, the consumer while it is empty. The producer closes the ring
after its last array, which ends the consumer's loop; either side alone gives up after
PATIENCE seconds without the other (a third argument sets it), and then removes the heap's name.
"""

import sys

import numpy as np

import talc

HEAP_SIZE = 64 << 20
PATIENCE = 10.0  # seconds without the other side before giving up


def main(name: str, count: int, patience: float = PATIENCE) -> int:
    with talc.Heap.open_or_create_shm(name, HEAP_SIZE) as heap:
        ring = heap.ring("arrays")
        for k in range(count):
            n = 1000 + k % 1000  # float64 elements; the consumer learns n from the block's size
            block = heap.allocate(n * 8)
            arr = np.frombuffer(block, dtype=np.float64)
            arr[:] = np.arange(n) + k  # array k starts at k
            del arr  # no view may outlive the hand-over
            try:
                ring.push(block, timeout=patience)  # asleep while the ring is full
            except (TimeoutError, BrokenPipeError) as e:
                print(f"producer: array {k} not taken: {e}")
                talc.remove_shm(name)  # no consumer will: it is gone or never came
                return 1
        ring.close()  # the end of the stream: the consumer's loop ends once it took every array
        print(f"producer: sent {count} arrays")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:4])))
