// Layer 4 — the core heap's growth: bytes the caller added after the span join the heap.
//
// The new bytes extend the free chunk at the old end, or become a free chunk of their own whose
// tag is the old sentinel. The span and heap end are journalled, so a roll-back only ever
// shrinks the heap back to what it was; words past the old end need no entries, since they are
// unused again after one.
#pragma once

// A part of talc_meta.hpp, which includes it once the class is complete.
#ifndef TALC_INSIDE_TALC_META
#error "include talc/core/talc_meta.hpp, not its part files"
#endif

namespace talc {

template <class Bins, bool Journaled>
Errc TalcMeta<Bins, Journaled>::grow(std::uint64_t new_span) noexcept {
  if (new_span > kMaxSpan) return Errc::region_too_large;
  const std::uint64_t old_end = heap_end_;
  const std::uint64_t new_end =
      new_span < kTagSize + kChunkPhase
          ? 0
          : ((new_span - kTagSize - kChunkPhase) & ~(kGranule - 1)) + kChunkPhase;
  if (new_end < old_end + kMinChunk) return new_span < span_ ? Errc::region_too_small : Errc::ok;
  const Tag sentinel = tag_at(old_end);
  if (sentinel.bits != Tag::sentinel(sentinel.below_free()).bits) return Errc::corrupted;
  std::uint64_t base = old_end, size = new_end - old_end;
  if (sentinel.below_free()) {  // the top chunk is free: it takes the new bytes
    const std::uint64_t top = get(old_end - kTailFromEnd);
    if (top < kMinChunk || top > old_end - heap_start_ || !free_chunk_ok(old_end - top) ||
        tag_at(old_end - top).size() != top || !head_ok(top + size))
      return Errc::corrupted;
    base = old_end - top;
    put_tag(base, Tag::make(top, false, false).bits, Tag::make(top + size, false, false).bits);
    size += top;
    rebin(base, Bins::bin_of(top), base, Bins::bin_of(size), false);
  } else {
    if (!head_ok(size)) return Errc::corrupted;
    link(base, Bins::bin_of(size),
         true);  // its node words lie past the old end: unused if rolled back
  }
  // Past the old end: unused if rolled back.
  put_unlogged(new_end - kTailFromEnd, size);
  put_unlogged(new_end, Tag::sentinel(true).bits);
  // The fields next: a roll-back restores them (it only ever shrinks them, see roll_back).
  put(offsetof(TalcMeta, span_), span_, new_span);
  put(offsetof(TalcMeta, heap_end_), old_end, new_end);
  // Over an allocated top chunk, the old sentinel becomes the new chunk's tag, journalled after
  // the heap end moved past it: a roll-back believes an entry below the heap end only.
  if (!sentinel.below_free()) put(old_end, sentinel.bits, Tag::make(size, false, false).bits);
  count(&HeapCounters::growths);
  commit();
  return Errc::ok;
}

}  // namespace talc
