// Layer 5b — a lane: one thread's cache of small free blocks, in the region.
//
// A lane holds, for each size class (chunk sizes kMinChunk, kMinChunk + 16, ... kMaxChunk), a
// stack of blocks that the central heap counts as allocated and that no user holds. Its owner
// (one thread of one process, see lane_heap.hpp for how a thread gets one) pops and pushes
// them without the heap's lock, without an atomic read-modify-write and without a system call;
// it refills and drains the stacks in batches under the lock (LaneHeap), through the core's
// allocate_run and deallocate_linked, whose journal makes each move atomic.
//
// Layout of a cached block (user offset u, from the core heap's base, like every offset here):
//   word 0 (u)      the next block of the same stack, or the null offset
//   word 1 (u + 8)  the lane's mark: LaneHeap's secret XOR the lane's index
// The mark lets a free tell at once a block that may be cached (a double free) from the
// ordinary live blocks; since a user's bytes may hold anything, a matching mark is only a
// suspicion, settled by looking for the block in the lane the mark names.
//
// Invariants (LaneHeap::check_lanes proves them):
//   N1  every stack is a list that ends in the null offset within kClassCap blocks; each block
//       on it is an allocated chunk of exactly the class's size whose word 1 holds the lane's
//       mark. (A block off every stack may hold one too: a pop unlinks, then clears the mark.)
//   N2  no block is on two stacks, of one lane or of two.
//   N3  count[c] is the length of stack c and `bytes` the sum of the chunk sizes, except while
//       `seq` is odd (the owner is inside an operation, or died there).
//   N4  `bytes` stays within the heap's bound per lane.
//
// Why every stack is well formed at every instant, whatever instant the owner dies at: a push
// writes the block's words first and publishes it with one store of the head; a pop moves the
// link that names the block (the head, or for an aligned request the word 0 of the block above
// it on the stack) past it with one store. The counts follow and are only advisory to whoever
// reclaims a dead owner's lane: it walks the stacks. Under the heap's lock, a refill moves a
// run of blocks carved side by side per core operation, a drain one block per operation, and
// the head word is one the core journals, so a death there is rolled back like any other
// operation.
//
// Readers other than the owner (check, a free that found another lane's mark) hold the heap's
// lock. They read a lane as a sequence lock is read: `seq` even before and the same after, or
// read again; what they read meanwhile is only believed when `seq` did not move. To make sure
// they get there, they first set `pause`, which the owner reads before each operation and
// answers by going through the lock (which the reader holds); an operation already past that
// look is at most one, and the second read is then still.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "talc/core/assert.hpp"
#include "talc/core/chunk.hpp"
#include "talc/core/journal.hpp"  // TALC_FAULT_POINT
#include "talc/core/rel.hpp"
#include "talc/pages/page.hpp"

namespace talc {

struct LaneConfig {
  // A lane's stacks keep the pages' first classes (pages/page.hpp): chunk sizes 32, 48, ...
  // 1040 bytes, requests of up to 1032 bytes. A lane's lists of pages have room for every class
  // of the pages (Lane::head, Lane::count).
  static constexpr std::uint64_t kClasses = PageConfig::kLinearClasses;
  static constexpr std::uint64_t kMaxChunk = PageConfig::kMaxLinearChunk;
  static constexpr std::uint64_t kMaxRequest = kMaxChunk - kTagSize;
  // The largest alignment a lane serves. Above kGranule it looks for an aligned block among the
  // top of the stack (LaneOwner::pop_aligned); beyond this, one is seldom there.
  static constexpr std::uint64_t kMaxAlign = 256;
  // Blocks cached per class, and taken from the heap per refill.
  static constexpr std::uint32_t kClassCap = 32;
  static constexpr std::uint32_t kRefill = 8;
  static constexpr std::uint64_t kMaxLanes = 64;
  // Bytes a lane may hold, at most; a small heap gets less (LaneHeap::claim): all its lanes
  // together never more than an eighth of it. Measured on random actions of up to 1000 bytes
  // (300 live): with 128 KiB a third of the operations still took the lock to refill or drain,
  // with 256 KiB a tenth.
  static constexpr std::uint64_t kMaxBytes = std::uint64_t{256} << 10;

