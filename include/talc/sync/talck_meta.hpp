// Layer 5 — synchronisation: the core heap behind a lock that lives in the region.
//
// `TalckMeta` is a RegionLock followed by a TalcMeta; every operation takes the lock once,
// runs the unsynchronised core, and releases it. No system call is made unless the lock is
// contended.
//
// When a process dies holding the lock, the next locker is told so (LockOutcome::owner_died)
// and the heap may be half-updated. The locker rolls the dead process's operation back from
// the journal (see core/journal.hpp) and checks what the roll-back touched and its neighbours
// (talc_meta_recover.hpp), in a time that does not grow with the heap: a consistent heap is
// declared so and the operation goes on (the recovery is counted, and reported to the
// caller); an inconsistent one is marked corrupted here, in the region, so every later
// operation in every process gets Errc::corrupted instead of walking torn metadata. A lock
// word that no holder writes gives Errc::lock_damaged, a live holder that keeps the lock past
// the caller's bound Errc::lock_timeout: no call waits forever.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <new>

#include "talc/core/errors.hpp"
#include "talc/core/fingerprint.hpp"
#include "talc/core/talc_meta.hpp"
#include "talc/sync/region_lock.hpp"

namespace talc {

template <class Bins = DefaultBinConfig>
class alignas(64) TalckMeta {
 public:
  using Core = TalcMeta<Bins>;

  TalckMeta(const TalckMeta&) = delete;
  TalckMeta& operator=(const TalckMeta&) = delete;

  /// Offset of the TalcMeta from the TalckMeta: the lock and the counters come first.
  static constexpr std::size_t kMetaOffset = 128;
  /// Everything that fixes this layer's bytes, for the header's fingerprint.
  static constexpr std::uint64_t layout_fingerprint() noexcept;

  static constexpr std::size_t min_claim_size() noexcept {
    return kMetaOffset + Core::min_claim_size();
  }

  /// Builds lock and heap in [at, at + len); `at` must be 64-aligned.
  static Result<TalckMeta*> claim(void* at, std::size_t len, ClaimOptions opts = {}) noexcept {
    if (at == nullptr) return Errc::null_region;
    if (reinterpret_cast<std::uintptr_t>(at) % alignof(TalckMeta) != 0) return Errc::corrupted;
    if (len < kMetaOffset + sizeof(Core)) return Errc::region_too_small;
    auto meta = Core::claim(static_cast<std::byte*>(at) + kMetaOffset, len - kMetaOffset, opts);
    if (!meta) return meta.error();
    auto* self = ::new (at) TalckMeta();
    self->lock_.init();
    return self;
  }

  /// The TalckMeta already built at `at` (another process's, or an earlier run's).
  static Result<TalckMeta*> attach(void* at, std::size_t len) noexcept {
    if (at == nullptr) return Errc::null_region;
    if (reinterpret_cast<std::uintptr_t>(at) % alignof(TalckMeta) != 0) return Errc::corrupted;
    if (len < kMetaOffset + sizeof(Core)) return Errc::region_too_small;
    auto meta = Core::attach(static_cast<std::byte*>(at) + kMetaOffset, len - kMetaOffset);
    if (!meta) return meta.error();
    return std::launder(reinterpret_cast<TalckMeta*>(at));
  }

  /// Runs f(Core&) under the lock. Returns Errc::corrupted, without running f, once the heap
  /// is known to be broken; lock_damaged or lock_timeout when the lock could not be taken;
  /// Errc::ok otherwise. `recovered`, when given, says whether this acquisition repaired the
  /// heap after a dead holder. `f` must not throw.
  template <class F>
  Errc with_lock(F&& f, bool* recovered = nullptr,
                 std::chrono::milliseconds bound = kDefaultLockWait) noexcept {
    if (recovered != nullptr) *recovered = false;
    if (corrupted()) return Errc::corrupted;
    switch (lock_.lock(bound)) {
      case LockOutcome::acquired:
        break;
      case LockOutcome::damaged:
        return Errc::lock_damaged;
      case LockOutcome::timed_out:
        return Errc::lock_timeout;
      case LockOutcome::no_identity:
        return Errc::identity_unknown;
      case LockOutcome::owner_died:
        if (!recover()) return Errc::corrupted;
        if (recovered != nullptr) *recovered = true;
        break;
    }
    // Another process may have found the heap broken while this one waited.
    if (corrupted()) {
      lock_.unlock();
      return Errc::corrupted;
    }
    f(meta());
    lock_.unlock();
    return Errc::ok;
  }

  /// The unlocked core, for the few readers that can tolerate a moving heap (offset arithmetic,
  /// bounds) and for tests; everything that reads chunks goes through with_lock.
  Core& meta() noexcept {
    return *std::launder(reinterpret_cast<Core*>(reinterpret_cast<std::byte*>(this) + kMetaOffset));
  }
  const Core& meta() const noexcept {
    return *std::launder(
        reinterpret_cast<const Core*>(reinterpret_cast<const std::byte*>(this) + kMetaOffset));
  }

  bool corrupted() const noexcept { return corrupted_.load(std::memory_order_acquire) != 0; }
  /// Called, holding the lock, when an operation found the heap's bytes damaged: every later
  /// operation, in every process, is refused.
  void mark_corrupted() noexcept { corrupted_.store(1, std::memory_order_release); }
  /// Times a process took the lock from a dead holder and found the heap consistent (after a
  /// roll-back), and how many of those had an operation to roll back.
  std::uint64_t recoveries() const noexcept { return recoveries_.load(std::memory_order_relaxed); }
  std::uint64_t rollbacks() const noexcept { return rollbacks_.load(std::memory_order_relaxed); }

  /// The heap's lock, for a process that knows no other one uses the region (RegionLock::abandon),
  /// for the tool that reports its word, and for tests that need a process to die holding it.
  RegionLock& lock() noexcept { return lock_; }
  const RegionLock& lock() const noexcept { return lock_; }

 private:
  TalckMeta() noexcept = default;

  /// Called holding the lock after its holder died. Returns true when the operation may go on.
  bool recover() noexcept {
    const Result<std::uint64_t> undone = meta().recover_after_death();
    const bool consistent = undone.ok();
    if (consistent && *undone != 0) rollbacks_.fetch_add(1, std::memory_order_relaxed);
    if (!consistent) {
      corrupted_.store(1, std::memory_order_release);  // before the unlock: nobody walks it
      lock_.unlock();
      return false;
    }
    recoveries_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  RegionLock lock_;
  std::atomic<std::uint32_t> corrupted_{0};
  std::atomic<std::uint64_t> recoveries_{0};
  std::atomic<std::uint64_t> rollbacks_{0};
};

template <class Bins>
constexpr std::uint64_t TalckMeta<Bins>::layout_fingerprint() noexcept {
  return fingerprint_of({Bins::kLinearStages, Bins::kBytesPerLinear, Bins::kLogDivs, Bins::kBins,
                         kGranule, kMinChunk, kChunkPhase, sizeof(Core), sizeof(TalckMeta),
                         kMetaOffset, RegionLock::kStorage});
}

static_assert(sizeof(TalckMeta<>) <= TalckMeta<>::kMetaOffset);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "counters shared between processes must not hide a process-local lock");

}  // namespace talc
