// Public header, over the face: the shared heap as a std::pmr::memory_resource.
//
// `MemoryResource` lets any std::pmr container or allocator draw its memory from a shared heap.
// It is a process-local object over a process-local Talc: a pmr container keeps a raw pointer
// to its resource and raw pointers between its elements, so such a container must itself stay
// in this process (or in one mapping). Its use is the memory, not the structure: blocks that
// outlive the container or are handed to another process (by offset), a bounded heap in
// embedded code, or a single-process heap on an ordinary buffer. For containers that other
// processes read in place, use Allocator (allocator.hpp), whose pointers are offsets.
#pragma once

#include <cstddef>
#include <memory_resource>

#include "talc/face/face.hpp"
#include "talc/named/named.hpp"  // Talc opens heaps and names objects through it

namespace talc {

template <class Bins = DefaultBinConfig>
class MemoryResource final : public std::pmr::memory_resource {
 public:
  explicit MemoryResource(Talc<Bins>& heap) noexcept : heap_(&heap) {}

  Talc<Bins>& heap() const noexcept { return *heap_; }

 private:
  /// Throws std::bad_alloc when the heap is full, OpenError for an alignment the heap cannot
  /// keep in every process or a heap marked corrupted.
  void* do_allocate(std::size_t bytes, std::size_t align) override {
    return heap_->allocate(bytes, align < kGranule ? kGranule : align).ptr();
  }
  /// The interface has no way to report a refusal; the heap changes nothing on one.
  void do_deallocate(void* p, std::size_t, std::size_t) override { (void)heap_->deallocate(p); }
  /// Two resources are interchangeable when they reach one heap through one mapping: what one
  /// hands out, the other can take back.
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    const auto* o = dynamic_cast<const MemoryResource*>(&other);
    return o != nullptr && o->heap_->base() == heap_->base();
  }

  Talc<Bins>* heap_;
};

}  // namespace talc
