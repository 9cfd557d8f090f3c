// Layer 8 — the face's slow path: the heap's lock, growth and out of memory, damage recorded.
//
// Every call of face/talc.hpp that a lane cannot serve comes here. locked() runs a core
// operation under the heap's lock (TalckMeta::with_lock, in sync/), after checking that the
// heap's span still lies inside what this process maps; a recovery from a dead holder is
// reported to this process's handler, and damage found is recorded in the header for every
// opener (record_damage, mark_if_corrupted). growing() is the out-of-memory loop: the empty
// pages given back, then the region grown (region/growth.hpp), then the user's handler asked,
// outside the lock.
#pragma once

// A part of face/talc.hpp, which includes it once the class is complete.
#ifndef TALC_INSIDE_TALC
#error "include talc/face/talc.hpp, not its part files"
#endif

namespace talc {

// try_allocate, past its fast path: a new page for the lane under the lock, an aligned request,
// a thread with no lane, a request too large for a page, growth and out of memory.
template <class Bins>
Result<Meta> Talc<Bins>::allocate_slow(std::size_t size, std::size_t align) noexcept {
  if (size <= PageConfig::kMaxRequest && is_power_of_two(align)) {
    if (const LaneOwner* held = heap().thread_lane()) {
      // A copy: a callback run on the way (out of memory, recovery) may use another heap,
      // whose record then takes this one's place in the thread's records.
      const LaneOwner o = *held;
      if (align <= kGranule) {
        const std::uint64_t u = heap().lane_allocate(o, size);
        if (u != Heap::kNull) return Meta{base_, meta_offset() + u, size};
        const Result<void*> r =
            growing(size, align, [&](auto& core) { return heap().refill_allocate(core, o, size); });
        if (!r) return r.error();
        return Meta{base_, offset_of(*r), size};
      }
      if (const std::optional<Result<Meta>> r = allocate_aligned_page(o, size, align)) return *r;
    }
  }
  if (const Errc e = align_error(align); e != Errc::ok) return e;
  const Result<void*> r =
      growing(size, align, [&](auto& core) { return core.allocate(size, align); });
  if (!r) return r.error();
  return Meta{base_, offset_of(*r), size};
}

template <class Bins>
template <class F>
inline Errc Talc<Bins>::resize_in_place(Meta& m, std::size_t size, F&& f) noexcept {
  if (const Errc e = own(m); e != Errc::ok) return e;
  // A page's block has the size of its class: it grows in place up to that, and never shrinks.
  if (const std::optional<Result<std::size_t>> usable = heap().page_usable(m.ptr())) {
    if (!*usable) return usable->error();
    if (size > **usable) return Errc::out_of_memory;
    m.size = size;
    return Errc::ok;
  }
  Errc r = Errc::corrupted;
  const Errc e = locked([&](auto& core) {
    r = heap().refuse_cached(core, m.ptr());
    if (r == Errc::ok) r = record_damage(f(core, m.ptr(), size));
  });
  if (e != Errc::ok) return e;
  if (r == Errc::ok) m.size = size;
  return r;
}

template <class Bins>
inline Result<Meta> Talc<Bins>::reallocate_page(const Meta& m, Result<std::size_t> usable,
                                                std::size_t size, std::size_t align) noexcept {
  if (!usable) return usable.error();
  if (size != 0 && size <= *usable && align <= kGranule) return Meta{base_, m.offset, size};
  // Moved, as the core moves a block it cannot resize in place: the new block first, so that a
  // refusal leaves the old one the caller's.
  const Result<Meta> r = try_allocate(size, align);
  if (!r) return r.error();
  std::memcpy(r->ptr(), m.ptr(), std::min(*usable, size));
  (void)deallocate(m.ptr());
  return r;
}

// An aligned request from a page: every block of a class whose chunk size is a multiple of the
// alignment is aligned (page.hpp), so the request takes such a class's block, from the page or,
// when the lane's pages have none, through the lock. nullopt when no class serves it so (it is
// then the core's); the address is checked, since a region's base may be less aligned here.
template <class Bins>
inline std::optional<Result<Meta>> Talc<Bins>::allocate_aligned_page(const LaneOwner& o,
                                                                     std::size_t size,
                                                                     std::size_t align) noexcept {
  if (align_error(align) != Errc::ok) return std::nullopt;
  const std::size_t s = heap().page_request(size, align);
  if (s == 0) return std::nullopt;
  std::uint64_t u = heap().lane_allocate(o, s);
  if (u == Heap::kNull) {
    const Result<void*> r =
        growing(s, align, [&](auto& core) { return heap().refill_allocate(core, o, s, align); });
    if (!r) return Result<Meta>(r.error());
    u = offset_of(*r) - meta_offset();
  }
  const Meta m{base_, meta_offset() + u, size};
  if ((reinterpret_cast<std::uintptr_t>(m.ptr()) & (align - 1)) == 0) return Result<Meta>(m);
  (void)deallocate(m.ptr());
  return std::nullopt;
}

template <class Bins>
template <class Op>
inline Result<void*> Talc<Bins>::growing(std::size_t size, std::size_t align, Op&& op) noexcept {
  // A request no size of the region could hold goes to the core alone, which refuses (and
  // counts) it: giving pages back or growing the region would change bytes for nothing.
  const bool hopeless = size >= std::max<std::uint64_t>(header_->max_size(), size_);
  for (;;) {
    Result<void*> r = Errc::corrupted;
    const Errc e = locked([&](auto& core) {
      if (hopeless) {
        r = record_damage(op(core));
        return;
      }
      r = heap().retry_after_release(core, [&] { return op(core); });
      if (r.error() == Errc::out_of_memory && grow_heap(*header_, core, size, align)) r = op(core);
      r = record_damage(r);
    });
    if (e != Errc::ok) return e;
    if (r.error() != Errc::out_of_memory || !on_out_of_memory_) return r;
    bool again = false;
    try {
      again = on_out_of_memory_(size);
    } catch (...) {  // a handler that fails has not freed anything
    }
    if (!again) return r;
  }
}

template <class Bins>
Errc Talc<Bins>::free_locked(void* p) noexcept {
  Errc r = Errc::corrupted;
  const Errc e = locked([&](auto& core) { r = record_damage(heap().free_locked(core, p)); });
  return e != Errc::ok ? e : r;
}

template <class Bins>
inline Errc Talc<Bins>::named_cached(TalcMeta<Bins>& core, const Meta& owner,
                                     std::size_t word) noexcept {
  if (heap().heaps_own(core, core.offset_of(owner.ptr()))) return Errc::foreign_pointer;
  if (heap().refuse_cached(core, owner.ptr()) == Errc::not_allocated)
    return Errc::not_allocated;  // the owner itself is a stale handle: a free block of a page
  const Result<std::size_t> usable = core.usable_size(owner.ptr());
  if (!usable || word >= *usable / kWord) return Errc::ok;
  const std::uint64_t value = load_word(static_cast<std::byte*>(owner.ptr()), word * kWord);
  if (value >= size_ || value < meta_offset()) return Errc::ok;
  return heap().refuse_cached(core, base_ + value) == Errc::not_allocated ? Errc::not_allocated
                                                                          : Errc::ok;
}

template <class Bins>
template <class R>
inline R Talc<Bins>::record_damage(R r) noexcept {
  if constexpr (std::is_same_v<R, Errc>) {
    mark_if_corrupted(*header_, r);
  } else {
    mark_if_corrupted(*header_, r.error());
  }
  return r;
}

template <class Bins>
template <class F>
inline Errc Talc<Bins>::locked(F&& f) noexcept {
  bool recovered = false, beyond = false, torn = false;
  const Errc e = heap().with_lock(
      [&](auto& core) {
        const std::uint64_t span = core.span();
        beyond = span > size_ - meta_offset();
        torn = !beyond && (span < kTagSize || core.heap_end() > span - kTagSize);
        if (torn) mark_if_corrupted(*header_, Errc::corrupted);
        if (!beyond && !torn) f(core);
      },
      &recovered, lock_wait_);
  if (e == Errc::corrupted) header_->mark_corrupted();
  if (recovered && on_recovery_) {
    try {
      on_recovery_();
    } catch (...) {  // a handler's failure must not undo a good operation
    }
  }
  if (e != Errc::ok) return e;
  return beyond ? Errc::region_truncated : torn ? Errc::corrupted : Errc::ok;
}

template <class Bins>
inline void Talc<Bins>::raise(Errc e) {
  if (e == Errc::out_of_memory) throw std::bad_alloc();
  throw OpenError(e, describe(e));
}

}  // namespace talc
