// Layer 4 — the core heap's allocation path: find a fitting free chunk, carve the block.
//
// plan() checks the request and finds the chunk (find(): the request's own bin is probed a few
// chunks deep, then the first non-empty bin whose every chunk fits is taken); carve() carves the
// block out of it, freeing a leading alignment gap and a trailing remainder as chunks of their
// own. Neither commits: allocate(), allocate_into(), allocate_marked() do,
// after publishing what each promises. Before the first write, every offset carve() will write
// through has been checked (free_chunk_ok, head_ok), so a damaged heap is refused with nothing
// changed.
#pragma once

// A part of talc_meta.hpp, which includes it once the class is complete.
#ifndef TALC_INSIDE_TALC_META
#error "include talc/core/talc_meta.hpp, not its part files"
#endif

namespace talc {

// The distance from a free chunk's base to the tag of an aligned block carved from it: 0 when
// its natural user pointer is aligned, otherwise at least kMinChunk so the gap can be freed.
template <class Bins, bool Journaled>
std::uint64_t TalcMeta<Bins, Journaled>::gap_for(std::uint64_t base,
                                                 std::uint64_t align) const noexcept {
  if (align <= kGranule) return 0;
  const std::uint64_t mis = (addr() + base + kTagSize) & (align - 1);
  if (mis == 0) return 0;
  const std::uint64_t gap = align - mis;  // a multiple of kGranule, at least kGranule
  return gap < kMinChunk ? gap + align : gap;
}

template <class Bins, bool Journaled>
typename TalcMeta<Bins, Journaled>::Fit TalcMeta<Bins, Journaled>::find(
    std::uint64_t need, std::uint64_t align) const noexcept {
  const std::uint64_t own = Bins::bin_of(need);
  // Every chunk from this bin on fits, whatever gap its alignment costs (at most align + 16).
  const std::uint64_t sure = align <= kGranule ? (Bins::lower_bound(own) >= need ? own : own + 1)
                                               : Bins::first_bin_at_least(need + align + kGranule);
  for (std::uint64_t b = next_available_bin(own); b != kNoBin; b = next_available_bin(b + 1)) {
    std::uint64_t c = get(head_slot(b));
    for (int i = 0;;) {
      if (!free_chunk_ok(c)) return Fit{.corrupt = true};
      const std::uint64_t size = tag_at(c).size();
      const std::uint64_t gap = gap_for(c, align);
      if (gap + need <= size) return Fit{c, size, gap, b};
      // Every chunk of a bin from `sure` on fits: one that does not is listed where it does not
      // belong, and carving it would write past its end.
      if (b >= sure) return Fit{.corrupt = true};
      if (++i == kProbe) break;
      c = get(c + kNextOffset);
      if (c == Rel<FreeHead>::kNull) break;
    }
  }
  return Fit{};
}

template <class Bins, bool Journaled>
void* TalcMeta<Bins, Journaled>::carve(const Fit& fit, std::uint64_t need) noexcept {
  const std::uint64_t old_tag = Tag::make(fit.size, false, false).bits;
  const std::uint64_t end = fit.base + fit.size;
  const std::uint64_t block = fit.base + fit.gap;
  const std::uint64_t rest = fit.size - fit.gap - need;
  const std::uint64_t size = rest >= kMinChunk ? need : need + rest;
  const std::uint64_t tag = Tag::make(size, true, fit.gap != 0).bits;
  TALC_ASSERT(need % kGranule == 0 && need >= kMinChunk && fit.gap + need <= fit.size);
  TALC_ASSERT(fit.gap == 0 || fit.gap >= kMinChunk);
  // The chunk's own tag is written first, named by put_tag: the writes below change its tail
  // and the flag above it, which a roll-back repairs around the chunks so named. The chunk's
  // node goes to the gap when there is one (it keeps the chunk's base), else to the remainder.
  if (fit.gap != 0) {
    put_tag(fit.base, old_tag, Tag::make(fit.gap, false, false).bits);
    put_unlogged(block - kTailFromEnd, fit.gap);
    rebin(fit.base, fit.bin, fit.base, fit.gap_bin, false);
  } else {
    put_tag(block, old_tag, tag);
  }
  if (rest >= kMinChunk) {  // the remainder keeps the chunk's tail; its tag and node are new
    // The chunk above already says BELOW_FREE: fit.base was free.
    put_unlogged(block + need, Tag::make(rest, false, false).bits);
    put_unlogged(end - kTailFromEnd, rest);
    if (fit.gap != 0) {
      link(block + need, fit.rest_bin, true);
    } else {
      rebin(fit.base, fit.bin, block + need, fit.rest_bin, true);
    }
  } else {
    if (fit.gap == 0) unlink(fit.base, fit.bin);
    put_unlogged(end, get(end) & ~Tag::kBelowFree);
  }
  ++counters_.live_chunks;
  counters_.live_bytes += size;
  // Journalled, though it lies inside the chunk a roll-back gives back: it is an allocated tag
  // with a free chunk below and a well-formed tag above, which a free without the lock would
  // take for a live chunk if it stayed there.
  if (fit.gap != 0) put(block, tag);
  return address_of(block + kTagSize);
}

template <class Bins, bool Journaled>
typename TalcMeta<Bins, Journaled>::Fit TalcMeta<Bins, Journaled>::plan(std::size_t size,
                                                                        std::size_t align,
                                                                        Errc& why) const noexcept {
  why = request_error(size, align);
  if (why != Errc::ok) return Fit{};
  const std::uint64_t need = chunk_size_for(size);
  Fit fit = find(need, align);
  if (fit.corrupt) {
    why = Errc::corrupted;
    return fit;
  }
  if (fit.base == Rel<FreeHead>::kNull) {
    why = Errc::out_of_memory;
    return fit;
  }
  why = bins_for(fit, need);
  return fit;
}

// The bins a carve of `need` bytes out of `fit` links into; a bin whose head is not a chunk is
// damage (corrupted). The chunk's own bin needs no look: free_chunk_ok has checked the links
// its node takes along.
template <class Bins, bool Journaled>
Errc TalcMeta<Bins, Journaled>::bins_for(Fit& fit, std::uint64_t need) const noexcept {
  const std::uint64_t rest = fit.size - fit.gap - need;
  bool heads_ok = true;
  if (fit.gap != 0) {
    fit.gap_bin = Bins::bin_of(fit.gap);
    heads_ok = fit.gap_bin == fit.bin || bin_head_ok(fit.gap_bin);
  }
  if (rest >= kMinChunk) {
    fit.rest_bin = rest >= Bins::lower_bound(fit.bin) ? fit.bin : Bins::bin_of(rest);
    heads_ok = heads_ok && ((fit.gap == 0 && fit.rest_bin == fit.bin) || bin_head_ok(fit.rest_bin));
  }
  return heads_ok ? Errc::ok : Errc::corrupted;
}

template <class Bins, bool Journaled>
Errc TalcMeta<Bins, Journaled>::request_error(std::size_t size, std::size_t align) noexcept {
  return !is_power_of_two(align) ? Errc::bad_alignment
         : align > kMaxAlign     ? Errc::alignment_too_large
         : size > kMaxRequest    ? Errc::size_overflow
                                 : Errc::ok;
}

template <class Bins, bool Journaled>
Result<void*> TalcMeta<Bins, Journaled>::allocate(std::size_t size, std::size_t align) noexcept {
  Errc why;
  const Fit fit = plan(size, align, why);
  if (why != Errc::ok) return refused(why);
  void* p = carve(fit, chunk_size_for(size));
  count(&HeapCounters::allocations);
  commit();
  return p;
}

template <class Bins, bool Journaled>
std::uint64_t TalcMeta<Bins, Journaled>::fit_size(std::size_t size,
                                                  std::size_t align) const noexcept {
  if (request_error(size, align) != Errc::ok) return 0;
  const Fit fit = find(chunk_size_for(size), align);
  return fit.corrupt ? 0 : fit.size;
}

template <class Bins, bool Journaled>
Result<void*> TalcMeta<Bins, Journaled>::allocate_zeroed(std::size_t size,
                                                         std::size_t align) noexcept {
  const Result<void*> r = allocate(size, align);
  if (r) std::memset(*r, 0, size);
  return r;
}

template <class Bins, bool Journaled>
Result<std::uint64_t> TalcMeta<Bins, Journaled>::slot_of(const void* owner,
                                                         std::size_t word) const noexcept {
  const Result<Chunk> c = live_chunk(owner);
  if (!c) return c.error();
  if (word >= (c->size - kTagSize) / kWord) return Errc::foreign_pointer;
  return c->user() + word * kWord;
}

template <class Bins, bool Journaled>
Result<void*> TalcMeta<Bins, Journaled>::allocate_into(const void* owner, std::size_t word,
                                                       std::size_t size, std::size_t align,
                                                       std::uint64_t bias) noexcept {
  const Result<std::uint64_t> slot = slot_of(owner, word);
  if (!slot) return slot.error();
  return allocate_at(*slot, size, align, bias);
}

template <class Bins, bool Journaled>
Result<void*> TalcMeta<Bins, Journaled>::allocate_at(std::uint64_t slot, std::size_t size,
                                                     std::size_t align,
                                                     std::uint64_t bias) noexcept {
  if (get(slot) != Rel<FreeHead>::kNull) return Errc::slot_occupied;
  Errc why;
  const Fit fit = plan(size, align, why);
  if (why != Errc::ok) return refused(why);
  void* p = carve(fit, chunk_size_for(size));
  put(slot, offset_of(p) + bias);
  count(&HeapCounters::allocations);
  commit();
  return p;
}

template <class Bins, bool Journaled>
Result<void*> TalcMeta<Bins, Journaled>::allocate_marked(std::size_t size, std::size_t align,
                                                         std::uint64_t mark) noexcept {
  Errc why;
  const Fit fit = plan(size < kWord ? kWord : size, align, why);
  if (why != Errc::ok) return refused(why);
  void* p = carve(fit, chunk_size_for(size < kWord ? kWord : size));
  put(offset_of(p), mark);  // a user word of a chunk: roll_back believes it
  count(&HeapCounters::allocations);
  commit();
  return p;
}

}  // namespace talc
