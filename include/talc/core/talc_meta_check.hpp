// Layer 4 — the core heap's self-examination: check() and census().
//
// check() trusts nothing it reads. It is what runs after a process died holding the lock, and
// what the command-line tool runs on a file that may be any bytes at all: every offset is
// bounds-checked before it is followed, every walk is bounded by the number of chunks that
// can exist, and the first disagreement is reported with its offset. It allocates (a sorted
// list of the free chunks, to prove each list node is one of them), which is why it is not
// noexcept; it runs outside the hot paths.
#pragma once

#include <algorithm>
#include <vector>

// A part of talc_meta.hpp, which includes it once the class is complete.
#ifndef TALC_INSIDE_TALC_META
#error "include talc/core/talc_meta.hpp, not its part files"
#endif

namespace talc {

template <class Bins, bool Journaled>
CheckReport TalcMeta<Bins, Journaled>::check() const {
  auto fail = [](std::uint64_t off, const char* what, std::uint64_t detail = 0) {
    return CheckReport{Errc::corrupted, off, what, detail};
  };
  constexpr std::uint64_t kNull = Rel<FreeHead>::kNull;

  // The fields that bound everything else.
  if (heap_start_ != heap_start_offset()) return fail(0, "heap start is not where it belongs");
  if ((flags_ & ~kKnownFlags) != 0) return fail(0, "unknown flags", flags_);
  if (span_ > kMaxSpan || span_ < heap_start_ + kMinChunk + kTagSize)
    return fail(0, "span out of range", span_);
  if (heap_end_ % kGranule != kChunkPhase || heap_end_ < heap_start_ + kMinChunk ||
      heap_end_ > span_ - kTagSize)
    return fail(0, "heap end out of range", heap_end_);

  if (journal_.size() != 0)
    return fail(offsetof(TalcMeta, journal_), "an interrupted operation was not rolled back",
                journal_.size());

  // I1-I4: walk the chunks in address order.
  std::vector<std::uint64_t> free_chunks;
  std::uint64_t live_chunks = 0, live_bytes = 0;
  bool below_free = false;
  std::uint64_t off = heap_start_;
  while (off < heap_end_) {
    const Tag tag = tag_at(off);
    const std::uint64_t size = tag.size();
    if (!tag.well_formed()) return fail(off, "tag has unknown flag bits", tag.bits);
    if (size < kMinChunk || size > heap_end_ - off)
      return fail(off, "chunk size out of range", size);
    if (tag.below_free() != below_free)
      return fail(off, below_free ? "BELOW_FREE clear above a free chunk"
                                  : "BELOW_FREE set above an allocated chunk");
    if (!tag.allocated()) {
      if (below_free) return fail(off, "two adjacent free chunks");
      if (get(off + size - kTailFromEnd) != size)
        return fail(off, "free chunk's tail disagrees with its tag",
                    get(off + size - kTailFromEnd));
      free_chunks.push_back(off);
    } else {
      ++live_chunks;
      live_bytes += size;
    }
    below_free = !tag.allocated();
    off += size;
  }
  if (tag_at(heap_end_).bits != Tag::sentinel(below_free).bits)
    return fail(heap_end_, "sentinel tag is wrong", get(heap_end_));

  // I7: the counters agree with the chunks.
  const std::uint64_t counters = offsetof(TalcMeta, counters_);
  if (counters_.live_chunks != live_chunks)
    return fail(counters, "live block count disagrees with the chunks", counters_.live_chunks);
  if (counters_.live_bytes != live_bytes)
    return fail(counters, "live byte count disagrees with the chunks", counters_.live_bytes);
  if (counters_.free_chunks != free_chunks.size())
    return fail(counters, "free chunk count disagrees with the chunks", counters_.free_chunks);

  // I5-I6: every list holds only free chunks of its bin, with mutual links, and between them
  // the lists hold every free chunk exactly once.
  std::vector<bool> listed(free_chunks.size(), false);
  std::uint64_t listed_count = 0;
  for (std::uint64_t bin = 0; bin < Bins::kBins; ++bin) {
    const std::uint64_t slot = head_slot(bin);
    const bool bit = ((get(avail_slot(bin / 64)) >> (bin % 64)) & 1) != 0;
    if (bit != (get(slot) != kNull))
      return fail(slot,
                  bit ? "availability bit set for an empty bin"
                      : "availability bit clear for a non-empty bin",
                  bin);
    std::uint64_t expected_link = slot;
    for (std::uint64_t node = get(slot); node != kNull; node = get(node + kNextOffset)) {
      const auto it = std::lower_bound(free_chunks.begin(), free_chunks.end(), node);
      if (it == free_chunks.end() || *it != node)
        return fail(expected_link, "a bin links to something that is not a free chunk", node);
      const std::size_t i = static_cast<std::size_t>(it - free_chunks.begin());
      if (listed[i]) return fail(node, "free chunk listed twice (a cycle?)", bin);
      listed[i] = true;
      ++listed_count;
      if (Bins::bin_of(tag_at(node).size()) != bin)
        return fail(node, "free chunk in the wrong bin", bin);
      if (get(node + kPrevLinkOffset) != expected_link)
        return fail(node, "prev_link does not point at the link to this chunk",
                    get(node + kPrevLinkOffset));
      expected_link = node + kNextOffset;
    }
  }
  if (listed_count != free_chunks.size()) {
    const std::size_t i =
        static_cast<std::size_t>(std::find(listed.begin(), listed.end(), false) - listed.begin());
    return fail(free_chunks[i], "free chunk is in no bin");
  }
  for (std::uint64_t bin = Bins::kBins; bin < Bins::kBitmapWords * 64; ++bin)
    if (((get(avail_slot(bin / 64)) >> (bin % 64)) & 1) != 0)
      return fail(avail_slot(bin / 64), "availability bit set past the last bin", bin);
  return CheckReport{};
}

template <class Bins, bool Journaled>
Census TalcMeta<Bins, Journaled>::census(BinCounts* free_by_bin) const noexcept {
  Census c;
  if (free_by_bin != nullptr) free_by_bin->fill(0);
  for_each_chunk([&](const Chunk& chunk, bool allocated) {
    if (allocated) {
      ++c.live_chunks;
      c.live_bytes += chunk.size;
    } else {
      ++c.free_chunks;
      c.free_bytes += chunk.size;
      c.largest_free = std::max(c.largest_free, chunk.size);
      if (free_by_bin != nullptr) ++(*free_by_bin)[Bins::bin_of(chunk.size)];
    }
  });
  return c;
}

}  // namespace talc
