/* Layer 8, for C: the shared heap as a C11 program (or Rust, Go, Zig through their C interop)
 * calls it.
 *
 * The same heap as the C++ face (talc/face/talc.hpp), behind an opaque handle: a C program opens a
 * region that C++ or Python programs created, or the other way round, and they exchange blocks
 * in place by offset. Every call returns a talc_errc (TALC_OK, or the reason of a refusal, which
 * changes nothing); no C++ exception ever crosses this header. The library is C++, so a C
 * program links it with the C++ runtime: `pkg-config --cflags --libs talc-c` says how.
 *
 * Offsets are from the region's base: the same block in every process, whatever address each
 * maps the region at. A pointer is this process's only. A block's handle that came from another
 * process is checked before use with talc_adopt (it must name the start of a live block).
 *
 * Threads: a talc_heap may be used by every thread of its process at once. A child made by fork
 * must open the region again rather than use its parent's handle.
 */
#ifndef TALC_TALC_H
#define TALC_TALC_H

#include <stddef.h>
#include <stdint.h>

#include "talc/core/errors_table.h"
#include "talc/core/heap_stats_table.h"

#ifdef __cplusplus
#define TALC_NOEXCEPT noexcept /* to C++ callers: nothing is thrown */
extern "C" {
#else
#define TALC_NOEXCEPT
#endif

/* On the calls whose result says whether their out-parameter was written (or the block is still
 * the caller's): ignoring it is a warning where the compiler can say so. */
#if defined(__cplusplus) || (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 202311L)
#define TALC_NODISCARD [[nodiscard]]
#elif defined(__GNUC__)
#define TALC_NODISCARD __attribute__((warn_unused_result))
#else
#define TALC_NODISCARD
#endif

/** Why a call was refused: TALC_OK, or TALC_<NAME> for a row X(name, NAME, ...) of
 * talc/core/errors_table.h, which explains each (the C++ talc::Errc, value for value), or C's own
 * TALC_OS_ERROR. talc_strerror() gives the text. */
#ifdef __cplusplus
/** Four bytes, as C's enum is here, and any value of them one C++ may hold too. */
typedef enum talc_errc : int {
#else
typedef enum talc_errc {
#endif
#define TALC_ERRC_ENUMERATOR(name, NAME, value, text) TALC_##NAME = value,
  TALC_ERRORS(TALC_ERRC_ENUMERATOR)
#undef TALC_ERRC_ENUMERATOR
  /* An operating-system call failed (a missing shm name, a permission, a full disk):
   * talc_last_os_error() gives its errno, talc_last_error_message() the call and object. */
  TALC_OS_ERROR = 64
} talc_errc;

/** The version of this header, which is the project's (CMake's project(talc VERSION ...); the
 * library's build refuses a header that disagrees). talc_version() gives the library's as
 * "MAJOR.MINOR.PATCH": a program loading a shared libtalc compares the two. */
#define TALC_VERSION_MAJOR 0
#define TALC_VERSION_MINOR 1
#define TALC_VERSION_PATCH 0

/** The null offset: no block. */
#define TALC_NULL_OFFSET UINT64_MAX

typedef struct talc_heap talc_heap;

/** How a heap is opened or built. Zero in a field means its default, so a zeroed struct (or one
 * written `{.max_size = ...}`) asks for the defaults, as a null options pointer does.
 * talc_options_init() zeroes one: call it first if fields may be added later. */
typedef struct talc_options {
  size_t max_size;       /* a builder's: the size the region may grow to (0: it never grows) */
  unsigned mode;         /* a creator's permission bits (0: 0600) */
  int no_lanes;          /* a builder's: nonzero builds no lanes (per-thread pages) */
  unsigned wait_ms;      /* for another process still building the heap (0: 2000) */
  unsigned lock_wait_ms; /* for a live holder of the heap's lock, per call (0: 10000) */
} talc_options;

void talc_options_init(talc_options* options) TALC_NOEXCEPT;

/** Opening. Each sets *heap on success (and leaves it alone on a refusal). A shm name starts with
 * '/'. `size` is the region's first size in bytes. talc_open_fd maps a descriptor it duplicates
 * (a memfd received over a socket, say): the caller keeps its own. */
TALC_NODISCARD talc_errc talc_create_shm(const char* name, size_t size, const talc_options* options,
                                         talc_heap** heap) TALC_NOEXCEPT;
TALC_NODISCARD talc_errc talc_open_shm(const char* name, const talc_options* options,
                                       talc_heap** heap) TALC_NOEXCEPT;
TALC_NODISCARD talc_errc talc_open_or_create_shm(const char* name, size_t size,
                                                 const talc_options* options,
                                                 talc_heap** heap) TALC_NOEXCEPT;
TALC_NODISCARD talc_errc talc_create_file(const char* path, size_t size,
                                          const talc_options* options,
                                          talc_heap** heap) TALC_NOEXCEPT;
TALC_NODISCARD talc_errc talc_open_file(const char* path, const talc_options* options,
                                        talc_heap** heap) TALC_NOEXCEPT;
TALC_NODISCARD talc_errc talc_open_or_create_file(const char* path, size_t size,
                                                  const talc_options* options,
                                                  talc_heap** heap) TALC_NOEXCEPT;
TALC_NODISCARD talc_errc talc_open_fd(int fd, const talc_options* options,
                                      talc_heap** heap) TALC_NOEXCEPT;
/** Removes a shm name (the heap lives on for those that have it open). TALC_OS_ERROR with
 * ENOENT when there is no such name. */
talc_errc talc_remove_shm(const char* name) TALC_NOEXCEPT;
/** Unmaps the heap; the handle is gone. Null is allowed. Blocks stay in the heap. */
void talc_close(talc_heap* heap) TALC_NOEXCEPT;

/** Blocks. `align` is a power of two (0 means 16, the heap's granule). *out is set on success
 * only. talc_reallocate keeps the first min(old, size) bytes, in place or moved; on a refusal
 * the block is untouched and still the caller's. Unlike free and realloc, a null block is
 * refused (TALC_NULL_POINTER) by every call here. */
TALC_NODISCARD talc_errc talc_allocate(talc_heap* heap, size_t size, size_t align,
                                       void** out) TALC_NOEXCEPT;
TALC_NODISCARD talc_errc talc_allocate_zeroed(talc_heap* heap, size_t size, size_t align,
                                              void** out) TALC_NOEXCEPT;
talc_errc talc_free(talc_heap* heap, void* block) TALC_NOEXCEPT;
TALC_NODISCARD talc_errc talc_reallocate(talc_heap* heap, void* block, size_t size, size_t align,
                                         void** out) TALC_NOEXCEPT;
/** The bytes the block may use (at least what was asked for). */
TALC_NODISCARD talc_errc talc_usable_size(talc_heap* heap, const void* block,
                                          size_t* out) TALC_NOEXCEPT;

/** Allocation published atomically: 64-bit word `word` of the live block `owner` receives the
 * new block's offset in the same operation, so a process killed at any instant leaves either no
 * block and the word unchanged, or the block and the word naming it. The word must hold
 * TALC_NULL_OFFSET (else TALC_SLOT_OCCUPIED). talc_deallocate_from frees the block the word
 * names and sets it to TALC_NULL_OFFSET (TALC_NULL_POINTER when it names none);
 * talc_reallocate_from resizes it and rewrites the word when it moves, atomically too. */
TALC_NODISCARD talc_errc talc_allocate_into(talc_heap* heap, void* owner, size_t word, size_t size,
                                            size_t align, void** out) TALC_NOEXCEPT;
talc_errc talc_deallocate_from(talc_heap* heap, void* owner, size_t word) TALC_NOEXCEPT;
TALC_NODISCARD talc_errc talc_reallocate_from(talc_heap* heap, void* owner, size_t word,
                                              size_t size, size_t align, void** out) TALC_NOEXCEPT;

/** Offsets and pointers in this process. talc_offset_of gives TALC_NULL_OFFSET for a pointer
 * outside the region, talc_address_of NULL for an offset outside it; neither checks that a
 * block is there. talc_adopt does: a block another process sent (offset and size), refused
 * unless the offset is the start of a live block at least `size` bytes long. */
uint64_t talc_offset_of(const talc_heap* heap, const void* p) TALC_NOEXCEPT;
void* talc_address_of(const talc_heap* heap, uint64_t offset) TALC_NOEXCEPT;
TALC_NODISCARD talc_errc talc_adopt(talc_heap* heap, uint64_t offset, size_t size,
                                    void** out) TALC_NOEXCEPT;

/** One offset published for every process that opens the heap (a queue, a table), initially
 * TALC_NULL_OFFSET. talc_exchange_root sets it only if it still holds `expected`: 1 if it did. */
uint64_t talc_root(const talc_heap* heap) TALC_NOEXCEPT;
void talc_set_root(talc_heap* heap, uint64_t offset) TALC_NOEXCEPT;
TALC_NODISCARD int talc_exchange_root(talc_heap* heap, uint64_t expected,
                                      uint64_t offset) TALC_NOEXCEPT;

/** Named blocks of bytes, found by name in every process that opens the heap (a NUL-terminated
 * name of at most 88 bytes). find_or_allocate makes the block, zeroed, if the name is free, or
 * finds it (TALC_SIZE_MISMATCH if it was made with another size or alignment); a process killed
 * at any instant leaves the name with its whole block, or neither. find gives the block and its
 * size (`size` may be null); destroy frees it and frees the name. */
TALC_NODISCARD talc_errc talc_named_find_or_allocate(talc_heap* heap, const char* name, size_t size,
                                                     size_t align, void** out) TALC_NOEXCEPT;
TALC_NODISCARD talc_errc talc_named_find(talc_heap* heap, const char* name, void** out,
                                         size_t* size) TALC_NOEXCEPT;
talc_errc talc_named_destroy(talc_heap* heap, const char* name) TALC_NOEXCEPT;

/** What talc_named_each gives for each named block or object: its name, the offset of its block
 * (talc_address_of turns it into this process's pointer), its size and its type key (one key
 * for every byte block of talc_named_find_or_allocate, another for each C++ type that
 * find_or_construct<T> built). Returning nonzero stops the walk. */
typedef int (*talc_named_visit)(const char* name, uint64_t offset, uint64_t size, uint64_t type,
                                void* context);
/** Calls `visit` for every name in the heap, in no particular order, with no lock held: the list
 * is read first, so `visit` may call the heap (a name made or destroyed meanwhile may or may not
 * be seen). */
talc_errc talc_named_each(talc_heap* heap, talc_named_visit visit, void* context) TALC_NOEXCEPT;
/** What a type key of talc_named_each names: "bytes" (talc_named_find_or_allocate), "array"
 * (talc_named_array_make, or Python's Heap.named_ndarray) or "object" (a C++ type). Static. */
const char* talc_named_kind(uint64_t type) TALC_NOEXCEPT;

/** Named arrays: a named block whose header says its element type and shape, so that programs in
 * any language agree on them (Python's Heap.named_ndarray makes and reads the same ones). The
 * header's bytes are drawn in talc/named/array.hpp; a program may read them without this call.
 * talc_named_array_make makes the array, its data zeroed, if the name is free, or finds it
 * (TALC_TYPE_MISMATCH for another type, or a name that is not an array; TALC_SIZE_MISMATCH for
 * another shape). `type` is numpy's dtype.str ("<f8" is a little-endian double, "<i4" an
 * int32_t, "|u1" a uint8_t): 1 to 23 printable characters. talc_named_array finds one whatever
 * its type and shape. A type, item size or shape no array can have (more than
 * TALC_ARRAY_MAX_DIMS dimensions, a size past 64 bits) is TALC_SIZE_OVERFLOW, the message saying
 * which. Both fill *out on success only. A header that is not consistent (a
 * process wrote over it) is refused with TALC_CORRUPTED, and the message says what is wrong.
 * The array is freed with talc_named_destroy. */
#define TALC_ARRAY_MAX_DIMS 32
typedef struct talc_array {
  void* data;                          /* the first element, in this process (aligned to 64) */
  uint64_t data_bytes;                 /* item_size times every extent */
  uint64_t item_size;                  /* the bytes of one element */
  uint32_t ndim;                       /* 0 to TALC_ARRAY_MAX_DIMS (0: one element) */
  char type[24];                       /* NUL-terminated */
  uint64_t shape[TALC_ARRAY_MAX_DIMS]; /* the first ndim, in C order (the last varies fastest) */
} talc_array;
TALC_NODISCARD talc_errc talc_named_array_make(talc_heap* heap, const char* name, const char* type,
                                               size_t item_size, uint32_t ndim,
                                               const uint64_t* shape,
                                               talc_array* out) TALC_NOEXCEPT;
TALC_NODISCARD talc_errc talc_named_array(talc_heap* heap, const char* name,
                                          talc_array* out) TALC_NOEXCEPT;

/** The heap's figures: a uint64_t for each row of talc/core/heap_stats_table.h, in its order,
 * which says what each means. Every byte of the span is in exactly one of live, free, cached
 * (the free blocks of the lanes' pages) and overhead. */
typedef struct talc_stats {
#define TALC_STATS_FIELD(name) uint64_t name;
  TALC_HEAP_STATS(TALC_STATS_FIELD)
#undef TALC_STATS_FIELD
} talc_stats;
TALC_NODISCARD talc_errc talc_get_stats(talc_heap* heap, talc_stats* out) TALC_NOEXCEPT;

/** The full integrity check of the heap and its lanes, under the lock. Returns the verdict;
 * `report`, when not null, receives where and what (a static text). */
typedef struct talc_check_report {
  talc_errc code;
  uint64_t offset;
  const char* what;
} talc_check_report;
TALC_NODISCARD talc_errc talc_check(talc_heap* heap, talc_check_report* report) TALC_NOEXCEPT;
/** Gives back to the heap the pages that hold no block, of the calling thread's lane and of lanes
 * nobody owns (their owners died or gave them back). */
talc_errc talc_trim(talc_heap* heap) TALC_NOEXCEPT;

/** Rings: a single-producer, single-consumer queue of blocks (offset and size) in the heap, found
 * by name in every process that opens it. The same ring as Python's heap.ring(name) and C++'s
 * find_or_construct<talc::NamedRing>(name), so a C program and a Python process talk through one
 * by naming it. A talc_ring is the ring itself, as this process maps it: nothing to free, valid
 * until talc_close of its heap.
 *
 * talc_ring_push and talc_ring_pop wait up to `timeout_ms` milliseconds (0: not at all;
 * TALC_WAIT_FOREVER or any negative value: no bound) for room or for a block, asleep on a futex in
 * the region that the other end wakes; neither spins beyond a few microseconds. Besides TALC_OK
 * they answer TALC_TIMED_OUT (the bound passed), TALC_RING_CLOSED (for a push, the consumer
 * closed; for a pop, the producer closed and every block it pushed was taken: the end of the
 * stream) or TALC_PEER_GONE (the other end's process died: a push's ring full, a pop's empty;
 * a death is seen within TALC_RING_LOOK_MS of it). Each records the calling process as its end,
 * and opens the end again if it was closed. One producer and one consumer at a time: a process
 * that pushes (or pops) takes the place of the one before.
 *
 * A pushed block is the consumer's: it adopts it (talc_adopt) and frees it. On any refusal of
 * talc_ring_push the block stays the caller's. */
typedef struct talc_ring talc_ring;
#define TALC_RING_CAPACITY 1024
#define TALC_WAIT_FOREVER (-1)
#define TALC_RING_LOOK_MS 50
TALC_NODISCARD talc_errc talc_ring_open(talc_heap* heap, const char* name,
                                        talc_ring** ring) TALC_NOEXCEPT;
TALC_NODISCARD talc_errc talc_ring_push(talc_ring* ring, uint64_t offset, uint64_t size,
                                        int64_t timeout_ms) TALC_NOEXCEPT;
TALC_NODISCARD talc_errc talc_ring_pop(talc_ring* ring, int64_t timeout_ms, uint64_t* offset,
                                       uint64_t* size) TALC_NOEXCEPT;
/** An end says it is done: the producer has nothing more to send, the consumer reads no more.
 * The other end's waits learn it at once. */
talc_errc talc_ring_close_producer(talc_ring* ring) TALC_NOEXCEPT;
talc_errc talc_ring_close_consumer(talc_ring* ring) TALC_NOEXCEPT;
/** How many blocks wait in the ring; 0 for a null ring. */
uint64_t talc_ring_length(const talc_ring* ring) TALC_NOEXCEPT;

/** The library's version, "MAJOR.MINOR.PATCH" (static). */
const char* talc_version(void) TALC_NOEXCEPT;

/** Texts: what a code means ("the block is not allocated (double free?)"), and its name as the
 * C++ enumerator spells it ("not_allocated"). Both static; "unknown" for a value that is none. */
const char* talc_strerror(talc_errc code) TALC_NOEXCEPT;
const char* talc_errc_name(talc_errc code) TALC_NOEXCEPT;
/** The outcome of the calling thread's last call that returned a talc_errc. After a refusal:
 * a text that names the call and its object, and for TALC_OS_ERROR the errno (0 otherwise).
 * After a success: "" and 0. So read them right after the refused call, as errno: the next call
 * that returns a talc_errc replaces them, whatever it returns. The calls that return none
 * (talc_close, talc_offset_of, talc_root, the texts, these two...) leave them as they are. The
 * text is the thread's own: its pointer stays valid while the thread lives, its contents until
 * that next call. */
const char* talc_last_error_message(void) TALC_NOEXCEPT;
int talc_last_os_error(void) TALC_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* TALC_TALC_H */
