// Public header, of no layer: a pointer that can live inside a shared region.
//
// `OffsetPtr<T>` is what containers store when their memory comes from a shared heap: it keeps
// the distance from its own address to the object it points to, not the object's address. Two
// things in one region keep the same distance in every process, whatever address each maps the
// region at, so a structure of OffsetPtrs built by one process is read by another unchanged;
// a heap moved or reopened from a file keeps working too. The price is that an OffsetPtr is not
// trivially copyable: copying it (construction or assignment) recomputes the distance for the
// copy's own address, and a memcpy of one is wrong.
//
// It has the whole interface of a raw pointer (dereference, indexing, arithmetic, comparison,
// the implicit conversions a T* has) plus the members std::pointer_traits and
// std::iterator_traits look for, which is what allocator-aware containers (Boost.Container)
// need from an allocator's `pointer`. Rel<T> (core/rel.hpp) is the other kind of offset: from the
// region's base, which every process must supply; an OffsetPtr needs nothing but itself.
#pragma once

#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <type_traits>

namespace talc {

template <class T>
class OffsetPtr {
 public:
  using element_type = T;
  using difference_type = std::ptrdiff_t;
  using value_type = std::remove_cv_t<T>;
  using pointer = T*;
  using reference = std::add_lvalue_reference_t<T>;
  using iterator_category = std::random_access_iterator_tag;
  template <class U>
  using rebind = OffsetPtr<U>;

  OffsetPtr() noexcept = default;
  /// From a T*, nullptr or a literal 0 (containers write `pointer p = 0;`): one constructor, so
  /// that 0 is not ambiguous between a null and a pointer overload.
  OffsetPtr(T* p) noexcept { set(p); }  // NOLINT: implicit, like a raw pointer

  /// A copy points where the original points: the distance is its own.
  OffsetPtr(const OffsetPtr& o) noexcept { set(o.get()); }
  OffsetPtr& operator=(const OffsetPtr& o) noexcept {
    set(o.get());
    return *this;
  }
  OffsetPtr& operator=(T* p) noexcept {
    set(p);
    return *this;
  }

  /// The conversions a raw pointer has implicitly (T* to const T*, derived to base, any to
  /// void*), and the ones it has only through a cast, explicitly.
  template <class U>
  requires std::convertible_to<U*, T*> OffsetPtr(const OffsetPtr<U>& o)
  noexcept {  // NOLINT: implicit, like a raw pointer
    set(o.get());
  }
  template <class U>
  requires(!std::convertible_to<U*, T*> && requires(U * u) {
    static_cast<T*>(u);
  }) explicit OffsetPtr(const OffsetPtr<U>& o) noexcept {
    set(static_cast<T*>(o.get()));
  }

  T* get() const noexcept {
    if (off_ == kNull) return nullptr;
    return reinterpret_cast<T*>(self() + static_cast<std::uintptr_t>(off_));
  }
  explicit operator bool() const noexcept { return off_ != kNull; }
  bool operator!() const noexcept { return off_ == kNull; }

  template <class U = T>
  requires(!std::is_void_v<U>) U& operator*() const noexcept { return *get(); }
  T* operator->() const noexcept { return get(); }
  template <class U = T>
  requires(!std::is_void_v<U>) U& operator[](difference_type i) const noexcept { return get()[i]; }

  /// What std::pointer_traits<OffsetPtr<T>>::pointer_to calls.
  template <class U = T>
  requires(!std::is_void_v<U>) static OffsetPtr pointer_to(U& r) noexcept {
    return OffsetPtr(std::addressof(r));
  }