  static constexpr std::uint64_t class_of(std::uint64_t chunk) noexcept {
    return PageConfig::class_of(chunk);
  }
  static constexpr std::uint64_t chunk_of(std::uint64_t cls) noexcept {
    return PageConfig::chunk_of(cls);
  }
};

struct alignas(64) Lane {
  std::uint64_t owner;   // 0: free; else the owning process's lock word (RegionLock::self())
  std::uint64_t seq;     // odd while the owner is inside an operation
  std::uint64_t pause;   // nonzero: a holder of the heap's lock needs the lane still
  std::uint64_t thread;  // the owning thread's id, for the tools
  std::uint64_t bytes;   // chunk bytes cached
  std::uint64_t reserved[3];
  std::uint64_t head[PageConfig::kClasses];  // user offset of the first block, or kNull
  std::uint32_t count[PageConfig::kClasses];
};
static_assert(sizeof(Lane) % 64 == 0 && offsetof(Lane, head) == 64);

// Every field of a lane is shared with other processes: read and written whole, atomically.
template <class T>
inline T lane_load(const T& field, std::memory_order o = std::memory_order_relaxed) noexcept {
  return std::atomic_ref<T>(const_cast<T&>(field)).load(o);
}
template <class T>
inline void lane_store(T& field, T v, std::memory_order o = std::memory_order_relaxed) noexcept {
  std::atomic_ref<T>(field).store(v, o);
}

// A lane as its owner works it: the lane, the core heap's base in this process, and what the
// owner needs to know of the heap. Trivially copyable: a thread keeps one per heap it uses.
struct LaneOwner {
  static constexpr std::uint64_t kNull = Rel<std::byte>::kNull;

  Lane* lane = nullptr;
  std::byte* core = nullptr;  // the core heap's base (TalcMeta's address)
  std::uint64_t mark = 0;     // this lane's mark (LaneHeap's secret XOR its index)
  std::uint64_t bound = 0;    // bytes the lane may hold
  std::uint64_t heap_start = 0;
  std::uint64_t index = 0;  // the lane's, in the table
  // The calling thread's caches of its current pages, one per class (pages/page.hpp's
  // PageFront), in its thread-local record: null in a view made for anyone else.
  PageFront* front = nullptr;

  // A cached block of chunk size `size`, class `cls`, taken off its stack: its user offset, or
  // kNull when the stack is empty, the lane is paused, or the head does not look like one of
  // this lane's blocks (the caller then asks again under the lock, which decides). `end` is
  // the heap's end as last seen: it only grows.
  // `Locked`: the caller holds the heap's lock, so no reader can be waiting on `pause` (and a
  // pause a dead reader left behind means nothing).
  template <bool Locked = false>
  [[gnu::always_inline]] std::uint64_t pop(std::uint64_t cls, std::uint64_t size,
                                           std::uint64_t end) const noexcept {
    TALC_ASSERT(cls < LaneConfig::kClasses);
    if (!Locked && lane_load(lane->pause) != 0) return kNull;
    const std::uint64_t u = lane_load(lane->head[cls]);
    if (!ours(u, size, end)) return kNull;
    unlink(cls, size, kNull, u);
    return u;
  }

  // pop, for an alignment above kGranule: the first of the stack's top kAlignDepth blocks whose
  // address is a multiple of `align`, unlinked where it lies. kNull when none of them is.
  [[gnu::noinline]] std::uint64_t pop_aligned(std::uint64_t cls, std::uint64_t size,
                                              std::uint64_t end,
                                              std::uint64_t align) const noexcept {
    if (lane_load(lane->pause) != 0) return kNull;
    std::uint64_t above = kNull;  // the block whose link names u; kNull: the head names it
    std::uint64_t u = lane_load(lane->head[cls]);
    for (std::uint32_t i = 0; i < kAlignDepth && ours(u, size, end); ++i) {
      if (reinterpret_cast<std::uintptr_t>(core + u) % align == 0) {
        unlink(cls, size, above, u);
        return u;
      }
      above = u;
      u = load_word(core, u);
    }
    return kNull;
  }
  // Blocks an aligned request looks at: a block is 16-aligned, so one in 2^k of them is
  // 16 * 2^k-aligned, and eight looks find a 32- or 64-aligned one nearly always.
  static constexpr std::uint32_t kAlignDepth = 8;

