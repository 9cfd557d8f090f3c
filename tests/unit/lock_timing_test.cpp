// The lock share's measurement (RegionLock with TALC_LOCK_TIMING, which talc_bench's lockshare
// preset builds): each acquisition counted, the outermost of nested holds timed, and the share a
// worker computes from them close to the time it really held a lock. Built from the library's
// sources with the option on (tests/CMakeLists.txt), since a hold is timed in inline code.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <thread>

#include "talc/sync/region_lock.hpp"

namespace {

using talc::LockOutcome;
using talc::RegionLock;

static_assert(RegionLock::kTimesHolds, "this program is built with TALC_LOCK_TIMING");

TEST(LockTiming, EveryAcquisitionIsCountedAndNestedHoldsTimedOnce) {
  RegionLock a, b;
  a.init();
  b.init();
  const std::uint64_t taken = RegionLock::taken_by_this_thread();
  const std::uint64_t held = RegionLock::held_ticks_by_this_thread();
  ASSERT_EQ(a.lock(), LockOutcome::acquired);
  ASSERT_EQ(b.lock(), LockOutcome::acquired);
  const std::uint64_t t0 = RegionLock::ticks();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  b.unlock();
  EXPECT_EQ(RegionLock::held_ticks_by_this_thread(), held) << "the outer hold goes on";
  a.unlock();
  const std::uint64_t t1 = RegionLock::ticks();
  EXPECT_EQ(RegionLock::taken_by_this_thread(), taken + 2);
  const std::uint64_t timed = RegionLock::held_ticks_by_this_thread() - held;
  EXPECT_GE(timed, t1 - t0 - (t1 - t0) / 10);  // the sleep, once
  EXPECT_LE(timed, 2 * (t1 - t0));
}

// Half of a worker's time under the lock reads as a share of about one half.
TEST(LockTiming, AShareIsTheTimeHeldOverTheWorkersTime) {
  RegionLock lock;
  lock.init();
  const std::uint64_t own0 = RegionLock::ticks();
  const std::uint64_t held0 = RegionLock::held_ticks_by_this_thread();
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(lock.lock(), LockOutcome::acquired);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const double share = static_cast<double>(RegionLock::held_ticks_by_this_thread() - held0) /
                       static_cast<double>(RegionLock::ticks() - own0);
  EXPECT_GT(share, 0.3);
  EXPECT_LT(share, 0.7);
}

}  // namespace