  /// Arithmetic moves the target, as on a T*; the stored distance moves by the same bytes.
  OffsetPtr& operator+=(difference_type n) noexcept requires(!std::is_void_v<T>) {
    set(get() + n);
    return *this;
  }
  OffsetPtr& operator-=(difference_type n) noexcept requires(!std::is_void_v<T>) {
    set(get() - n);
    return *this;
  }
  OffsetPtr& operator++() noexcept requires(!std::is_void_v<T>) { return *this += 1; }
  OffsetPtr& operator--() noexcept requires(!std::is_void_v<T>) { return *this -= 1; }
  OffsetPtr operator++(int) noexcept requires(!std::is_void_v<T>) {
    OffsetPtr old(*this);
    ++*this;
    return old;
  }
  OffsetPtr operator--(int) noexcept requires(!std::is_void_v<T>) {
    OffsetPtr old(*this);
    --*this;
    return old;
  }
  friend OffsetPtr operator+(const OffsetPtr& p, difference_type n) noexcept
      requires(!std::is_void_v<T>) {
    return OffsetPtr(p.get() + n);
  }
  friend OffsetPtr operator+(difference_type n, const OffsetPtr& p) noexcept
      requires(!std::is_void_v<T>) {
    return OffsetPtr(p.get() + n);
  }
  friend OffsetPtr operator-(const OffsetPtr& p, difference_type n) noexcept
      requires(!std::is_void_v<T>) {
    return OffsetPtr(p.get() - n);
  }
  friend difference_type operator-(const OffsetPtr& a, const OffsetPtr& b) noexcept
      requires(!std::is_void_v<T>) {
    return a.get() - b.get();
  }

  /// The distance as stored, for tests and for code that inspects region bytes.
  std::intptr_t raw_distance() const noexcept { return off_; }
  static constexpr std::intptr_t kNull = INTPTR_MIN;

 private:
  std::uintptr_t self() const noexcept { return reinterpret_cast<std::uintptr_t>(this); }
  /// The distance is computed on integers: the target and this object are often not parts of
  /// one array, where pointer subtraction would be undefined.
  void set(T* p) noexcept {
    off_ = p == nullptr ? kNull
                        : static_cast<std::intptr_t>(reinterpret_cast<std::uintptr_t>(p) - self());
  }

  /// Null is the most negative distance, not 0: 0 is a real target (an OffsetPtr<void> may point
  /// at itself), and no two addresses of one process are 2^63 bytes apart.
  std::intptr_t off_ = kNull;
};

template <class T, class U>
bool operator==(const OffsetPtr<T>& a, const OffsetPtr<U>& b) noexcept {
  return a.get() == b.get();
}
template <class T, class U>
std::strong_ordering operator<=>(const OffsetPtr<T>& a, const OffsetPtr<U>& b) noexcept {
  return std::compare_three_way{}(a.get(), b.get());
}
template <class T>
bool operator==(const OffsetPtr<T>& a, std::nullptr_t) noexcept {
  return !a;
}
template <class T, class U>
bool operator==(const OffsetPtr<T>& a, U* b) noexcept {
  return a.get() == b;
}
template <class T, class U>
std::strong_ordering operator<=>(const OffsetPtr<T>& a, U* b) noexcept {
  return std::compare_three_way{}(a.get(), b);
}

/// The casts of raw pointers, for code that converts an allocator's pointers (a container's
/// void pointer back to its node type, say).
template <class T, class U>
OffsetPtr<T> static_pointer_cast(const OffsetPtr<U>& p) noexcept {
  return OffsetPtr<T>(static_cast<T*>(p.get()));
}
template <class T, class U>
OffsetPtr<T> const_pointer_cast(const OffsetPtr<U>& p) noexcept {
  return OffsetPtr<T>(const_cast<T*>(p.get()));
}
template <class T, class U>
OffsetPtr<T> reinterpret_pointer_cast(const OffsetPtr<U>& p) noexcept {
  return OffsetPtr<T>(reinterpret_cast<T*>(p.get()));
}
template <class T, class U>
OffsetPtr<T> dynamic_pointer_cast(const OffsetPtr<U>& p) noexcept {
  return OffsetPtr<T>(dynamic_cast<T*>(p.get()));
}

}  // namespace talc
