// Layer 5 — the lock that lives in a region and works across processes.
//
// A `RegionLock` is one 64-bit word in the region. Free, it is 0. Held, it names its holder:
//
//   bits 0-29   the holder's process id (1 .. 2^22 on Linux)
//   bit  30     reserved, always 0
//   bit  31     waiters: some process may be asleep on the word
//   bits 32-63  the holder's tag: a hash of the process's start time, never 0. A pid names a
//               process only until it is reused; pid and tag together name one process. Which
//               boot a word belongs to is the header's boot record.
//
// Why not a POSIX robust mutex, as before: an unlock wakes one waiter, and when that waiter is
// killed before it takes the lock, the others sleep on a free word with nobody to wake them;
// a damaged word, or one left by a holder of a previous boot (a heap file, a copy), made
// every caller sleep forever; and it cost 136 instructions per uncontended lock and unlock.
// Here, the uncontended path is one compare-and-swap to lock and one exchange to unlock, no
// system call. A waiter sleeps on the futex in slices (250 us, then 2 ms), never longer: a
// wake-up lost with a killed waiter costs the others one slice. When the same holder is still
// there a slice later (however the sleeps ended: a wake-up, a signal), the waiter verifies that
// it lives (the pid exists, is no zombie, and its start time gives the same tag); a dead
// holder's lock is taken over with one compare-and-swap, and the taker is told so
// (LockOutcome::owner_died) to repair what it protects. A word that no holder writes is
// refused at once (LockOutcome::damaged); a caller that could not take the lock within its
// bound while the holders lived gets LockOutcome::timed_out. Every wait ends.
//
// What it cannot see: a holder in another PID or time namespace (the face refuses a heap built
// in another), a holder whose /proc entry this process may not read, which is believed alive
// (the bound still ends the wait), and a thread that ended while holding it: the holder is its
// process.
//
// The OS calls stay in src/sync/: the futex in futex.cpp, kill and /proc in process.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "talc/sync/process.hpp"

namespace talc {

enum class LockOutcome : std::uint8_t {
  acquired,    // an ordinary acquisition
  owner_died,  // acquired from a holder that died holding it: what it protects may be torn
  damaged,     // the word holds a value no holder writes; not acquired
  timed_out,   // not acquired within the caller's bound, its holders alive
  /// Not acquired: this process cannot read its own start time (/proc/self/stat), so its word
  /// could not be told apart from a later process given its pid. It writes no word that others
  /// would have to judge; a later call reads again.
  no_identity,
};

/// How long a caller waits for a live holder before it gives up with timed_out. Long enough
/// for any operation of the heap, short enough that a holder stopped in a debugger or by
/// SIGSTOP shows as an error, not a hang.
inline constexpr std::chrono::milliseconds kDefaultLockWait{10000};

class RegionLock {
 public:
  static constexpr std::uint64_t kWaiters = std::uint64_t{1} << 31;
  static constexpr std::uint64_t kPidMask = (std::uint64_t{1} << 30) - 1;
  static constexpr std::uint64_t kReserved = std::uint64_t{1} << 30;
  static constexpr std::uint64_t kPidLimit = std::uint64_t{1} << 22;  // Linux's PID_MAX_LIMIT
  /// The value a re-initialisation leaves in a lock whose holder is gone (a previous boot, a
  /// copy of the file, a word that no holder writes): the next locker takes it as from a dead
  /// holder and repairs. Pid 0 never holds a lock, so no holder writes it.
  static constexpr std::uint64_t kAbandoned = std::uint64_t{0xa5a5a5a5} << 32;

  /// Builds the lock in place, free; only the process that initialises the region calls this.
  void init() noexcept { word_.store(0, std::memory_order_release); }

