// Layer 4 — recovery after a death: roll_back(), recover_after_death() and the local check.
//
// A process that dies inside an operation leaves its journal (journal.hpp). Undoing it restores
// the words the journal names. What the operation wrote without an entry lies in three places
// only, each named too: next to the chunks whose tags it marked with kChunkTag (their tails, the
// BELOW_FREE flag of the tag above them, see TalcMeta::put_tag), in the availability bits of the
// bins whose heads it journalled, and in the live and free counters, which the last commit kept
// (see TalcMeta::commit). So a roll-back writes a few dozen words whatever the heap's size, and
// an empty journal (a death between operations) costs three stores.
//
// recover_after_death() then checks the result (local_check) by looking at the same words and their
// neighbours: every named chunk's tag, its boundaries with the chunks below and above, the tails
// and list links of the free ones among them, and every named bin's head and bitmap bit. A heap
// damaged elsewhere is not seen here; check() walks everything, for the tools and for whoever
// asks, at a cost linear in the number of chunks.
#pragma once

// A part of talc_meta.hpp, which includes it once the class is complete.
#ifndef TALC_INSIDE_TALC_META
#error "include talc/core/talc_meta.hpp, not its part files"
#endif

namespace talc {

// What a believed journal names: the chunks of its kChunkTag entries, as they were before the
// operation, and the bins whose heads it wrote; at most one of either per entry, repeats allowed
// (repairs and checks are idempotent). With the span and heap end the roll-back will leave.
template <class Bins, bool Journaled>
struct TalcMeta<Bins, Journaled>::Named {
  std::uint64_t chunks[Journal::kCapacity];
  std::uint64_t bins[Journal::kCapacity];
  std::uint64_t chunk_count = 0;
  std::uint64_t bin_count = 0;
  std::uint64_t final_span = 0;
  std::uint64_t final_end = 0;
};

template <class Bins, bool Journaled>
Result<std::uint64_t> TalcMeta<Bins, Journaled>::roll_back() noexcept {
  Named named;
  return undo(named);
}

template <class Bins, bool Journaled>
Result<std::uint64_t> TalcMeta<Bins, Journaled>::recover_after_death() noexcept {
  Named named;
  const Result<std::uint64_t> undone = undo(named);
  if (!undone) return undone;
  if (!local_check(named)) return Errc::corrupted;
  return undone;
}

template <class Bins, bool Journaled>
Result<std::uint64_t> TalcMeta<Bins, Journaled>::undo(Named& named) noexcept {
  if constexpr (!Journaled) return std::uint64_t{0};
  if (journal_.size() == 0) {
    // Nothing to undo. The holder may have died after its commit and before commit() kept the
    // counters: they are right (an operation changes none before its first entry), so they are
    // kept now, and the next roll-back finds the values it must give back.
    keep(committed_.live_chunks, counters_.live_chunks);
    keep(committed_.live_bytes, counters_.live_bytes);
    keep(committed_.free_chunks, counters_.free_chunks);
    return std::uint64_t{0};
  }
  // Entries are restored last to first, so the first entry for a field holds its final value.
  named.final_span = span_;
  named.final_end = heap_end_;
  bool span_seen = false, end_seen = false;
  return journal_.roll_back(
      bytes(),
      [&](std::uint64_t off, std::uint64_t old, std::uint64_t mark) {
        // Operations journal only bin heads and words of chunks (tags, links, user slots), and
        // grow() the span and heap end: an entry anywhere else, another field or the journal
        // itself, is not believed. Nor is one that would enlarge the heap: undoing a growth
        // only ever gives bytes back, so a scribbled journal cannot send the repairs below, or
        // any later operation, past the bytes the heap really has.
        if (off == offsetof(TalcMeta, span_)) {
          if (!span_seen) named.final_span = old;
          span_seen = true;
          return mark == 0 && old <= span_ && old >= heap_start_ + kMinChunk + kTagSize;
        }
        if (off == offsetof(TalcMeta, heap_end_)) {
          if (!end_seen) named.final_end = old;
          end_seen = true;
          return mark == 0 && old <= heap_end_ && old % kGranule == kChunkPhase &&
                 old >= heap_start_ + kMinChunk;
        }
        if (off >= head_slot(0) && off < head_slot(Bins::kBins)) {
          named.bins[named.bin_count++] = (off - head_slot(0)) / kWord;
          return mark == 0;
        }
        if (off < heap_start_ || off >= heap_end_) return false;
        if (mark != 0) {
          if (off % kGranule != kChunkPhase) return false;
          named.chunks[named.chunk_count++] = off;
        }
        return true;
      },
      [&] { return journal_consistent(named); },
      [&] {
        for (std::uint64_t i = 0; i < named.chunk_count; ++i) repair_around(named.chunks[i]);
        for (std::uint64_t i = 0; i < named.bin_count; ++i) repair_bin(named.bins[i]);
        counters_.live_chunks = committed_.live_chunks;
        counters_.live_bytes = committed_.live_bytes;
        counters_.free_chunks = committed_.free_chunks;
        note_peak();
      });
}

// Whether the entries, each believed alone, make sense together: a span given back without its
// heap end (or the other way round) would leave the heap ending past its span, and a named chunk
// must get back a tag of a chunk that lies inside the heap the roll-back leaves, since its size
// says where the repairs write. Refused before anything is written.
template <class Bins, bool Journaled>
bool TalcMeta<Bins, Journaled>::journal_consistent(const Named& named) const noexcept {
  if (named.final_end > named.final_span - kTagSize) return false;
  for (std::uint64_t i = 0; i < named.chunk_count; ++i) {
    const std::uint64_t c = named.chunks[i];
    std::uint64_t old = 0;
    journal_.restored_value(c, old);
    const Tag tag{old};
    if (c >= named.final_end || !tag.well_formed() || tag.size() < kMinChunk ||
        tag.size() > named.final_end - c)
      return false;
  }
  return true;
}

// What an operation may have written without an entry around a chunk it named, given back from
// the chunk's restored tag: a free chunk's tail, and the BELOW_FREE flag of the tag above (the
// sentinel's included). The chunk's own flag is its restored one, or is repaired from the chunk
// below when that one was named: only an operation on a chunk changes the flag above it.
template <class Bins, bool Journaled>
void TalcMeta<Bins, Journaled>::repair_around(std::uint64_t chunk) noexcept {
  const Tag tag = tag_at(chunk);
  const bool free = !tag.allocated();
  const std::uint64_t end = chunk + tag.size();  // at most heap_end_: see journal_consistent()
  if (free) store_word(bytes(), end - kTailFromEnd, tag.size());
  const std::uint64_t above = end == heap_end_
                                  ? Tag::sentinel(free).bits
                                  : (get(end) & ~Tag::kBelowFree) | (free ? Tag::kBelowFree : 0);
  store_word(bytes(), end, above);
}

// A bin's bit says whether its list is empty, and its first chunk's prev_link names the head
// slot; link() changes either only after a journalled write of the bin's head. A head that is
// not a chunk's offset is left alone, for the local check to refuse.
template <class Bins, bool Journaled>
void TalcMeta<Bins, Journaled>::repair_bin(std::uint64_t bin) noexcept {
  const std::uint64_t w = avail_slot(bin / 64);
  const std::uint64_t bit = std::uint64_t{1} << (bin % 64);
  const std::uint64_t head = get(head_slot(bin));
  store_word(bytes(), w, head == Rel<FreeHead>::kNull ? get(w) & ~bit : get(w) | bit);
  if (head != Rel<FreeHead>::kNull && chunk_offset_ok(head))
    store_word(bytes(), head + kPrevLinkOffset, head_slot(bin));
}

// The local check: I1-I6 at the named chunks and bins and one step around them, and I7 as far
// as it can be seen without counting (the counters fit in the heap). Reads only through offsets
// it has bounded, like check().
template <class Bins, bool Journaled>
bool TalcMeta<Bins, Journaled>::local_check(const Named& named) const noexcept {
  if (journal_.size() != 0 || !counters_plausible()) return false;
  for (std::uint64_t i = 0; i < named.chunk_count; ++i)
    if (!chunk_agrees(named.chunks[i])) return false;
  for (std::uint64_t i = 0; i < named.bin_count; ++i)
    if (!bin_agrees(named.bins[i])) return false;
  return true;
}

// The chunk's tag is sane, and agrees with the chunk below (BELOW_FREE set: a free chunk whose
// tail leads to it; a free chunk's own tag has it clear) and with the tag above (its BELOW_FREE
// says whether this one is free; two free chunks are never neighbours). Every free chunk met is
// checked in its list too.
template <class Bins, bool Journaled>
bool TalcMeta<Bins, Journaled>::chunk_agrees(std::uint64_t chunk) const noexcept {
  if (!chunk_offset_ok(chunk)) return false;
  const Tag tag = tag_at(chunk);
  if (!tag.well_formed() || tag.size() < kMinChunk || tag.size() > heap_end_ - chunk) return false;
  if (tag.below_free()) {
    if (chunk - heap_start_ < kMinChunk) return false;
    const std::uint64_t below = get(chunk - kTailFromEnd);
    if (below < kMinChunk || below % kGranule != 0 || below > chunk - heap_start_ ||
        tag_at(chunk - below).size() != below || !free_chunk_agrees(chunk - below))
      return false;
  }
  if (!tag.allocated() && !free_chunk_agrees(chunk)) return false;
  const std::uint64_t above = chunk + tag.size();
  if (above == heap_end_) return get(above) == Tag::sentinel(!tag.allocated()).bits;
  const Tag up = tag_at(above);
  if (!up.well_formed() || up.size() < kMinChunk || up.size() > heap_end_ - above ||
      up.below_free() == tag.allocated())
    return false;
  return up.allocated() || free_chunk_agrees(above);
}

// A free chunk (free_chunk_ok: its tag, BELOW_FREE clear, its links' bounds) whose tail repeats
// its size, and whose list neighbours agree: the word its prev_link names links to it and is its
// bin's head or the next word of a free chunk of its bin; its next, when there is one, is a free
// chunk of its bin that links back.
template <class Bins, bool Journaled>
bool TalcMeta<Bins, Journaled>::free_chunk_agrees(std::uint64_t chunk) const noexcept {
  if (!free_chunk_ok(chunk)) return false;
  const std::uint64_t size = tag_at(chunk).size();
  if (get(chunk + size - kTailFromEnd) != size) return false;
  const std::uint64_t bin = Bins::bin_of(size);
  const std::uint64_t prev = get(chunk + kPrevLinkOffset);
  const std::uint64_t next = get(chunk + kNextOffset);
  if (get(prev) != chunk) return false;
  if (prev < heap_start_ ? prev != head_slot(bin) : !free_in_bin(prev - kNextOffset, bin))
    return false;
  return next == Rel<FreeHead>::kNull ||
         (free_in_bin(next, bin) && get(next + kPrevLinkOffset) == chunk + kNextOffset);
}

// Whether the chunk at `chunk` (already known to lie at the chunk phase inside the heap) is
// tagged free with a size of bin `bin`.
template <class Bins, bool Journaled>
bool TalcMeta<Bins, Journaled>::free_in_bin(std::uint64_t chunk, std::uint64_t bin) const noexcept {
  const Tag tag = tag_at(chunk);
  return tag.bits == Tag::make(tag.size(), false, false).bits && tag.size() >= kMinChunk &&
         tag.size() <= heap_end_ - chunk && Bins::bin_of(tag.size()) == bin;
}

// A bin's bit agrees with its head, and the head is a free chunk of the bin, in it.
template <class Bins, bool Journaled>
bool TalcMeta<Bins, Journaled>::bin_agrees(std::uint64_t bin) const noexcept {
  const std::uint64_t head = get(head_slot(bin));
  const bool bit = ((get(avail_slot(bin / 64)) >> (bin % 64)) & 1) != 0;
  if (bit != (head != Rel<FreeHead>::kNull)) return false;
  return head == Rel<FreeHead>::kNull ||
         (free_chunk_agrees(head) && Bins::bin_of(tag_at(head).size()) == bin);
}

// What of I7 needs no count: the live bytes fit in the heap, in chunks of at least kMinChunk,
// and the free chunks fit in the rest.
template <class Bins, bool Journaled>
bool TalcMeta<Bins, Journaled>::counters_plausible() const noexcept {
  const HeapCounters& k = counters_;
  return k.live_bytes <= capacity() && k.live_bytes % kGranule == 0 &&
         k.live_chunks <= k.live_bytes / kMinChunk &&
         k.free_chunks <= (capacity() - k.live_bytes) / kMinChunk;
}

}  // namespace talc
