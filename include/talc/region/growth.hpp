// Layer 7 — the region: how a heap grows its region, for every caller in this process.
//
// A region grows when its source (a shared memory object or a file) is lengthened, and only a
// process that maps the region with its maximum reserved may let the heap take the new bytes.
// `Growers` records, by the address at which this process maps a region (where its header
// is), how this process lengthens that region and how far its mapping reaches: MapTalc records
// a region when it opens it and forgets it when it closes it. `grow_heap` is the growth step
// itself, run under the heap's lock by Talc and by Allocator alike, so that containers, whose
// allocator holds nothing but an offset to the header, grow the region as Talc's own calls do.
//
// Growers' table is guarded by a process-local mutex that fork hands over unlocked (the
// registration is in src/region/growth.cpp): a child forked at any instant, even while another
// thread of its parent grows a region, can grow regions itself. An extend callback must
// therefore not fork.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <utility>

#include "talc/core/errors.hpp"
#include "talc/lanes/lane_heap.hpp"
#include "talc/region/header.hpp"

namespace talc {

class Growers {
 public:
  using Extend = std::function<int(std::size_t from, std::size_t to)>;

  // This process maps `reach` bytes of address space at `base` for a region whose source
  // `extend(from, to)` lengthens from `from` to `to` bytes (returning 0 or an errno value).
  static void add(const void* base, std::size_t reach, Extend extend) {
    const std::lock_guard<std::mutex> g(mutex());
    table()[base] = Entry{reach, std::move(extend)};
  }
  static void remove(const void* base) noexcept {
    const std::lock_guard<std::mutex> g(mutex());
    table().erase(base);
  }
  // Lengthens the region mapped at `base` from `from` to `to` bytes: 0, or non-zero when it
  // failed (no space left, say) or this process may not (it did not reserve that much, or does
  // not know the region).
  static int extend(const void* base, std::size_t from, std::size_t to) noexcept {
    const std::lock_guard<std::mutex> g(mutex());
    const auto it = table().find(base);
    if (it == table().end() || to > it->second.reach) return -1;
    try {
      return it->second.extend(from, to);
    } catch (...) {
      return -1;
    }
  }

 private:
  struct Entry {
    std::size_t reach;
    Extend extend;
  };
  static std::mutex& mutex() noexcept;
  static std::map<const void*, Entry>& table() noexcept {
    static std::map<const void*, Entry> t;
    return t;
  }
};

// Under the heap's lock, after `m` refused a request of `size` bytes at `align` for want of
// memory: grows the region so that it fits, by at least half the region again (so that
// growths stay few), up to the maximum the header records. The source grows first; a death
// after that and before the heap takes the bytes in leaves only a longer source, which the
// next growth uses. False when the region cannot grow (here, or any more).
template <class Bins>
bool grow_heap(Header<LaneHeap<Bins>>& h, TalcMeta<Bins>& m, std::size_t size,
               std::size_t align) noexcept {
  constexpr std::uint64_t kMetaOffset =
      Header<LaneHeap<Bins>>::kBodyOffset + LaneHeap<Bins>::kMetaOffset;
  constexpr std::uint64_t kStep = std::uint64_t{64} << 10;
  const std::uint64_t max = h.max_size();
  const std::uint64_t now = kMetaOffset + m.span();
  if (max <= now || size > max) return false;
  std::uint64_t want = now + size + align + 4 * kMinChunk;
  if (want < now + now / 2) want = now + now / 2;
  want = (want + kStep - 1) / kStep * kStep;
  if (want > max) want = max;
  if (Growers::extend(&h, now, want) != 0 || m.grow(want - kMetaOffset) != Errc::ok) return false;
  m.retract_failure();  // the refusal that led here is answered by the growth, not final
  return true;
}

}  // namespace talc
