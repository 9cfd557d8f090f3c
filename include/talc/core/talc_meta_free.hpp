// Layer 4 — the core heap's release path: check a pointer handed back, merge, relink.
//
// live_chunk() proves in constant time what can be proved about a pointer (bounds, phase, its
// tag, and both neighbours agreeing that it is an allocated chunk), so a double free, a foreign
// pointer or one into the middle of a block is refused before anything is written. merge_of()
// plans the release and checks every offset it will write through; release() then merges the
// chunk with its free neighbours (no two free chunks are ever adjacent, I3). The result takes
// over the node of the neighbour it grew from when it stays in that neighbour's bin (the usual
// case: a small block freed next to a large free chunk), and is linked into its bin otherwise.
#pragma once

// A part of talc_meta.hpp, which includes it once the class is complete.
#ifndef TALC_INSIDE_TALC_META
#error "include talc/core/talc_meta.hpp, not its part files"
#endif

namespace talc {

// The allocated chunk whose user pointer is `p`, after checking everything that can be checked
// in constant time: bounds, phase, the tag, the chunk above agreeing that this one is
// allocated, and the free chunk below (when the tag names one) agreeing with its own size.
// A lane asks it without the lock (`Locked` false): then the words it reads must be ones no
// user writes while the block is live, and an answer of "no" may be a neighbour caught in the
// middle of an operation, to be asked again under the lock. The block's own tag and the tag
// above it are such words (whatever happens around a live block, a tag starts where it ends,
// rewritten whole); the tail below is not (the free chunk below may be allocated meanwhile and
// its bytes written), so it is read only under the lock. That costs the lock-free answer
// nothing it could stand on: the look below only tests a tag that claims a free chunk there,
// and a forged tag could as well claim none. The free that merges with the chunk below takes
// the lock, and makes the look there. What no answer without the lock can tell: the tag of a
// block that an operation under the lock has carved and not yet committed (or whose holder
// died before the commit, until the roll-back). Only a pointer that names a block nobody holds
// yet can meet it (a double free racing with the allocation of the same bytes), which no
// allocator tells from a free of the new block. Every tag a carve writes is journalled, so
// none outlives a roll-back.
template <class Bins, bool Journaled>
template <bool Locked>
Result<Chunk> TalcMeta<Bins, Journaled>::live_chunk(const void* p) const noexcept {
  if (p == nullptr) return Errc::null_pointer;
  const std::uint64_t end = heap_end_unlocked();
  const std::uintptr_t pa = reinterpret_cast<std::uintptr_t>(p);
  if (pa < addr() + heap_start_ + kTagSize || pa >= addr() + end) return Errc::foreign_pointer;
  const std::uint64_t base = Chunk::base_of_user(pa - addr());
  if (base % kGranule != kChunkPhase) return Errc::foreign_pointer;
  const Tag tag = tag_at(base);
  if (!tag.well_formed()) return Errc::foreign_pointer;
  if (!tag.allocated()) return Errc::not_allocated;
  const std::uint64_t size = tag.size();
  if (size < kMinChunk || size > end - base) return Errc::foreign_pointer;
  const std::uint64_t above = base + size;
  const Tag up = tag_at(above);
  if (!up.well_formed() || up.below_free()) return Errc::foreign_pointer;
  if (above == end ? up.size() != 0 || !up.allocated()
                   : up.size() < kMinChunk || up.size() > end - above)
    return Errc::foreign_pointer;
  if (Locked && tag.below_free()) {
    if (base - heap_start_ < kMinChunk) return Errc::foreign_pointer;
    const std::uint64_t below_size = get(base - kTailFromEnd);
    if (below_size < kMinChunk || below_size % kGranule != 0 || below_size > base - heap_start_)
      return Errc::foreign_pointer;
    const Tag down = tag_at(base - below_size);
    if (down.bits != Tag::make(below_size, false, false).bits) return Errc::foreign_pointer;
  }
  if (checked() && !is_chunk_start(base)) return Errc::foreign_pointer;
  return Chunk{base, size};
}

template <class Bins, bool Journaled>
bool TalcMeta<Bins, Journaled>::is_chunk_start(std::uint64_t base) const noexcept {
  std::uint64_t off = heap_start_;
  while (off < base) {
    const std::uint64_t size = tag_at(off).size();
    if (size < kMinChunk || size > heap_end_ - off) return false;
    off += size;
  }
  return off == base;
}

template <class Bins, bool Journaled>
Errc TalcMeta<Bins, Journaled>::deallocate(void* p) noexcept {
  const Result<Chunk> live = live_chunk(p);
  if (!live) return live.error();
  return deallocate_live(*live);
}

// Inlined into deallocate() and the face's free under the lock (LaneHeap::free_locked): as a
// call of its own it cost a free 20 instructions (talc_op_cost talc_core pair64: 468 against
// 448 per operation).
template <class Bins, bool Journaled>
[[gnu::always_inline]] inline Errc TalcMeta<Bins, Journaled>::deallocate_live(
    const Chunk& live) noexcept {
  const Merge m = merge_of(live);
  if (!m.ok) return Errc::corrupted;
  release(live, m);
  ++counters_.deallocations;  // a free never raises the peak
  commit();
  return Errc::ok;
}

template <class Bins, bool Journaled>
Errc TalcMeta<Bins, Journaled>::deallocate_from(const void* owner, std::size_t word,
                                                std::uint64_t bias) noexcept {
  const Result<std::uint64_t> slot = slot_of(owner, word);
  if (!slot) return slot.error();
  return release_named(*slot, bias);
}

template <class Bins, bool Journaled>
Errc TalcMeta<Bins, Journaled>::deallocate_at(std::uint64_t slot, std::uint64_t bias) noexcept {
  return release_named(slot, bias);
}

template <class Bins, bool Journaled>
Errc TalcMeta<Bins, Journaled>::release_named(std::uint64_t slot, std::uint64_t bias) noexcept {
  const std::uint64_t value = get(slot);
  if (value == Rel<FreeHead>::kNull) return Errc::null_pointer;
  if (value < bias || value - bias >= span_) return Errc::foreign_pointer;
  const Result<Chunk> target = live_chunk(address_of(value - bias));
  if (!target) return target.error();
  if (slot >= target->base && slot < target->end()) return Errc::foreign_pointer;
  const Merge m = merge_of(*target);
  if (!m.ok) return Errc::corrupted;
  release(*target, m);
  put(slot, Rel<FreeHead>::kNull);
  ++counters_.deallocations;  // a free never raises the peak
  commit();
  return Errc::ok;
}

// The free chunk that releasing `c` leaves, and the neighbours it swallows. live_chunk has
// matched the tail below with the tag it names; the neighbours' links are checked here, and the
// head of the bin the result joins when it does not simply keep a neighbour's place.
template <class Bins, bool Journaled>
typename TalcMeta<Bins, Journaled>::Merge TalcMeta<Bins, Journaled>::merge_of(
    const Chunk& c) const noexcept {
  std::uint64_t base = c.base, size = c.size, below_bin = 0, above_size = 0, above_bin = 0;
  if (tag_at(c.base).below_free()) {
    const std::uint64_t below_size = get(c.base - kTailFromEnd);
    base -= below_size;
    size += below_size;
    below_bin = Bins::bin_of(below_size);
    if (!free_chunk_ok(base)) return Merge{};
  }
  const Tag up = tag_at(c.end());
  if (!up.allocated()) {
    if (!free_chunk_ok(c.end())) return Merge{};
    above_size = up.size();
    above_bin = Bins::bin_of(up.size());
    size += up.size();
  }
  // The bin of the neighbour whose node the result keeps (below's, else above's), if any.
  const std::uint64_t keeper = base != c.base ? below_bin : above_size != 0 ? above_bin : kNoBin;
  if (keeper != kNoBin && size < Bins::upper_bound(keeper))
    return Merge{base, size, keeper, below_bin, above_size, above_bin, true};
  const std::uint64_t bin = Bins::bin_of(size);
  return Merge{
      base, size, bin, below_bin, above_size, above_bin, keeper == bin || bin_head_ok(bin)};
}

template <class Bins, bool Journaled>
bool TalcMeta<Bins, Journaled>::release_ok(const Chunk& c) const noexcept {
  return merge_of(c).ok;
}

// Returns an allocated chunk to the free lists as `m` plans it. Not committed. The free chunk
// below keeps its node when it swallows `c`; otherwise the chunk above gives its node to `c`'s
// base; either stays in its list when the merged size stays in its bin (see rebin).
template <class Bins, bool Journaled>
template <bool Keep, bool Split>
void TalcMeta<Bins, Journaled>::release(const Chunk& c, const Merge& m) noexcept {
  TALC_ASSERT(m.base <= c.base && c.end() <= m.base + m.size && m.size % kGranule == 0);
  const Tag tag = tag_at(c.base);
  const Tag up = tag_at(c.end());
  std::uint64_t old_head_tag = tag.bits;  // what the merged chunk's first word held
  if (m.base != c.base) {
    old_head_tag = Tag::make(c.base - m.base, false, false).bits;
    put_tag(c.base, tag.bits, Tag::poison().bits);
  }
  if (m.above_size != 0) put_tag(c.end(), up.bits, Tag::poison().bits);
  // The merged tag before the tail and the flag above: when nothing merged, it is the first
  // write, and it names the block (see put_tag). A free names the chunk below as well, since it
  // existed when the operation began; in a reallocation that chunk may be a remainder it carved,
  // and a split-off block is no chunk before it: neither is named.
  put(m.base, old_head_tag, Tag::make(m.size, false, false).bits,
      !Keep || (!Split && m.base == c.base) ? Journal::kChunkTag : 0);
  const std::uint64_t tail = m.base + m.size - kTailFromEnd;
  if (m.above_size != 0) {
    put_unlogged(tail, m.size);
  } else {
    put_unlogged(c.end(), up.bits | Tag::kBelowFree);
    if constexpr (Keep) {
      put(tail, m.size);
    } else {
      put_unlogged(tail, m.size);  // the block's last word
    }
  }
  --counters_.live_chunks;
  counters_.live_bytes -= c.size;
  // A node that lands on the block's first words is fresh: the owner gives them up.
  if (m.base != c.base) {
    if (m.above_size != 0) unlink(c.end(), m.above_bin);
    rebin(m.base, m.below_bin, m.base, m.bin, false);
  } else if (m.above_size != 0) {
    rebin(c.end(), m.above_bin, c.base, m.bin, !Keep);
  } else {
    link(c.base, m.bin, !Keep);
  }
}

template <class Bins, bool Journaled>
Result<std::size_t> TalcMeta<Bins, Journaled>::usable_size(const void* p) const noexcept {
  const Result<Chunk> live = live_chunk(p);
  if (!live) return live.error();
  return static_cast<std::size_t>((*live).size - kTagSize);
}

}  // namespace talc