  LockOutcome lock(std::chrono::milliseconds bound = kDefaultLockWait) noexcept {
    std::uint64_t expected = 0;
    const std::uint64_t me = self();
    if (!has_identity(me)) [[unlikely]]
      return LockOutcome::no_identity;
    if (word_.compare_exchange_strong(expected, me, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
      counted_hold();
      return LockOutcome::acquired;
    }
    const LockOutcome o = lock_slow(bound);
    if (o == LockOutcome::acquired || o == LockOutcome::owner_died) counted_hold();
    return o;
  }

  void unlock() noexcept {
    counted_release();
    if ((word_.exchange(0, std::memory_order_release) & kWaiters) != 0) wake();
  }

  /// For a process that knows no other process uses the region: a lock that is held, by
  /// anyone, or damaged becomes abandoned, so that its next locker repairs; a free one stays.
  void abandon() noexcept {
    std::uint64_t w = word_.load(std::memory_order_acquire);
    while ((w & ~kWaiters) != 0 &&
           !word_.compare_exchange_weak(w, kAbandoned, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
    }
  }

  std::uint64_t word() const noexcept { return word_.load(std::memory_order_acquire); }
  /// Whether `w` is a value some holder writes: free, abandoned, or a plausible holder.
  static constexpr bool plausible(std::uint64_t w) noexcept {
    const std::uint64_t v = w & ~kWaiters;
    if (v == 0 || v == kAbandoned) return true;
    const std::uint64_t pid = v & kPidMask;
    // No holder writes an unknown tag (a process without an identity takes no lock): such a
    // word is damage, refused at once, not a holder believed alive while its pid lives.
    return (v & kReserved) == 0 && pid != 0 && pid < kPidLimit && (v >> 32) != 0 &&
           (v >> 32) != kTagUnknown;
  }

  /// This process's word as a holder (pid and tag); computed on first use and after a fork.
  /// Kept only once its tag is known: while this process cannot read its own start time, the
  /// word carries kTagUnknown (has_identity is false) and every call reads again.
  static std::uint64_t self() noexcept {
    const std::uint64_t w = self_.load(std::memory_order_relaxed);
    return w != 0 ? w : compute_self();
  }
  /// Whether `w`, a word self() gave, names this process well enough to be written where
  /// other processes will judge it (a lock, a lane's owner, a builder's claim).
  static constexpr bool has_identity(std::uint64_t w) noexcept { return (w >> 32) != kTagUnknown; }

  /// Whether the holder a lock word names is certainly dead, from evidence only: its pid is
  /// gone (kill says no such process), a zombie, or now names a process with another start time
  /// (both tags read right). A read that fails proves nothing: alive, and the caller's bound
  /// ends its wait. This process is never dead.
  static bool holder_dead(std::uint64_t w) noexcept;

  /// Called in the child of a fork (registered with pthread_atfork).
  static void forget_self_after_fork() noexcept;

  /// How many RegionLocks (of any region) the calling thread has taken so far: read before and
  /// after a call, it tells whether that call reached a lock, which is how the share of calls
  /// served without one is measured. One increment of thread-local storage per acquisition.
  static std::uint64_t taken_by_this_thread() noexcept { return counts_.taken; }

  /// Whether this build times each hold (the CMake option TALC_LOCK_TIMING, for the benchmarks'
  /// lock share; off in every other build, where a hold costs no clock read).
#if defined(TALC_LOCK_TIMING)
  static constexpr bool kTimesHolds = true;
#else
  static constexpr bool kTimesHolds = false;
#endif
  /// The clock holds are timed with: the time-stamp counter where there is one.
  static std::uint64_t ticks() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
  }
  /// The ticks the calling thread has held RegionLocks so far (the outermost of nested holds);
  /// 0 where kTimesHolds is false.
  static std::uint64_t held_ticks_by_this_thread() noexcept {
    return counts_.held;
  }

  /// The bytes a lock takes in the region: part of the layout fingerprint.
  static constexpr std::size_t kStorage = 56;

 private:
  LockOutcome lock_slow(std::chrono::milliseconds bound) noexcept;
  void wake() noexcept;
  static std::uint64_t compute_self() noexcept;

  // The calling thread's counts. Constant-initialised, so that reading them needs no guard.
  struct Counts {  // zeroed by counts_'s initialiser
    std::uint64_t taken;
    std::uint64_t depth, since, held;  // with kTimesHolds only
  };
  static inline thread_local constinit Counts counts_{};
  static void counted_hold() noexcept {
    ++counts_.taken;
    if constexpr (kTimesHolds)
      if (counts_.depth++ == 0) counts_.since = ticks();
  }
  static void counted_release() noexcept {
    if constexpr (kTimesHolds)
      if (counts_.depth != 0 && --counts_.depth == 0) counts_.held += ticks() - counts_.since;
  }

  static std::atomic<std::uint64_t> self_;

  std::atomic<std::uint64_t> word_;
  [[maybe_unused]] std::byte reserved_[kStorage - sizeof(std::uint64_t)];  // the layout's room
};

static_assert(sizeof(RegionLock) == RegionLock::kStorage);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(!RegionLock::plausible(RegionLock::kReserved));

// Test hooks, for the tests that must kill a waiter at one exact instant. Null in every
// program that does not set them.
namespace lock_testing {
/// Called by a waiter right after the futex woke it, before it tries to take the lock.
inline void (*after_wake)() = nullptr;
}  // namespace lock_testing

}  // namespace talc
