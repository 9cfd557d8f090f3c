// Layer 5 — the two ends of a ring in a region: who they are, whether they closed, and how one
// sleeps until the other moves.
//
// An OffsetRing (offset_ring.hpp, a public header) is two indices and its slots; what lets its
// calls block lives here, in 64 bytes beside them. For each end, producer and consumer: the
// process that attached as it, whether it closed, how many of its threads are asleep (or about
// to be) and the futex word they sleep on.
//
// Waking. A waiter raises its end's count for as long as it waits, reads the index it waits on
// again, and sleeps on its futex word; the other end stores its index, then reads the count,
// and bumps the futex word and wakes the sleepers when the count is raised. A mover that reads a
// count of 0 makes no system call, and no fence either: its store and its read of the count
// may pass each other (x86 lets a load overtake an earlier store to another word), so at the
// instant a count rises, a move may miss the sleeper while the sleeper misses the move. A full
// fence on every move would close that gap, at a price measured at two to three times the time
// of a stream of handles between two threads. Instead the sleeper's first sleep is short
// (kRingFirstSleep): a store it missed is visible to it long before that ends, and its count,
// published by that sleep's system call, is seen by every later move. So no move goes unseen by
// a sleeper for more than kRingFirstSleep, and the fast path is a polling ring's plus one read of
// this line, which only sleepers write.
//
// Ends that die or leave. An end records the identity a lock holder writes (RegionLock::self():
// pid and start-time tag). A sleeper wakes every kRingLook to judge the other end with
// RegionLock::holder_dead, dead only from evidence (a read that fails means alive), so a death
// is found within kRingLook of it plus one read of /proc. An end that closes (a producer with
// nothing more to send, a consumer that reads no more) says so, and its peer's sleepers are
// woken at once. What a wait can then answer, besides ok: timed_out, peer_gone, ring_closed.
// A sleeper killed asleep leaves its count raised, and its peer then makes one futex call per
// move, to wake nobody, until an end of another process attaches in its place, which resets the
// count.
//
// The futex calls are futex.hpp's; the slow path is in src/sync/ring_ends.cpp.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "talc/core/errors.hpp"
#include "talc/sync/region_lock.hpp"

namespace talc {

enum class RingEnd : std::uint8_t { producer = 0, consumer = 1 };

constexpr RingEnd other_end(RingEnd e) noexcept {
  return e == RingEnd::producer ? RingEnd::consumer : RingEnd::producer;
}

/// How often a sleeping end judges whether its peer still lives: the most a death goes unseen,
/// give or take one read of /proc. Short enough for a person waiting on a program; long enough
/// that an idle sleeper wakes only 20 times a second.
inline constexpr std::chrono::milliseconds kRingLook{50};

/// The first sleep of a wait: the longest a move that crossed the sleeper's count as it rose can
/// go unseen (see above); a store takes far less to reach every core.
inline constexpr std::chrono::microseconds kRingFirstSleep{100};

/// A bound that means none: the wait ends only when the ring moves, closes or its peer dies.
inline constexpr std::chrono::nanoseconds kWaitForever = std::chrono::nanoseconds::max();

class RingEnds {
 public:
  using Clock = std::chrono::steady_clock;

  /// When a wait of `bound` from now ends; Clock's end of time for kWaitForever (or any bound
  /// longer than a year), now for a negative one.
  static Clock::time_point deadline_in(std::chrono::nanoseconds bound) noexcept {
    if (bound >= std::chrono::hours(24 * 365)) return Clock::time_point::max();
    return Clock::now() + std::max(bound, std::chrono::nanoseconds::zero());
  }

  /// Records the calling process as end `e`, open. Costs two loads when it is so already.
  /// identity_unknown when this process cannot read its own start time (RegionLock::self): it
  /// writes no identity that another process would have to judge.
  Errc attach(RingEnd e) noexcept {
    const std::uint64_t me = RegionLock::self();
    if (who_[index(e)].load(std::memory_order_relaxed) == me &&
        (closed_.load(std::memory_order_relaxed) & bit(e)) == 0)
      return Errc::ok;
    return attach_slow(e, me);
  }

  /// End `e` says it is done; its peer's sleepers wake and learn it (ring_closed). attach opens
  /// it again.
  void close(RingEnd e) noexcept;

  bool closed(RingEnd e) const noexcept {
    return (closed_.load(std::memory_order_seq_cst) & bit(e)) != 0;
  }

  /// The identity end `e` recorded (RegionLock::self()'s form), or 0 when none attached.
  std::uint64_t who(RingEnd e) const noexcept {
    return who_[index(e)].load(std::memory_order_acquire);
  }

  /// Called by the end opposite `waiter` right after it stored its index: wakes `waiter`'s
  /// sleepers when there are any, and otherwise makes no call. (Sequentially consistent, which
  /// costs a plain load: where a release store and this load are ordered, as on ARMv8, the gap
  /// described above does not even open.)
  void moved_for(RingEnd waiter) noexcept {
    if (waiting_[index(waiter)].load(std::memory_order_seq_cst) != 0) wake(waiter);
  }

  /// Waits, as end `me`, until `watched` (the other end's index) no longer holds `seen`, after a
  /// short spin. ok then, and the caller tries again; ring_closed when the other end closed and
  /// `watched` still holds `seen`; peer_gone when it died so; timed_out at `deadline`. The peer
  /// is judged every kRingLook, and once at a deadline that came first, unless the wait was a
  /// poll (a deadline already past: then no /proc read, as the polling calls make none).
  Errc wait(RingEnd me, const std::atomic<std::uint64_t>& watched, std::uint64_t seen,
            Clock::time_point deadline) noexcept;

 private:
  static constexpr unsigned index(RingEnd e) noexcept { return static_cast<unsigned>(e); }
  static constexpr std::uint32_t bit(RingEnd e) noexcept { return 1u << index(e); }

  Errc attach_slow(RingEnd e, std::uint64_t me) noexcept;
  void wake(RingEnd e) noexcept;
  bool peer_dead(RingEnd peer) const noexcept;
  /// Why a wait of end `peer`'s other end stops now, if it does: ok (`watched` moved),
  /// ring_closed, or peer_gone (judged only when `look`).
  std::optional<Errc> why_stop(RingEnd peer, const std::atomic<std::uint64_t>& watched,
                               std::uint64_t seen, bool look) const noexcept;
  void leave(RingEnd e) noexcept;

  std::atomic<std::uint64_t> who_[2]{};        // each end's identity, 0: none yet
  std::atomic<std::uint32_t> waiting_[2]{};    // sleepers of each end, and those about to sleep
  std::atomic<std::uint32_t> futex_[2]{};      // bumped to wake each end's sleepers
  std::atomic<std::uint32_t> closed_{0};       // bit(e): end e closed
  [[maybe_unused]] std::byte reserved_[28]{};  // the line's rest, for what may come
};

static_assert(sizeof(RingEnds) == 64, "one cache line, beside the ring's indices");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

}  // namespace talc
