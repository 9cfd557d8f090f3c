// The RegionLock's slow path over the futex, and the identity a holder writes.
//
// The futex is the word's 32 bits that hold the pid and the waiters bit: a change of holder or
// of the bit changes them, which is what a sleeper must notice. Waits are futex.hpp's shared
// sleeps, of one slice each.
#include "talc/sync/region_lock.hpp"

#include <pthread.h>

#include <algorithm>

#include "talc/sync/futex.hpp"
#include "talc/sync/process.hpp"

namespace talc {

std::atomic<std::uint64_t> RegionLock::self_{0};

namespace {

// How long a sleeper sleeps before it looks again for itself: the most a lost wake-up costs,
// and how often a waiter verifies a holder that keeps the lock. The first slice is short, so
// that a dead holder is found soon; the verification's system calls are then paid only by a
// waiter whose holder kept the lock that long, which a live holder rarely does.
constexpr std::chrono::microseconds kFirstSlice{250};
constexpr std::chrono::microseconds kSlice{2000};
// Tries before sleeping: a holder's critical section is a few hundred nanoseconds.
constexpr int kSpins = 64;

// A child of fork is another process: it computes its own identity at its first lock.
void forget_identity() noexcept {
  RegionLock::forget_self_after_fork();
}
[[maybe_unused]] const int registered = ::pthread_atfork(nullptr, nullptr, forget_identity);

}  // namespace

bool RegionLock::holder_dead(std::uint64_t w) noexcept {
  const auto pid = static_cast<std::uint32_t>(w & kPidMask);
  const auto tag = static_cast<std::uint32_t>(w >> 32);
  // This process (another of its threads holds it). A word with our pid and another tag is a
  // previous process that had our pid: dead.
  if ((w & ~kWaiters) == self()) return false;
  const std::uint32_t now = process_tag(pid);
  if (now == kTagGone) return true;
  if (now == kTagUnknown || tag == kTagUnknown) return false;
  return now != tag;
}

void RegionLock::forget_self_after_fork() noexcept {
  self_.store(0, std::memory_order_relaxed);
}

std::uint64_t RegionLock::compute_self() noexcept {
  const std::uint32_t pid = current_process_id();
  const std::uint64_t w = (std::uint64_t{process_tag(pid)} << 32) | pid;
  if (has_identity(w)) self_.store(w, std::memory_order_relaxed);  // a failure is not kept
  return w;
}

void RegionLock::wake() noexcept {
  futex_wake(futex_word(word_), 1);
}

LockOutcome RegionLock::lock_slow(std::chrono::milliseconds bound) noexcept {
  using Clock = std::chrono::steady_clock;
  const std::uint64_t me = self();
  const auto start = Clock::now();
  const auto deadline =
      bound >= std::chrono::hours(24 * 365) ? Clock::time_point::max() : start + bound;
  // The holder being waited for, and since when: one that is still there a whole slice later
  // is verified, however the sleeps in between ended (a signal, a wake-up for someone else).
  std::uint64_t holder = 0;
  Clock::time_point holder_since{}, verified{};
  bool slept = false, looked = false;
  // Whether to verify the holder now: it outlasted a slice, and was not verified in the last.
  // The first verification is due after the first slice (a holder is seldom there that long),
  // the later ones a slice apart.
  auto due = [&](Clock::time_point now) {
    const auto slice = looked ? Clock::duration(kSlice) : Clock::duration(kFirstSlice);
    if (now - holder_since < slice || now - verified < slice) return false;
    verified = now;
    looked = true;
    return true;
  };
  // One compare-and-swap decides who repairs: nobody else writes a dead holder's word.
  auto take_from_dead = [&](std::uint64_t& w) {
    return word_.compare_exchange_strong(w, me | (w & kWaiters), std::memory_order_acquire,
                                         std::memory_order_relaxed);
  };
  for (int tries = 0;; ++tries) {
    std::uint64_t w = word_.load(std::memory_order_relaxed);
    const std::uint64_t v = w & ~kWaiters;
    if (v == 0) {
      // Free. One that slept may have fellow sleepers: it keeps the bit, so that its unlock
      // wakes the next.
      const std::uint64_t mine = me | (slept ? kWaiters : w & kWaiters);
      if (word_.compare_exchange_weak(w, mine, std::memory_order_acquire,
                                      std::memory_order_relaxed))
        return LockOutcome::acquired;
      continue;
    }
    if (!plausible(w)) return LockOutcome::damaged;
    if (v != holder) {
      holder = v;
      holder_since = Clock::now();
    }
    if (v == kAbandoned || (tries >= kSpins && due(Clock::now()) && holder_dead(v))) {
      if (take_from_dead(w)) return LockOutcome::owner_died;
      continue;
    }
    if (tries < kSpins) {
      cpu_relax();
      continue;
    }
    const auto now = Clock::now();
    if (now >= deadline) {
      // A bound that ended before the first verification was due (a bound of 0, say) still
      // looks once: it means "do not wait for a live holder", not "never look", and a dead
      // holder must not keep every such caller out.
      if (!looked) {
        looked = true;
        if (holder_dead(v)) {
          if (take_from_dead(w)) return LockOutcome::owner_died;
          continue;
        }
      }
      return LockOutcome::timed_out;
    }
    if ((w & kWaiters) == 0 &&
        !word_.compare_exchange_weak(w, w | kWaiters, std::memory_order_relaxed,
                                     std::memory_order_relaxed))
      continue;
    const FutexSleep s =
        futex_sleep(futex_word(word_), static_cast<std::uint32_t>(w | kWaiters),
                    std::min<Clock::duration>(slept ? kSlice : kFirstSlice, deadline - now));
    slept = true;
    if (s == FutexSleep::woken && lock_testing::after_wake != nullptr) lock_testing::after_wake();
  }
}

}  // namespace talc
