// Layer 8 — the handles users hold, and the concepts generic code is written against.
//
// `Meta` is a block as this process sees it: the region's base in this process, the block's
// offset from that base, and its size. Its base-free form, `RelMeta` (an offset and a size:
// a RelSlice of bytes), is what crosses to another process, through a queue, a socket or a
// file; that process turns it back into its own Meta with `Talc::adopt`, which checks it.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>

#include "talc/core/errors.hpp"
#include "talc/core/rel.hpp"

namespace talc {

using RelMeta = RelSlice<std::byte>;

struct Meta {
  std::byte* base = nullptr;
  std::uint64_t offset = Rel<std::byte>::kNull;
  std::uint64_t size = 0;

  void* ptr() const noexcept { return base == nullptr ? nullptr : base + offset; }
  template <class T>
  T* as() const noexcept {
    return static_cast<T*>(ptr());
  }
  bool is_null() const noexcept { return base == nullptr; }
  /// The form that means the same block in every process that maps the region.
  RelMeta rel() const noexcept { return RelMeta(Rel<std::byte>::from_offset(offset), size); }
};

/// Something that hands out blocks: a shared heap, or an adaptor over one.
template <class A>
concept MemAlloc = requires(A& a, std::size_t size, std::size_t align) {
  { a.try_allocate(size, align) }
  noexcept->std::same_as<Result<Meta>>;
  { a.allocate(size, align) } -> std::same_as<Meta>;
};

/// Something that takes blocks back.
template <class A>
concept MemDealloc = requires(A& a, const Meta& m) {
  { a.deallocate(m) }
  noexcept->std::same_as<Errc>;
};

}  // namespace talc
