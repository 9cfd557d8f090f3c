// Layer 4 — what the core heap counts and reports: its counters, the figures built from them,
// a walk's census and check()'s verdict. Plain data, shared by the core heap, the synchronised
// heap, the face and the tool.
#pragma once

#include <cstdint>

#include "talc/errors.hpp"

namespace talc {

// The first inconsistency check() found, or ok. `what` is a static string; `offset` is from
// the heap base (the TalcMeta's address).
struct CheckReport {
  Errc code = Errc::ok;
  std::uint64_t offset = 0;
  const char* what = "consistent";
  std::uint64_t detail = 0;  // a value that disagreed (a size, a bin), when there is one

  bool ok() const noexcept { return code == Errc::ok; }
};

// What the operations count as they go, under the lock (see HeapStats for their meaning).
// The live and free figures follow from the chunks: check() proves them (I7), and roll_back
// gives them back the values of the last commit (see TalcMeta::commit). The operation counts are
// bumped just before an operation commits, so a death can lose at most the one operation it
// interrupted.
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
};

// A heap's figures at one instant, for people and monitoring. Every byte of the span is in
// exactly one of live_bytes, free_bytes and overhead_bytes.
struct HeapStats {
  std::uint64_t span_bytes = 0;  // the region the heap manages, metadata included
  std::uint64_t live_allocations = 0;
  std::uint64_t live_bytes = 0;  // usable bytes of the live blocks
  std::uint64_t free_bytes = 0;  // bytes of the free chunks (one tag each is not usable)
  std::uint64_t free_chunks = 0;
  std::uint64_t largest_free = 0;     // bytes of the largest free chunk
  std::uint64_t overhead_bytes = 0;   // metadata, padding, sentinel and one tag per live block
  std::uint64_t peak_live_bytes = 0;  // the most usable bytes ever live at once
  std::uint64_t allocations = 0;
  std::uint64_t deallocations = 0;
  std::uint64_t reallocations = 0;
  std::uint64_t failures = 0;
  std::uint64_t growths = 0;
  // Kept by the synchronised layer (TalckMeta); the core heap alone leaves them 0.
  std::uint64_t recoveries = 0;
  std::uint64_t rollbacks = 0;

  // How scattered the free space is: 0 when it is one chunk (or there is none), towards 1 as
  // it splits into many small ones. The share of free bytes that the largest single request
  // could not use.
  double fragmentation() const noexcept {
    return free_bytes == 0
               ? 0.0
               : 1.0 - static_cast<double>(largest_free) / static_cast<double>(free_bytes);
  }
};

// What a walk of the chunks finds; only meaningful on a heap that passes check().
struct Census {
  std::uint64_t live_chunks = 0;
  std::uint64_t live_bytes = 0;  // chunk bytes of allocated chunks, tags included
  std::uint64_t free_chunks = 0;
  std::uint64_t free_bytes = 0;
  std::uint64_t largest_free = 0;
};

}  // namespace talc
