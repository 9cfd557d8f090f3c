// Checks that the lane and page tests share: the heap's account of every byte, and another
// process that holds the heap's lock, to prove that a path never takes it.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include "support/process.hpp"
#include "talc/talc.hpp"

namespace talc_test {

// Every byte of the span is live, free, cached or overhead, and check() agrees.
inline void ExpectAccounted(talc::MapTalc<>& heap) {
  const talc::HeapStats s = heap.stats();
  EXPECT_EQ(s.live_bytes + s.free_bytes + s.cached_bytes + s.overhead_bytes, s.span_bytes);
  const talc::CheckReport rep = heap.check();
  EXPECT_TRUE(rep.ok()) << rep.what << " at " << rep.offset << " (" << rep.detail << ")";
}

// Another process that takes the heap's lock, says so through `holding`, and keeps the lock
// until `done`.
inline pid_t HoldTheLock(talc::MapTalc<>& heap, Signal& holding, Signal& done) {
  return Spawn([&] {
    if (heap.heap().lock().lock() != talc::LockOutcome::acquired) return 1;
    holding.Notify();
    done.Await();
    heap.heap().lock().unlock();
    return 0;
  });
}

}  // namespace talc_test
