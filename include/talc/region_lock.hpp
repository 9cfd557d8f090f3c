// Layer 5 — the lock that lives in a region and works across processes.
//
// A `RegionLock` is a fixed block of bytes inside the region holding a process-shared, robust
// mutex. Contended waiters sleep in the kernel (no spinning), and when a holder dies — SIGKILL,
// the OOM killer, a crash — the kernel hands the lock to the next waiter at once and tells it
// the holder died, so a dead process never stops the others. What to do with a heap its
// holder left half-updated is the caller's decision (see TalckMeta).
//
// The OS type stays in src/region_lock.cpp: this header is what layers above see.
#pragma once

#include <cstddef>
#include <cstdint>

namespace talc {

enum class LockOutcome : std::uint8_t {
  acquired,    // an ordinary acquisition
  owner_died,  // acquired, but the previous holder died holding it: the data may be torn
  unusable,    // the lock itself is broken (a previous recovery gave up); not acquired
};

class RegionLock {
 public:
  // Builds the lock in place; only the process that initialises the region calls this.
  void init() noexcept;
  LockOutcome lock() noexcept;
  // After owner_died: declares the protected data consistent again so later lockers get an
  // ordinary acquisition. Without it, the unlock that follows leaves the lock unusable.
  void mark_consistent() noexcept;
  void unlock() noexcept;

  // The bytes reserved for the OS mutex: enough for glibc's pthread_mutex_t on every 64-bit
  // target (checked in the .cpp), and part of the region's layout fingerprint.
  static constexpr std::size_t kStorage = 56;

 private:
  alignas(8) std::byte storage_[kStorage];
};

static_assert(sizeof(RegionLock) == RegionLock::kStorage);

}  // namespace talc
