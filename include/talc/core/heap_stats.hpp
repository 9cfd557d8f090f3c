// Layer 4 — what the core heap counts and reports: its counters, the figures built from them,
// a walk's census and check()'s verdict. Plain data, shared by the core heap, the synchronised
// heap, the face and the tool.
#pragma once

#include <cstdint>

#include "talc/core/errors.hpp"
#include "talc/core/heap_stats_table.h"

namespace talc {

/// The first inconsistency check() found, or ok. `what` is a static string; `offset` is from
/// the heap base (the TalcMeta's address).
struct CheckReport {
  Errc code = Errc::ok;
  std::uint64_t offset = 0;
  const char* what = "consistent";
  std::uint64_t detail = 0;  // a value that disagreed (a size, a bin), when there is one

  bool ok() const noexcept { return code == Errc::ok; }
};

/// What the operations count as they go, under the lock (heap_stats_table.h says what they mean).
/// The live and free figures follow from the chunks: check() proves them (I7), and roll_back
/// gives them back the values of the last commit (see TalcMeta::commit). The operation counts are
/// bumped just before an operation commits, so a death can lose at most the one operation it
/// interrupted.
struct HeapCounters {
  std::uint64_t live_chunks = 0;
  std::uint64_t live_bytes = 0;  // chunk bytes of allocated chunks, tags included
  std::uint64_t free_chunks = 0;
  std::uint64_t peak_live_bytes = 0;  // usable bytes, like HeapStats'
  std::uint64_t allocations = 0;
  std::uint64_t deallocations = 0;
  std::uint64_t reallocations = 0;
  std::uint64_t failures = 0;  // requests refused for want of memory
  std::uint64_t growths = 0;
  // The live chunks the layers above keep for themselves as the heap is built (the lane and page
  // tables): no user's, so not in the peak.
  std::uint64_t own_chunks = 0;
  std::uint64_t own_bytes = 0;
};

/// A heap's figures at one instant, for people and monitoring: the fields of heap_stats_table.h,
/// which says what each means.
struct HeapStats {
#define TALC_HEAP_STATS_FIELD(name) std::uint64_t name = 0;
  TALC_HEAP_STATS(TALC_HEAP_STATS_FIELD)
#undef TALC_HEAP_STATS_FIELD

  /// How scattered the free space is: 0 when it is one chunk (or there is none), towards 1 as
  /// it splits into many small ones. The share of free bytes that the largest single request
  /// could not use.
  double fragmentation() const noexcept {
    return free_bytes == 0
               ? 0.0
               : 1.0 - static_cast<double>(largest_free) / static_cast<double>(free_bytes);
  }
};

/// What a walk of the chunks finds; only meaningful on a heap that passes check(). Through the
/// face, the pages and the two tables are taken out of the live figures, the blocks users hold
/// in pages put in, and the pages' free blocks counted as cached.
struct Census {
  std::uint64_t live_chunks = 0;
  std::uint64_t live_bytes = 0;  // chunk bytes of allocated chunks, tags included
  std::uint64_t free_chunks = 0;
  std::uint64_t free_bytes = 0;
  std::uint64_t largest_free = 0;
  std::uint64_t cached_chunks = 0;
  std::uint64_t cached_bytes = 0;
};

}  // namespace talc
