// Layer 5b — a lane: one thread's share of the heap's pages, in the region.
//
// A lane is owned by one thread of one process at a time (lane_heap.hpp says how a thread gets
// one). Its words are the owner, which a claim takes with one compare-and-swap, and the lane's
// page lists (pages/page_table.hpp): for each size class the first page of the lane's list and
// the page it serves from. The owner hands out blocks from those pages with plain stores, and
// changes the lists only under the heap's lock; anyone gives a block back to its page, never to
// a lane, so a lane holds no block of its own and its lists outlive its owner: a thread that
// ends or a process that dies leaves them to the lane's next owner (page_table.hpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "talc/pages/page.hpp"

namespace talc {

struct LaneConfig {
  static constexpr std::uint64_t kMaxLanes = 64;
};

struct alignas(64) Lane {
  std::uint64_t owner;   // 0: free; else the owning process's lock word (RegionLock::self())
  std::uint64_t thread;  // the owning thread's id, for the tools
  std::uint64_t first[PageConfig::kClasses];  // PageLists::first
  std::uint32_t cur[PageConfig::kClasses];    // PageLists::cur
};
static_assert(sizeof(Lane) % 64 == 0);

// Every field of a lane is shared with other processes: read and written whole, atomically.
template <class T>
inline T lane_load(const T& field, std::memory_order o = std::memory_order_relaxed) noexcept {
  return std::atomic_ref<T>(const_cast<T&>(field)).load(o);
}
template <class T>
inline void lane_store(T& field, T v, std::memory_order o = std::memory_order_relaxed) noexcept {
  std::atomic_ref<T>(field).store(v, o);
}

// A lane as its owner works it. Trivially copyable: a thread keeps one per heap it uses.
struct LaneOwner {
  Lane* lane = nullptr;
  std::uint64_t index = 0;  // the lane's, in the table
  // The calling thread's caches of its current pages, one per class (pages/page.hpp's
  // PageFront), in its thread-local record: null in a view made for anyone else.
  PageFront* front = nullptr;
};

}  // namespace talc
