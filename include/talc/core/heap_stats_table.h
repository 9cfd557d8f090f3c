/* Layer 4 — the fields of a heap's statistics, listed once.
 *
 * talc::HeapStats (heap_stats.hpp), C's talc_stats (talc.h), the tool's `info --json` and the
 * Python package's Heap.stats() are all made from this list, in its order: a new figure is one
 * row here. A row is X(name), a count of 64 bits. Plain C preprocessor, because talc.h includes
 * it too. Every byte of the span is in exactly one of live_bytes, free_bytes, cached_bytes and
 * overhead_bytes.
 */
#ifndef TALC_CORE_HEAP_STATS_TABLE_H
#define TALC_CORE_HEAP_STATS_TABLE_H

/* clang-format off */
#define TALC_HEAP_STATS(X)                                                                         \
  /* The region the heap manages, metadata included. */                                            \
  X(span_bytes)                                                                                    \
  X(live_allocations)                                                                              \
  /* Usable bytes of the live blocks. */                                                           \
  X(live_bytes)                                                                                    \
  /* Bytes of the free chunks (one tag each is not usable). */                                     \
  X(free_bytes)                                                                                    \
  X(free_chunks)                                                                                   \
  /* Bytes of the largest free chunk. */                                                           \
  X(largest_free)                                                                                  \
  /* Metadata, padding, sentinel, the lane and page tables, the pages' headers and unused tails,  \
   * one tag per live block. */                                                                    \
  X(overhead_bytes)                                                                                \
  /* The free blocks of the lanes' pages (pages/page_table.hpp), given back or never handed out:  \
   * free to users, allocated to the central heap as part of a page. The bytes are whole chunks.   \
   * Read without stopping the lanes, so exact only when no thread is handing out or giving back   \
   * a block. */                                                                                   \
  X(cached_blocks)                                                                                 \
  X(cached_bytes)                                                                                  \
  /* Lanes the heap has (0: built without), and how many of them a thread holds. */                \
  X(lanes)                                                                                         \
  X(lanes_owned)                                                                                   \
  /* The most usable bytes users held at once from the central heap. The heap's own tables never  \
   * count (a fresh heap's peak is 0); a page counts whole while it is made, since its blocks are  \
   * handed out and given back without the lock, where no exact sum of them is kept. */            \
  X(peak_live_bytes)                                                                               \
  /* Operations of the central heap: with lanes, a page made counts one allocation and a page     \
   * given back one deallocation, and a block a page hands out or takes back counts nothing. */    \
  X(allocations)                                                                                   \
  X(deallocations)                                                                                 \
  X(reallocations)                                                                                 \
  /* Requests the central heap refused for want of memory. A page's block that cannot grow in      \
   * place (try_grow past its class) is refused by its page, without the lock, and not counted. */ \
  X(failures)                                                                                      \
  X(growths)                                                                                       \
  /* Kept by the synchronised layer (TalckMeta); the core heap alone leaves them 0. Locks taken    \
   * from a dead holder, the heap found consistent, and of those, the ones that rolled a half-done \
   * operation back. */                                                                            \
  X(recoveries)                                                                                    \
  X(rollbacks)
/* clang-format on */

#endif /* TALC_CORE_HEAP_STATS_TABLE_H */
