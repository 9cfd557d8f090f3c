// The slow paths of a ring's ends: attaching, closing, waking, and the wait (ring_ends.hpp).
#include "talc/sync/ring_ends.hpp"

#include <climits>

#include "talc/sync/futex.hpp"

namespace talc {

namespace {

// Looks before sleeping: a peer that is running moves within a few microseconds, and a sleep
// costs two system calls on each side.
constexpr int kSpins = 128;

}  // namespace

Errc RingEnds::attach_slow(RingEnd e, std::uint64_t me) noexcept {
  if (!RegionLock::has_identity(me)) return Errc::identity_unknown;
  const unsigned i = index(e);
  // Another process was this end: a count it left raised (killed asleep) is not ours to keep.
  if (who_[i].exchange(me, std::memory_order_seq_cst) != me)
    waiting_[i].store(0, std::memory_order_relaxed);
  closed_.fetch_and(~bit(e), std::memory_order_seq_cst);
  return Errc::ok;
}

void RingEnds::close(RingEnd e) noexcept {
  closed_.fetch_or(bit(e), std::memory_order_seq_cst);
  moved_for(other_end(e));
}

void RingEnds::wake(RingEnd e) noexcept {
  std::atomic<std::uint32_t>& f = futex_[index(e)];
  f.fetch_add(1, std::memory_order_release);
  futex_wake(futex_word(f), INT_MAX);
}

bool RingEnds::peer_dead(RingEnd peer) const noexcept {
  const std::uint64_t w = who(peer);
  return w != 0 && RegionLock::holder_dead(w);  // none attached yet: one may come
}

void RingEnds::leave(RingEnd e) noexcept {
  // Never below 0: an attach may have reset the count under a sleeper of a replaced end.
  std::atomic<std::uint32_t>& n = waiting_[index(e)];
  std::uint32_t v = n.load(std::memory_order_relaxed);
  while (v != 0 && !n.compare_exchange_weak(v, v - 1, std::memory_order_relaxed)) {
  }
}

std::optional<Errc> RingEnds::why_stop(RingEnd peer, const std::atomic<std::uint64_t>& watched,
                                       std::uint64_t seen, bool look) const noexcept {
  if (watched.load(std::memory_order_seq_cst) != seen) return Errc::ok;
  // A peer that closed, then exited, ended cleanly: closed is asked first.
  const bool closed_now = closed(peer);
  if (!closed_now && !(look && peer_dead(peer))) return std::nullopt;
  // What the peer stored before it closed or died is seen now: the caller takes it first.
  if (watched.load(std::memory_order_acquire) != seen) return Errc::ok;
  return closed_now ? Errc::ring_closed : Errc::peer_gone;
}

Errc RingEnds::wait(RingEnd me, const std::atomic<std::uint64_t>& watched, std::uint64_t seen,
                    Clock::time_point deadline) noexcept {
  const RingEnd peer = other_end(me);
  // A poll: what the ring says now, with no read of /proc.
  if (Clock::now() >= deadline)
    return why_stop(peer, watched, seen, false).value_or(Errc::timed_out);
  for (int i = 0; i < kSpins; ++i) {
    if (watched.load(std::memory_order_acquire) != seen) return Errc::ok;
    cpu_relax();
  }
  std::atomic<std::uint32_t>& f = futex_[index(me)];
  // Raised for the whole wait: a mover sees it from the first sleep on (see the header).
  waiting_[index(me)].fetch_add(1, std::memory_order_seq_cst);
  Clock::time_point next_look = Clock::now() + kRingLook;
  bool looked = false;
  Clock::duration sleep = kRingFirstSleep;
  for (;;) {
    // The ticket is read before the ring is: a bump after it makes the sleep return at once.
    const std::uint32_t ticket = f.load(std::memory_order_acquire);
    const Clock::time_point now = Clock::now();
    const bool look = now >= next_look || (now >= deadline && !looked);
    if (look) {
      looked = true;
      next_look = now + kRingLook;
    }
    std::optional<Errc> end = why_stop(peer, watched, seen, look);
    if (!end && now >= deadline) end = Errc::timed_out;
    if (end) {
      leave(me);
      return *end;
    }
    futex_sleep(futex_word(f), ticket, std::min({sleep, next_look - now, deadline - now}));
    sleep = Clock::duration::max();  // the later ones last until the next look or the deadline
  }
}

}  // namespace talc
