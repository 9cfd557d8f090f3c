// Public header, over the face: a single-producer, single-consumer ring of block handles, to live
// in a shared heap.
//
// The simplest way for one process to hand blocks to another: the producer allocates a block,
// pushes its RelMeta, and the consumer pops it, turns it into its own Meta with Talc::adopt
// (which checks it), reads in place, and frees it. The ring holds only offsets, so it works
// at any mapping address; its indices are lock-free atomics, so it needs no system call.
// Build it in the heap with `talc.construct<OffsetRing<N>>()` and publish its offset.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "talc/face/meta.hpp"

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
    return true;
  }

  /// Consumer side. Empty when nothing is there. What it returns came from another process:
  /// adopt it before use.
  std::optional<RelMeta> try_pop() noexcept {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_.load(std::memory_order_acquire)) return std::nullopt;
    const Slot s = slots_[head & (N - 1)];
    head_.store(head + 1, std::memory_order_release);
    return RelMeta(Rel<std::byte>::from_offset(s.offset), s.size);
  }

  std::uint64_t size() const noexcept {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }

 private:
  struct Slot {
    std::uint64_t offset;
    std::uint64_t size;
  };
  /// Producer and consumer indices on their own cache lines: they are written by different
  /// processes.
  alignas(64) std::atomic<std::uint64_t> head_{0};
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  alignas(64) Slot slots_[N]{};
};

}  // namespace talc
