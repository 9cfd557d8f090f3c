// Public header, over the face: a single-producer, single-consumer ring of block handles, to live
// in a shared heap.
//
// The simplest way for one process to hand blocks to another: the producer allocates a block,
// pushes its RelMeta, and the consumer pops it, turns it into its own Meta with Talc::adopt
// (which checks it), reads in place, and frees it. The ring holds only offsets, so it works
// at any mapping address. Build it in the heap with `talc.construct<OffsetRing<N>>()` and publish
// its offset, or find it by name (`find_or_construct<NamedRing>(name)`, as the C API and the
// Python package do).
//
// Two ways to call it. try_push and try_pop never wait: lock-free atomics, no system call. push
// and pop wait, up to a bound, for room or for a block: after a short spin they sleep on a futex
// in the region (sync/ring_ends.hpp), and the other end wakes them. Either end pays for a
// wake-up only when a sleeper is there, so a ring nobody sleeps on costs what it did without
// them, plus one load of a line that only sleepers write. The waiting calls also say how the
// other end left: ring_closed when it closed (for a pop, the end of the stream, once every block
// it pushed is taken), peer_gone when its process died, noticed within kRingLook. They record
// the calling process as their end as they start (attach), so that the other end can judge it.
//
// One producer and one consumer at a time, each a thread or a process; a second process that
// attaches as an end takes the place of the first.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "talc/core/errors.hpp"
#include "talc/face/meta.hpp"
#include "talc/sync/ring_ends.hpp"

namespace talc {

template <std::size_t N>
class OffsetRing {
  static_assert(N >= 2 && (N & (N - 1)) == 0, "the capacity is a power of two");

 public:
  /// Producer side. False when full.
  bool try_push(RelMeta m) noexcept {
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_.load(std::memory_order_acquire) == N) return false;
    Slot& s = slots_[tail & (N - 1)];
    s.offset = m.start().offset();
    s.size = m.size();
    tail_.store(tail + 1, std::memory_order_release);
    ends_.moved_for(RingEnd::consumer);
    return true;
  }

  /// Consumer side. Empty when nothing is there. What it returns came from another process:
  /// adopt it before use.
  std::optional<RelMeta> try_pop() noexcept {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_.load(std::memory_order_acquire)) return std::nullopt;
    const Slot s = slots_[head & (N - 1)];
    head_.store(head + 1, std::memory_order_release);
    ends_.moved_for(RingEnd::producer);
    return RelMeta(Rel<std::byte>::from_offset(s.offset), s.size);
  }

  /// Producer side, waiting up to `bound` (kWaitForever: no bound) for room. ok, and the block
  /// is the consumer's; otherwise it stays the caller's: timed_out, ring_closed (the consumer
  /// closed: it reads no more, whether or not there is room), peer_gone (the ring stayed full
  /// and the consumer's process died), identity_unknown (attach).
  Errc push(RelMeta m, std::chrono::nanoseconds bound) noexcept {
    if (const Errc e = ends_.attach(RingEnd::producer); e != Errc::ok) return e;
    const auto deadline = RingEnds::deadline_in(bound);
    for (;;) {
      if (ends_.closed(RingEnd::consumer)) return Errc::ring_closed;
      if (try_push(m)) return Errc::ok;
      // Full: the consumer's index still at tail - N.
      const Errc e =
          ends_.wait(RingEnd::producer, head_, tail_.load(std::memory_order_relaxed) - N, deadline);
      if (e != Errc::ok) return e;
    }
  }

  /// Consumer side, waiting up to `bound` for a block; adopt it before use. Otherwise:
  /// timed_out, ring_closed (the producer closed and every block it pushed was taken: the end of
  /// the stream), peer_gone (the ring is empty and the producer's process died),
  /// identity_unknown (attach). Blocks pushed before a close or a death are all given first.
  Result<RelMeta> pop(std::chrono::nanoseconds bound) noexcept {
    if (const Errc e = ends_.attach(RingEnd::consumer); e != Errc::ok) return e;
    const auto deadline = RingEnds::deadline_in(bound);
    for (;;) {
      if (const std::optional<RelMeta> m = try_pop()) return *m;
      const Errc e =
          ends_.wait(RingEnd::consumer, tail_, head_.load(std::memory_order_relaxed), deadline);
      if (e != Errc::ok) return e;
    }
  }

  /// Records the calling process as end `e` and opens it again if it was closed; push and pop do
  /// it themselves. The polling calls do not: call it to let the other end judge this one.
  Errc attach(RingEnd e) noexcept { return ends_.attach(e); }
  /// End `e` is done: the other end's waits learn it (ring_closed) at once.
  void close(RingEnd e) noexcept { ends_.close(e); }
  bool closed(RingEnd e) const noexcept { return ends_.closed(e); }

  std::uint64_t size() const noexcept {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }

 private:
  struct Slot {
    std::uint64_t offset;
    std::uint64_t size;
  };
  /// Producer and consumer indices on their own cache lines: they are written by different
  /// processes. The ends on a third, which only attaching, closing and sleeping write.
  alignas(64) std::atomic<std::uint64_t> head_{0};
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  alignas(64) RingEnds ends_{};
  alignas(64) Slot slots_[N]{};
};

/// The ring the C API and the Python package make and find by name (heap.ring(name),
/// talc_ring_open): one type, so that a C program, a Python process and a C++ program that name a
/// ring reach the same object.
inline constexpr std::size_t kNamedRingCapacity = 1024;
using NamedRing = OffsetRing<kNamedRingCapacity>;
// Before the ends were added a ring took 128 + 16 N bytes: one of that layout, found by name (its
// type key is the same), is refused as size_mismatch, never read as this one.
static_assert(sizeof(NamedRing) == 192 + 16 * kNamedRingCapacity);

}  // namespace talc
