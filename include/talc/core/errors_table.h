/* Layer 4 — every refusal talc can give, listed once.
 *
 * The C++ enum talc::Errc with its names and texts (errors.hpp, errors.cpp) and C's talc_errc
 * (talc.h) are made from this table, so they cannot disagree. Plain C preprocessor, because
 * talc.h includes it too.
 *
 * A row is X(name, NAME, value, text): the C++ enumerator, the C one after "TALC_", the value,
 * and what describe() and talc_strerror() say. The values are an ABI that C programs and the
 * other languages' bindings share: a new code takes the next free value, and no value ever
 * changes or is reused. Two rows of one value do not compile (errors.cpp switches over them).
 */
#ifndef TALC_CORE_ERRORS_TABLE_H
#define TALC_CORE_ERRORS_TABLE_H

/* clang-format off */
#define TALC_ERRORS(X)                                                                             \
  X(ok, OK, 0, "success")                                                                          \
  /* The buffer to claim is null. */                                                               \
  X(null_region, NULL_REGION, 1, "the region is null")                                             \
  /* It cannot hold the metadata and one chunk. */                                                 \
  X(region_too_small, REGION_TOO_SMALL, 2, "the region is too small for a heap")                   \
  X(region_too_large, REGION_TOO_LARGE, 3, "the region is larger than heap offsets can describe")  \
  /* 0 included (the C API reads an alignment of 0 as 16, the heap's granule). */                  \
  X(bad_alignment, BAD_ALIGNMENT, 4, "the alignment is not a power of two")                        \
  /* A power of two above kMaxAlign, or above what the face keeps aligned in every process. */     \
  X(alignment_too_large, ALIGNMENT_TOO_LARGE, 5, "the alignment is larger than the heap supports") \
  /* A size whose chunk would not fit in the offset range (in C, also 0 for a named block). */     \
  X(size_overflow, SIZE_OVERFLOW, 6, "the requested size is larger than any heap can hold")        \
  /* Even after growing the region, where it may grow. */                                          \
  X(out_of_memory, OUT_OF_MEMORY, 7, "no free chunk is large enough")                              \
  /* deallocate(nullptr) and friends: a null pointer or handle where a block was needed. */        \
  X(null_pointer, NULL_POINTER, 8, "the pointer is null")                                          \
  /* A pointer outside this heap, or not at a block's start. */                                    \
  X(foreign_pointer, FOREIGN_POINTER, 9, "the pointer is not the start of a block of this heap")   \
  /* A block that is already free. */                                                              \
  X(not_allocated, NOT_ALLOCATED, 10, "the block is not allocated (double free?)")                 \
  /* The heap's metadata contradicts itself. */                                                    \
  X(corrupted, CORRUPTED, 11, "the heap's metadata is inconsistent")                               \
  /* ---- Opening a region: the header's refusals ---- */                                          \
  /* The region's first bytes are not a talc header. */                                            \
  X(not_a_heap, NOT_A_HEAP, 12, "the region does not hold a talc heap")                            \
  X(version_mismatch, VERSION_MISMATCH, 13, "the heap has another format version")                 \
  /* Another bin configuration, word size or byte order. */                                        \
  X(config_mismatch, CONFIG_MISMATCH, 14, "the heap was built with another configuration")         \
  /* The region is smaller than its header says. */                                                \
  X(region_truncated, REGION_TRUNCATED, 15, "the region is smaller than the heap it holds")        \
  /* Asked to create a heap where one exists. */                                                   \
  X(already_initialised, ALREADY_INITIALISED, 16, "the region already holds a heap")               \
  /* Asked to open a heap where none was (or is yet) built. */                                     \
  X(not_initialised, NOT_INITIALISED, 17, "the region holds no heap yet")                          \
  X(init_abandoned, INIT_ABANDONED, 18, "the process building the heap died before finishing")     \
  X(init_timeout, INIT_TIMEOUT, 19, "the heap was still being built when the wait ran out")        \
  /* ---- Named objects (named blocks in C) ---- */                                                \
  X(not_found, NOT_FOUND, 20, "no object of that name")                                            \
  /* construct() of a name that exists (find_or_construct() would find it). */                     \
  X(already_exists, ALREADY_EXISTS, 21, "an object of that name already exists")                   \
  /* In C: the name holds a typed C++ object, not a block of bytes. */                             \
  X(type_mismatch, TYPE_MISMATCH, 22, "the named object has another type")                         \
  /* The name holds an object of this type but another size (in C, size or alignment). */          \
  X(size_mismatch, SIZE_MISMATCH, 23, "the named object has another size")                         \
  X(empty_name, EMPTY_NAME, 24, "the name is empty")                                               \
  /* Longer than 88 bytes. */                                                                      \
  X(name_too_long, NAME_TOO_LONG, 25, "the name is longer than the directory stores")              \
  X(directory_reentered, DIRECTORY_REENTERED, 26,                                                  \
    "the directory was called from a constructor or destructor it runs")                           \
  /* ---- Locks in the region, and the atomic calls ---- */                                        \
  X(lock_damaged, LOCK_DAMAGED, 27,                                                                \
    "a lock word in the region holds a value no holder writes (see talc repair)")                  \
  X(lock_timeout, LOCK_TIMEOUT, 28, "another live process held the lock past the wait's bound")    \
  /* allocate_into on a word that already names a block. */                                        \
  X(slot_occupied, SLOT_OCCUPIED, 29, "the slot already names a block")                            \
  X(namespace_mismatch, NAMESPACE_MISMATCH, 30,                                                    \
    "the heap was built in another PID or time namespace, whose process ids mean "                 \
    "other processes")                                                                             \
  /* This process cannot read its own start time (/proc/self/stat): another process could not */ \
  /* tell it from a later one given its pid, so it takes no lock, lane or build (a later call */  \
  /* reads again). */                                                                            \
  X(identity_unknown, IDENTITY_UNKNOWN, 31,                                                        \
    "this process cannot read /proc/self/stat, so no other process could tell it from a later "   \
    "one with its pid: it takes no lock")                                                          \
  /* ---- Rings (OffsetRing's blocking calls, talc_ring_* in C) ---- */                            \
  /* The ring stayed full (push) or empty (pop) until the caller's bound, its peer alive. */       \
  X(timed_out, TIMED_OUT, 32, "the wait reached its bound before the ring had room or a block")    \
  /* The other end's process died: a push found no room, or a pop an empty ring. */                \
  X(peer_gone, PEER_GONE, 33, "the process at the other end of the ring died")                     \
  /* The other end closed: the consumer reads no more (push), or the producer sent all it */       \
  /* will and the ring is empty (pop: the end of the stream). */                                   \
  X(ring_closed, RING_CLOSED, 34, "the other end of the ring closed it")
/* clang-format on */

#endif /* TALC_CORE_ERRORS_TABLE_H */
