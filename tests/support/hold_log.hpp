// What a lock holder and a waiter in other processes write down in the heap they share, for the
// tests of liveness that fails safe (multiprocess/fail_safe_test.cpp and the test worker's
// wait-lock mode): when the holder let go, when the waiter got in, and whether either found a
// byte of the shared block it did not write. Published as the heap's root.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>

#include "talc/talc.hpp"

namespace talc_test {

struct HoldLog {
  static constexpr std::size_t kBlock = 4096;
  std::uint64_t block = 0;                // the shared block's offset in the region
  std::atomic<std::int64_t> released{0};  // the holder's unlock, steady-clock nanoseconds
  std::atomic<std::int64_t> entered{0};   // the waiter's entry
  std::atomic<int> holder_saw_other{0};   // the holder found a byte it did not write
};

inline std::int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A waiter's part: under the heap's lock, notes its entry, then writes its own pattern over
// the block and reads it back. The Errc the lock gave, or Errc::corrupted for a torn pattern.
inline talc::Errc EnterAndWrite(talc::Talc<>& heap, HoldLog& log) {
  bool torn = false;
  const talc::Errc e = heap.with_lock([&](auto&) {
    log.entered = SteadyNanos();
    auto* p = static_cast<unsigned char*>(heap.address_of(log.block));
    std::memset(p, 'B', HoldLog::kBlock);
    for (std::size_t i = 0; i < HoldLog::kBlock; ++i) torn |= p[i] != 'B';
  });
  return torn ? talc::Errc::corrupted : e;
}

}  // namespace talc_test
