// Layer 4 — the core heap's free lists: the availability bitmap scan, link and unlink.
//
// Each bin is a doubly linked list of free chunks threaded through their FreeNode words, with
// its head in TalcMeta::bins_; bit b of avail_ is set iff bin b is non-empty (I5, I6). A chunk's
// prev_link is the offset of the word that links to it, so unlinking the first chunk of a bin
// is no special case. Every list write is journalled except the bitmap bits, which a roll-back
// recomputes from the heads it restores, and the node words of a chunk made of unused bytes.
#pragma once

// A part of talc_meta.hpp, which includes it once the class is complete.
#ifndef TALC_INSIDE_TALC_META
#error "include talc/core/talc_meta.hpp, not its part files"
#endif

namespace talc {

template <class Bins, bool Journaled>
std::uint64_t TalcMeta<Bins, Journaled>::next_available_bin(std::uint64_t from) const noexcept {
  if (from >= Bins::kBins) return kNoBin;
  std::uint64_t w = from / 64;
  std::uint64_t bits = get(avail_slot(w)) & (~std::uint64_t{0} << (from % 64));
  while (bits == 0) {
    if (++w == Bins::kBitmapWords) return kNoBin;
    bits = get(avail_slot(w));
  }
  const std::uint64_t bin = w * 64 + static_cast<std::uint64_t>(std::countr_zero(bits));
  return bin < Bins::kBins ? bin : kNoBin;
}

// A free chunk's node words; journalled unless they are unused bytes (`fresh`).
template <class Bins, bool Journaled>
void TalcMeta<Bins, Journaled>::write_node(std::uint64_t base, std::uint64_t next,
                                           std::uint64_t prev_link, bool fresh) noexcept {
  if (fresh) {
    put_unlogged(base + kNextOffset, next);
    put_unlogged(base + kPrevLinkOffset, prev_link);
  } else {
    put(base + kNextOffset, next);
    put(base + kPrevLinkOffset, prev_link);
  }
}

template <class Bins, bool Journaled>
void TalcMeta<Bins, Journaled>::link(std::uint64_t base, std::uint64_t bin, bool fresh) noexcept {
  const std::uint64_t slot = head_slot(bin);
  const std::uint64_t head = get(slot);
  write_node(base, head, slot, fresh);
  // The head first: its entry names the bin whose bit, and whose first chunk's prev_link, a
  // roll-back derives again (repair_bin); so neither needs an entry of its own.
  put(slot, head, base);
  if (head != Rel<FreeHead>::kNull) {
    put_unlogged(head + kPrevLinkOffset, base + kNextOffset);  // it was first: linked from the slot
  } else {
    const std::uint64_t w = avail_slot(bin / 64);
    put_unlogged(w, get(w) | (std::uint64_t{1} << (bin % 64)));
  }
  ++counters_.free_chunks;
}

template <class Bins, bool Journaled>
void TalcMeta<Bins, Journaled>::unlink(std::uint64_t base, std::uint64_t bin) noexcept {
  const std::uint64_t next = get(base + kNextOffset);
  const std::uint64_t prev_link = get(base + kPrevLinkOffset);
  put(prev_link, base, next);  // the word that linked to this chunk held its offset
  if (next != Rel<FreeHead>::kNull) put(next + kPrevLinkOffset, base + kNextOffset, prev_link);
  --counters_.free_chunks;
  // Read the bin's head after the unlink: it is empty now only if it says so now.
  if (get(head_slot(bin)) == Rel<FreeHead>::kNull) {
    const std::uint64_t w = avail_slot(bin / 64);
    put_unlogged(w, get(w) & ~(std::uint64_t{1} << (bin % 64)));
  }
}

// The free chunk at `from`, listed in `from_bin`, becomes the one at `base` in `bin`. Carving a
// block off a chunk's bottom, or freeing the block just below a free chunk, mostly leaves the
// free chunk in its bin: then its node moves to the new base, taking its place in the list (two
// or three link words), and neither the bitmap nor the bin's head is touched. Only a change of
// bin unlinks and links. `fresh`: the node words at `base` are unused bytes (no journal entry).
template <class Bins, bool Journaled>
void TalcMeta<Bins, Journaled>::rebin(std::uint64_t from, std::uint64_t from_bin,
                                      std::uint64_t base, std::uint64_t bin, bool fresh) noexcept {
  if (bin != from_bin) {
    unlink(from, from_bin);
    link(base, bin, fresh);
    return;
  }
  if (base == from) return;
  const std::uint64_t next = get(from + kNextOffset);
  const std::uint64_t prev_link = get(from + kPrevLinkOffset);
  write_node(base, next, prev_link, fresh);
  put(prev_link, from, base);  // the word that linked to the chunk held its offset
  if (next != Rel<FreeHead>::kNull)
    put(next + kPrevLinkOffset, from + kNextOffset, base + kNextOffset);
}

}  // namespace talc
