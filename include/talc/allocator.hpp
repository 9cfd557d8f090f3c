// Public header, over the face and the named layer: a standard allocator whose containers live in
// the shared heap.
//
// `Allocator<T>` hands out memory from a shared heap to allocator-aware containers (Boost's
// vector, basic_string, map, flat_map...). Such a container is usually itself built inside the
// heap (with Talc::find_or_construct, say) so that other processes can find it, and it stores
// its allocator in its own bytes: so an Allocator holds nothing local to one process, only an
// OffsetPtr to the heap's header in the same region, and its `pointer` is OffsetPtr<T>. A
// container built this way in one process is read and changed by another that maps the
// region elsewhere.
//
// Each allocation and deallocation takes the heap's lock once, exactly as Talc::allocate does,
// with the same recovery from a dead holder and the same refusal of a heap marked corrupted.
// (A Talc's on_recovery handler is process-local and is not called from here; the heap's
// counters still count.) When the heap is full, a region this process opened with room to grow
// grows, as for Talc::allocate (region/growth.hpp). allocate throws std::bad_alloc when the heap is
// full, OpenError for any other refusal. Two Allocators are equal when they allocate from the same
// heap through the same mapping.
//
// What is checked: the directory checks the offset of every named container it hands out, and
// the heap checks every block given back. The OffsetPtrs inside a container (and its
// allocator's) are followed as the container follows its own pointers: processes that share
// a container trust each other's writes to it as threads sharing one would.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <type_traits>

#include "talc/core/errors.hpp"
#include "talc/face/face.hpp"
#include "talc/named/named.hpp"  // Talc opens heaps and names objects through it
#include "talc/offset_ptr.hpp"
#include "talc/region/growth.hpp"
#include "talc/region/header.hpp"
#include "talc/sync/talck_meta.hpp"

namespace talc {

template <class T, class Bins = DefaultBinConfig>
class Allocator {
 public:
  using HeaderType = Header<LaneHeap<Bins>>;
  using value_type = T;
  using pointer = OffsetPtr<T>;
  using const_pointer = OffsetPtr<const T>;
  using void_pointer = OffsetPtr<void>;
  using const_void_pointer = OffsetPtr<const void>;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  /// Moving or swapping containers of two heaps must take the allocator along: memory is freed
  /// only by the heap it came from.
  using propagate_on_container_copy_assignment = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;
  using is_always_equal = std::false_type;
  template <class U>
  struct rebind {
    using other = Allocator<U, Bins>;
  };

  static_assert(alignof(T) <= kRegionAlign, "an alignment every mapping of a region can keep");

  /// No default: an allocator that names no heap could only fail.
  explicit Allocator(Talc<Bins>& heap) noexcept : header_(&heap.header()) {}
  explicit Allocator(HeaderType& header) noexcept : header_(&header) {}
  Allocator(const Allocator&) noexcept = default;
  Allocator& operator=(const Allocator&) noexcept = default;
  template <class U>
  Allocator(const Allocator<U, Bins>& o) noexcept : header_(o.header_) {}  // NOLINT: rebinding

  pointer allocate(size_type n) {
    if (n > std::numeric_limits<size_type>::max() / sizeof(T)) throw std::bad_array_new_length();
    HeaderType& h = *header_;
    auto& heap = h.body();
    const std::size_t bytes = n * sizeof(T), align = alignof(T) < kGranule ? kGranule : alignof(T);
    // Small blocks come from the calling thread's lane, as through Talc.
    LaneOwner* o =
        bytes <= PageConfig::kMaxRequest && align <= kGranule ? heap.thread_lane() : nullptr;
    if (o != nullptr) {
      const std::uint64_t u = heap.lane_allocate(*o, bytes);
      if (u != heap.kNull) return pointer(static_cast<T*>(heap.meta().address_of(u)));
    }
    Result<void*> r = Errc::corrupted;
    const Errc e = heap.with_lock([&](auto& m) {
      const auto op = [&] {
        return o != nullptr ? heap.refill_allocate(m, *o, bytes) : m.allocate(bytes, align);
      };
      r = heap.retry_after_release(m, op);
      // A region this process opened to grow grows for containers too (region/growth.hpp).
      if (r.error() == Errc::out_of_memory && grow_heap(h, m, bytes, align)) r = op();
      Talc<Bins>::mark_if_corrupted(h, r.error());
    });
    if (e == Errc::corrupted) h.mark_corrupted();
    if (e != Errc::ok) throw OpenError(e, describe(e));
    if (!r) {
      if (r.error() == Errc::out_of_memory) throw std::bad_alloc();
      throw OpenError(r.error(), describe(r.error()));
    }
    return pointer(static_cast<T*>(*r));
  }

  /// A refusal (a pointer this heap did not hand out) changes nothing and cannot be reported
  /// through the allocator interface; the heap's check() would still find the heap sound.
  void deallocate(pointer p, size_type) noexcept {
    if (!p) return;
    HeaderType& h = *header_;
    auto& heap = h.body();
    void* raw = const_cast<std::remove_cv_t<T>*>(p.get());
    if (heap.page_free(raw) != PageTable::kNotPage) return;
    const Errc e = heap.with_lock(
        [&](auto& m) { Talc<Bins>::mark_if_corrupted(h, heap.free_locked(m, raw)); });
    if (e == Errc::corrupted) h.mark_corrupted();
  }

  HeaderType& header() const noexcept { return *header_; }

  template <class U>
  bool operator==(const Allocator<U, Bins>& o) const noexcept {
    return header_.get() == o.header_.get();
  }

 private:
  template <class, class>
  friend class Allocator;

  OffsetPtr<HeaderType> header_;
};

}  // namespace talc
