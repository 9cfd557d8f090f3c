// Layer 1 — offsets.
//
// A heap that several processes map at different addresses cannot store pointers: each
// process would read another's address. Every link inside a region is therefore a `Rel<T>`,
// an offset from a base that each process supplies from its own mapping. `RelSlice<T>` is the
// same for a run of elements (offset plus element count).
//
// Null is the all-ones offset, not 0: offset 0 is a real place (the base itself), and the
// seed's use of 0 both for "nothing" and "the first byte" is one of its traps.
//
// Nothing here allocates or checks bounds; the layers above check every offset they read
// from a region before turning it into an address.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>

namespace talc {

template <class T>
class Rel {
 public:
  static constexpr std::uint64_t kNull = ~std::uint64_t{0};

  constexpr Rel() noexcept = default;  // null
  static constexpr Rel from_offset(std::uint64_t off) noexcept { return Rel(off); }
  static constexpr Rel null() noexcept { return Rel(); }

  /// The offset of `p` from `base`; a null `p` gives a null Rel. `p` must not lie below `base`.
  static Rel from_ptr(const void* base, const T* p) noexcept {
    if (p == nullptr) return Rel();
    return Rel(static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p) -
                                          reinterpret_cast<std::uintptr_t>(base)));
  }

  /// The address this offset names in a mapping at `base`; null gives nullptr and no
  /// arithmetic at all (adding the null sentinel to a pointer would be undefined).
  T* to_ptr(void* base) const noexcept {
    if (is_null()) return nullptr;
    return reinterpret_cast<T*>(static_cast<std::byte*>(base) + off_);
  }
  const T* to_ptr(const void* base) const noexcept {
    if (is_null()) return nullptr;
    return reinterpret_cast<const T*>(static_cast<const std::byte*>(base) + off_);
  }

  constexpr bool is_null() const noexcept { return off_ == kNull; }
  constexpr explicit operator bool() const noexcept { return !is_null(); }
  constexpr std::uint64_t offset() const noexcept { return off_; }

  /// Null orders after every real offset, which keeps sorted containers of Rels meaningful.
  constexpr auto operator<=>(const Rel&) const noexcept = default;

 private:
  constexpr explicit Rel(std::uint64_t off) noexcept : off_(off) {}
  std::uint64_t off_ = kNull;
};

/// A run of `len` elements of T starting at an offset. A null slice has a null start and no
/// elements; an empty slice may still have a real start.
template <class T>
class RelSlice {
 public:
  constexpr RelSlice() noexcept = default;
  constexpr RelSlice(Rel<T> start, std::uint64_t len) noexcept : start_(start), len_(len) {}

  static RelSlice from_span(const void* base, std::span<const T> s) noexcept {
    return RelSlice(Rel<T>::from_ptr(base, s.data()), s.size());
  }

  std::span<T> to_span(void* base) const noexcept {
    if (start_.is_null()) return {};
    return {start_.to_ptr(base), static_cast<std::size_t>(len_)};
  }
  std::span<const T> to_span(const void* base) const noexcept {
    if (start_.is_null()) return {};
    return {start_.to_ptr(base), static_cast<std::size_t>(len_)};
  }

  constexpr Rel<T> start() const noexcept { return start_; }
  constexpr std::uint64_t size() const noexcept { return len_; }
  constexpr bool is_null() const noexcept { return start_.is_null(); }
  constexpr auto operator<=>(const RelSlice&) const noexcept = default;

 private:
  Rel<T> start_;
  std::uint64_t len_ = 0;
};

static_assert(sizeof(Rel<int>) == 8, "a Rel is one fixed-width word in every build");
static_assert(sizeof(RelSlice<int>) == 16);

}  // namespace talc