  // Caches the live block at user offset `u` (chunk size `size`, class `cls`), which the caller
  // proved live and not cached. False, changing nothing, when the lane is paused or full.
  template <bool Locked = false>
  [[gnu::always_inline]] bool push(std::uint64_t u, std::uint64_t cls,
                                   std::uint64_t size) const noexcept {
    TALC_ASSERT(cls < LaneConfig::kClasses && size % kGranule == 0);
    if (!Locked && lane_load(lane->pause) != 0) return false;
    const std::uint32_t n = lane_load(lane->count[cls]);
    const std::uint64_t bytes = lane_load(lane->bytes);
    if (n >= LaneConfig::kClassCap || bytes + size > bound) return false;
    begin();
    store_word(core, u, lane_load(lane->head[cls]));
    TALC_FAULT_POINT();
    store_word(core, u + kWord, mark);
    TALC_FAULT_POINT();
    lane_store(lane->head[cls], u);  // published: from here on the block is cached
    TALC_FAULT_POINT();
    lane_store(lane->count[cls], n + 1);
    TALC_FAULT_POINT();
    lane_store(lane->bytes, bytes + size);
    TALC_FAULT_POINT();
    end_op();
    return true;
  }

  // Whether the block at `u` is on stack `cls` of this lane: a walk of at most kClassCap
  // blocks, which stops at anything that is not one.
  bool holds(std::uint64_t cls, std::uint64_t u, std::uint64_t end) const noexcept {
    std::uint64_t b = lane_load(lane->head[cls]);
    for (std::uint32_t i = 0; i <= LaneConfig::kClassCap; ++i) {
      if (b == u) return true;
      if (b == kNull || b % kGranule != 0 || b < heap_start + kTagSize || b >= end) return false;
      b = load_word(core, b);
    }
    return false;
  }

 private:
  // Whether user offset `u` looks like one of this lane's blocks of chunk size `size`: in the
  // heap, tagged allocated with that size, and marked. Only words no user writes are read.
  [[gnu::always_inline]] bool ours(std::uint64_t u, std::uint64_t size,
                                   std::uint64_t end) const noexcept {
    if (u == kNull || u % kGranule != 0 || u < heap_start + kTagSize || u > end - size + kTagSize)
      return false;
    return (load_word(core, u - kTagSize) & ~Tag::kBelowFree) == (size | Tag::kAllocated) &&
           load_word(core, u + kWord) == mark;
  }

  // Takes block `u` (chunk size `size`) off stack `cls`, where the link of block `above` (or
  // the head, when `above` is kNull) names it: one store of the link, and the block is the
  // caller's. Its mark goes after, so that every block on a stack has one at every instant (a
  // death between the two leaves a marked block off every stack: a free of it is a suspicion
  // that the lane's walk clears, LaneHeap::refuse_cached).
  [[gnu::always_inline]] void unlink(std::uint64_t cls, std::uint64_t size, std::uint64_t above,
                                     std::uint64_t u) const noexcept {
    const std::uint64_t next = load_word(core, u);
    begin();
    if (above == kNull)
      lane_store(lane->head[cls], next);
    else
      store_word(core, above, next);
    TALC_FAULT_POINT();
    store_word(core, u + kWord, 0);
    TALC_FAULT_POINT();
    lane_store(lane->count[cls], lane_load(lane->count[cls]) - 1);
    TALC_FAULT_POINT();
    lane_store(lane->bytes, lane_load(lane->bytes) - size);
    TALC_FAULT_POINT();
    end_op();
  }

  // The owner's brackets around an operation: `seq` odd inside. Only the owner writes it, so
  // plain stores do; the fences keep the bracket around the writes for a reader on another core.
  [[gnu::always_inline]] void begin() const noexcept {
    lane_store(lane->seq, lane_load(lane->seq) + 1);
    std::atomic_thread_fence(std::memory_order_release);
    TALC_FAULT_POINT();
  }
  [[gnu::always_inline]] void end_op() const noexcept {
    lane_store(lane->seq, lane_load(lane->seq) + 1, std::memory_order_release);
  }
};

}  // namespace talc
