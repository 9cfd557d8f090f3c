// Layer 4 — the core heap's reallocation: in place when the neighbours allow, else move.
//
// A shrink releases the block's tail as a chunk of its own (merging it with a free chunk
// above); a grow swallows the free chunk above. Otherwise resize() carves a new block, copies
// and releases the old one, all inside one journalled operation: a death at any instant leaves
// the old block intact and owned, or the new one complete. Every write into the old block is
// journalled (release<Keep = true>), since a roll-back gives it back with its bytes.
#pragma once

#include <cstring>

// A part of talc_meta.hpp, which includes it once the class is complete.
#ifndef TALC_INSIDE_TALC_META
#error "include talc/core/talc_meta.hpp, not its part files"
#endif

namespace talc {

template <class Bins, bool Journaled>
Errc TalcMeta<Bins, Journaled>::resize_in_place(const Chunk& c, std::uint64_t need) noexcept {
  const Tag tag = tag_at(c.base);
  const Tag up = tag_at(c.end());
  if (need <= c.size) {
    const std::uint64_t rest = c.size - need;
    if (rest < kMinChunk) return Errc::ok;  // too little to give back: the block keeps it
    // The tail becomes a live chunk of its own, then is released like any block (merging with
    // a free chunk above). Its tag and every word release writes into it are journalled: until
    // the commit, those bytes are still the caller's.
    const std::uint64_t merged = up.allocated() ? rest : rest + up.size();
    if ((!up.allocated() && !free_chunk_ok(c.end())) || !head_ok(merged)) return Errc::corrupted;
    const Chunk tail{c.base + need, rest};
    put_tag(c.base, tag.bits, Tag::make(need, true, tag.below_free()).bits);
    put(tail.base, Tag::make(rest, true, false).bits);
    ++counters_.live_chunks;  // the tail, until release counts it out
    release<true, true>(tail, merge_of(tail));
    return Errc::ok;
  }
  if (up.allocated() || up.size() < need - c.size) return Errc::out_of_memory;
  const std::uint64_t total = c.size + up.size();
  const std::uint64_t rest = total - need;
  const std::uint64_t up_bin = Bins::bin_of(up.size());
  const std::uint64_t rest_bin = rest >= kMinChunk ? Bins::bin_of(rest) : kNoBin;
  if (!free_chunk_ok(c.end()) ||
      (rest >= kMinChunk && rest_bin != up_bin && !bin_head_ok(rest_bin)))
    return Errc::corrupted;
  // The chunk above is swallowed: its tag is poisoned so that a stale pointer to it is refused.
  put_tag(c.end(), up.bits, Tag::poison().bits);
  std::uint64_t size = total;
  if (rest >= kMinChunk) {
    // The remainder takes the swallowed chunk's node. It may start on that chunk's node words,
    // which a roll-back needs back: everything it writes there is journalled, after the node
    // was read.
    const std::uint64_t r = c.base + need;
    rebin(c.end(), up_bin, r, rest_bin, false);
    put(r, Tag::make(rest, false, false).bits);
    put_unlogged(c.base + total - kTailFromEnd, rest);  // the swallowed chunk's tail
    size = need;
  } else {
    unlink(c.end(), up_bin);
    put_unlogged(c.base + total, get(c.base + total) & ~Tag::kBelowFree);
  }
  put_tag(c.base, tag.bits, Tag::make(size, true, tag.below_free()).bits);
  counters_.live_bytes += size - c.size;
  return Errc::ok;
}

// After carve(fit, need), the chunks beside `c` are the ones release_ok checked, or chunks carve
// built itself (the remainder of a chunk carved just below `c`, the gap of one carved just above
// it): what is left to check is the bin head of the chunk the release will link.
template <class Bins, bool Journaled>
bool TalcMeta<Bins, Journaled>::release_after_carve_ok(const Chunk& c, const Fit& fit,
                                                       std::uint64_t need) const noexcept {
  if (!release_ok(c)) return false;
  std::uint64_t size = c.size;
  const std::uint64_t rest = fit.size - fit.gap - need;
  if (fit.base + fit.size == c.base) {
    if (rest >= kMinChunk) size += rest;
  } else if (tag_at(c.base).below_free()) {
    size += get(c.base - kTailFromEnd);
  }
  if (fit.base == c.end()) {
    size += fit.gap;
  } else if (!tag_at(c.end()).allocated()) {
    size += tag_at(c.end()).size();
  }
  return head_ok(size);
}

template <class Bins, bool Journaled>
Result<void*> TalcMeta<Bins, Journaled>::reallocate(void* p, std::size_t size,
                                                    std::size_t align) noexcept {
  if (const Errc e = request_error(size, align); e != Errc::ok) return e;
  const Result<Chunk> live = live_chunk(p);
  if (!live) return live.error();
  const Result<void*> q = resize(*live, p, size, align);
  if (!q) return q;
  count(&HeapCounters::reallocations);
  commit();
  return q;
}

template <class Bins, bool Journaled>
Result<void*> TalcMeta<Bins, Journaled>::reallocate_from(const void* owner, std::size_t word,
                                                         std::size_t size, std::size_t align,
                                                         std::uint64_t bias) noexcept {
  if (const Errc e = request_error(size, align); e != Errc::ok) return e;
  const Result<std::uint64_t> slot = slot_of(owner, word);
  if (!slot) return slot.error();
  return reallocate_at(*slot, size, align, bias);
}

template <class Bins, bool Journaled>
Result<void*> TalcMeta<Bins, Journaled>::reallocate_at(std::uint64_t slot, std::size_t size,
                                                       std::size_t align,
                                                       std::uint64_t bias) noexcept {
  if (const Errc e = request_error(size, align); e != Errc::ok) return e;
  const std::uint64_t value = get(slot);
  if (value == Rel<FreeHead>::kNull) return Errc::null_pointer;
  if (value < bias || value - bias >= span_) return Errc::foreign_pointer;
  void* p = address_of(value - bias);
  const Result<Chunk> target = live_chunk(p);
  if (!target) return target.error();
  if (slot >= target->base && slot < target->end()) return Errc::foreign_pointer;
  const Result<void*> q = resize(*target, p, size, align);
  if (!q) return q;
  if (*q != p) put(slot, value, offset_of(*q) + bias);
  count(&HeapCounters::reallocations);
  commit();
  return q;
}

template <class Bins, bool Journaled>
Result<void*> TalcMeta<Bins, Journaled>::resize(const Chunk& c, void* p, std::size_t size,
                                                std::size_t align) noexcept {
  const std::uint64_t need = chunk_size_for(size);
  if ((reinterpret_cast<std::uintptr_t>(p) & (align - 1)) == 0) {
    const Errc e = resize_in_place(c, need);
    if (e == Errc::ok) return p;
    if (e != Errc::out_of_memory) return e;
  }
  Errc why;
  const Fit fit = plan(size, align, why);
  if (why != Errc::ok) return refused(why);
  if (!release_after_carve_ok(c, fit, need)) return Errc::corrupted;
  // The copy lands on the carved chunk's node words when the block starts there; a roll-back
  // relinks that chunk and needs them, so they are journalled (as writes of their own value).
  if (fit.gap == 0) {
    put(fit.base + kNextOffset, get(fit.base + kNextOffset));
    put(fit.base + kPrevLinkOffset, get(fit.base + kPrevLinkOffset));
  }
  void* q = carve(fit, need);
  const std::uint64_t keep = c.size - kTagSize;
  std::memcpy(q, p, keep < size ? keep : size);
  release<true>(c, merge_of(c));  // checked before carve, by release_after_carve_ok
  return q;
}

template <class Bins, bool Journaled>
Errc TalcMeta<Bins, Journaled>::try_grow(void* p, std::size_t size) noexcept {
  if (size > kMaxRequest) return Errc::size_overflow;
  const Result<Chunk> live = live_chunk(p);
  if (!live) return live.error();
  const std::uint64_t need = chunk_size_for(size);
  if (need <= live->size) return Errc::ok;
  const Errc e = resize_in_place(*live, need);
  if (e != Errc::ok) return refused(e);
  count(&HeapCounters::reallocations);
  commit();
  return Errc::ok;
}

template <class Bins, bool Journaled>
Errc TalcMeta<Bins, Journaled>::try_shrink(void* p, std::size_t size) noexcept {
  const Result<Chunk> live = live_chunk(p);
  if (!live) return live.error();
  if (size > kMaxRequest) return Errc::ok;  // larger than any block: nothing to give back
  const std::uint64_t need = chunk_size_for(size);
  if (need + kMinChunk > live->size) return Errc::ok;
  const Errc e = resize_in_place(*live, need);
  if (e != Errc::ok) return e;
  count(&HeapCounters::reallocations);
  commit();
  return Errc::ok;
}

}  // namespace talc
