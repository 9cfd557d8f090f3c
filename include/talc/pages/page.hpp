// Layer 5b — a page: a run of small blocks of one size class, carved from the core heap in one
// operation, served by one owner and given back to by anyone, without the heap's lock.
//
// A page is one allocated chunk of the core heap, a power of two of 4 to 64 KiB long: the heap's
// page size (chosen per heap) for the large classes, smaller for the small ones, so that each
// class's page holds a few blocks more than a dozen (PageGeometry::shift_of). From its user
// offset u:
//   u                 PageHeader (64 bytes)
//   u + 64            live:  one bit per block, 1 while the block is handed out
//   u + 64 + M        freed: one bit per block, 1 once the block was given back
//   u + 64 + 2M + 8   block 0's word, then its bytes, then block 1's word...
// (M is a map's bytes, rounded up to a cache line once it fills one, so that in pages of 16 KiB
// and up the owner's map and the one every freer writes lie on lines of their own; the 4 and
// 8 KiB pages' maps, 16 and 32 bytes, share one.) Each block is `chunk` bytes like a core chunk of
// its size: an 8-byte word, then the user's bytes, 16-aligned. The word says "block b of page i"
// with a flag the core's tags never carry (kBlockFlag), so a free finds the page in O(1), and
// the core, handed such a block, refuses it as not one of its chunks.
//
// A block's state is its two bits, and every move is one store or one atomic read-modify-write:
//   live freed
//    0    0    free: the owner may hand it out
//    1    0    handed out: held by a user
//    1    1    given back, not yet collected by the owner
//    0    1    being collected (the owner cleared live, then clears freed)
// Allocation (the owner only): collect a word's freed bits (live &= ~freed, then freed &= ~that
// with one fetch_and: the others may be setting more), then set a 0-0 block's live bit with one
// store. The owner keeps the word's other free bits in its thread's memory (PageFront) and
// hands them out one by one without reading the maps again. Free (anyone, the owner too): the block
// must be live, then one fetch_or of its freed bit, the last word of the page the freer touches
// (the owner's hint is set before); finding the bit already set is a double free, refused with no
// block changed, so of two racing frees of one block exactly one succeeds. A process killed at any
// instant therefore leaves every block in one of the four states: nothing to roll back. A block
// whose live bit the owner set just before it died was in its hands, as the kill torture's audit
// counts it.
//
// Invariants (PageTable::check proves them):
//   P1  the header names the page's own index and a size class; the owner is a lane or none.
//   P2  no bit is set at or past the page's block count, in either map.
//   P3  the page lies inside one live chunk of the core heap of exactly `bytes` bytes.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <iterator>

#include "talc/core/chunk.hpp"
#include "talc/core/journal.hpp"  // TALC_FAULT_POINT
#include "talc/core/rel.hpp"

namespace talc {

struct PageConfig {
  // Size classes: 64 of chunk sizes 32, 48, ... 1040 bytes, then 8 that grow by a quarter to an
  // eighth (1296, 1552, 1808, 2064, 2576, 3088, 3600, 4112: each 256k + 16, so that a request of
  // a power of two up to 4096 bytes fills its block). Requests of up to 4104 bytes; past 1032
  // a block wastes at most a fifth of itself, which is what the messages of an IPC heap (a few
  // KiB) cost in a page instead of the heap's lock.
  static constexpr std::uint64_t kLinearClasses = 64;
  static constexpr std::uint64_t kMaxLinearChunk = kMinChunk + (kLinearClasses - 1) * kGranule;
  static constexpr std::uint64_t kLargeChunks[] = {1296, 1552, 1808, 2064, 2576, 3088, 3600, 4112};
  static constexpr std::uint64_t kClasses = kLinearClasses + std::size(kLargeChunks);
  static constexpr std::uint64_t kMaxChunk = kLargeChunks[std::size(kLargeChunks) - 1];
  static constexpr std::uint64_t kMaxRequest = kMaxChunk - kTagSize;
  // A page serves a class when it holds at least this many of its blocks: in a small heap's
  // smaller pages the largest classes are the core's, since a lane that began a page of each
  // class would otherwise hold the heap's space in pages of few blocks (the 8 KiB pages of a
  // 1 MiB region serve requests of up to 984 bytes, 32 KiB pages up to 3592, 64 KiB pages
  // every class).
  static constexpr std::uint64_t kMinBlocks = 8;
  // Page sizes: a 64 KiB page holds 15 blocks of the largest class and 2029 of the smallest; a
  // small heap gets smaller pages, so that the pages its threads have begun strand little.
  static constexpr std::uint64_t kMinBytes = 4096;
  static constexpr std::uint64_t kMaxBytes = 65536;
  static constexpr std::uint64_t kHeader = 64;
  // A block's word: kBlockFlag | block << kBlockShift | page index << kIndexShift, and above
  // them a count of the block's hand-outs (mod 2^24), which tells a block handed out again from
  // one that was not (PageTable::finish).
  static constexpr std::uint64_t kBlockFlag = 4;
  static constexpr std::uint64_t kBlockShift = 4;
  static constexpr std::uint64_t kIndexShift = 16;
  static constexpr std::uint64_t kMaxPages = std::uint64_t{1} << 24;
  static constexpr std::uint64_t kGenShift = kIndexShift + 24;
  // A page's header names its own index with this above it, written last when the page is made
  // and cleared first when it is given back: a half-made or returned page is never served.
  // (Meant to read "Upage"; the shift keeps its low four bytes, 0x61676555.)
  static constexpr std::uint64_t kIdent = std::uint64_t{0x7061676555} << 32;

  /// The class of the smallest blocks of at least `chunk` bytes (a chunk size, at most
  /// kMaxChunk).
  static constexpr std::uint64_t class_of(std::uint64_t chunk) noexcept {
    if (chunk <= kMaxLinearChunk) [[likely]]
      return (chunk - kMinChunk) / kGranule;
    // kLargeChunks by the multiple of 256 at or above the chunk's.
    constexpr std::uint8_t kBy256[] = {0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 4, 5, 5, 6, 6, 7, 7};
    return kLinearClasses + kBy256[(chunk - kGranule + 255) / 256];
  }
  /// class_of(chunk_size_for(size)) for a request of at most kMaxRequest bytes, from a table
  /// by granules: the hot paths' three instructions instead of a rounding, a minimum and a branch.
  static std::uint64_t class_of_request(std::uint64_t size) noexcept;
  static constexpr std::uint64_t chunk_of(std::uint64_t cls) noexcept {
    return cls < kLinearClasses ? kMinChunk + cls * kGranule : kLargeChunks[cls - kLinearClasses];
  }
  static constexpr std::uint64_t block_word(std::uint64_t index, std::uint64_t b,
                                            std::uint64_t gen = 0) noexcept {
    return kBlockFlag | b << kBlockShift | index << kIndexShift | gen << kGenShift;
  }
  static constexpr std::uint64_t index_of(std::uint64_t word) noexcept {
    return (word >> kIndexShift) & (kMaxPages - 1);
  }
};
// The class of each request by its granules, (size + kTagSize + 15) / 16, which is at least 1:
// a request of g * 16 - 8 bytes or fewer (down to the bucket below) needs a chunk of g * 16, or
// of kMinChunk when that is less.
inline constexpr auto kRequestClass = [] {
  std::array<std::uint8_t, (PageConfig::kMaxRequest + kTagSize + kGranule - 1) / kGranule + 1> t{};
  for (std::uint64_t g = 1; g < t.size(); ++g)
    t[g] = static_cast<std::uint8_t>(PageConfig::class_of(chunk_size_for(g * kGranule - kTagSize)));
  return t;
}();
inline std::uint64_t PageConfig::class_of_request(std::uint64_t size) noexcept {
  return kRequestClass[(size + kTagSize + kGranule - 1) / kGranule];
}
static_assert(
    [] {
      for (std::uint64_t size = 0; size <= PageConfig::kMaxRequest; ++size)
        if (kRequestClass[(size + kTagSize + kGranule - 1) / kGranule] !=
            PageConfig::class_of(chunk_size_for(size)))
          return false;
      return true;
    }(),
    "the request table agrees with class_of");

static_assert((PageConfig::kBlockFlag & Tag::kKnownFlags) == 0 &&
                  PageConfig::kBlockFlag < Tag::kFlagMask + 1,
              "a block's word must be a tag the core refuses");
static_assert(PageConfig::kMaxBytes / kMinChunk <
              (std::uint64_t{1} << (PageConfig::kIndexShift - PageConfig::kBlockShift)));
static_assert(
    [] {
      for (std::uint64_t chunk = kMinChunk; chunk <= PageConfig::kMaxChunk; chunk += kGranule) {
        const std::uint64_t cls = PageConfig::class_of(chunk);
        if (PageConfig::chunk_of(cls) < chunk ||
            (cls > 0 && PageConfig::chunk_of(cls - 1) >= chunk))
          return false;
      }
      return true;
    }(),
    "class_of gives the smallest class that holds a chunk");

struct alignas(64) PageHeader {
  std::uint64_t ident;   // kIdent | the page's index in the table; 0 while made or given back
  std::uint64_t cls;     // its size class
  std::uint64_t lane;    // the owning lane's index + 1; 0: none
  std::uint64_t next;    // the next page of the owner's list for this class: index + 1, or 0
  std::uint64_t cursor;  // the owner's: the map word its last block came from
  std::uint64_t hint;    // nonzero: a block was freed since the owner last looked
  std::uint64_t reserved[2];
};
static_assert(sizeof(PageHeader) == PageConfig::kHeader);

// Every word of a page is shared with other processes: read and written whole, atomically.
inline std::atomic_ref<std::uint64_t> page_word(std::byte* core, std::uint64_t off) noexcept {
  return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(core + off));
}

// Where things lie in a page of a heap: a table made at compile time for each page size, indexed
// by the size's logarithm, never read from a page, so a damaged header cannot move them and the
// hot paths divide by nothing.
struct PageShape {
  std::uint64_t words;       // map words (one bit per block of the smallest class)
  std::uint64_t map_bytes;   // a map's bytes: on cache lines of its own once it fills one
  std::uint64_t first_user;  // block 0's user offset from the page's; its word lies 8 below
  std::uint64_t align;       // of the page and of block 0: a class of chunks k * a has a-aligned
                             // blocks, for any a up to this
  std::uint16_t blocks[PageConfig::kClasses];  // blocks of each class

  /// Whether pages of this size serve class `cls` (hold at least kMinBlocks of its blocks).
  constexpr bool serves(std::uint64_t cls) const noexcept {
    return blocks[cls] >= PageConfig::kMinBlocks;
  }
  /// The largest request pages of this size serve (the classes they serve come first).
  constexpr std::uint64_t max_request() const noexcept {
    std::uint64_t cls = 0;
    while (cls + 1 < PageConfig::kClasses && serves(cls + 1)) ++cls;
    return PageConfig::chunk_of(cls) - kTagSize;
  }

  static constexpr PageShape of(std::uint64_t bytes) noexcept {
    PageShape s{};
    s.words = bytes / kMinChunk / 64;
    s.map_bytes = s.words >= 8 ? (s.words * kWord + 63) & ~std::uint64_t{63} : s.words * kWord;
    // Aligned requests up to 256 bytes for pages of 16 KiB or more (the padding costs 0.3% of
    // them), 64 for smaller ones.
    s.align = bytes >= 16384 ? 256 : 64;
    s.first_user =
        (PageConfig::kHeader + 2 * s.map_bytes + kGranule + s.align - 1) & ~(s.align - 1);
    for (std::uint64_t cls = 0; cls < PageConfig::kClasses; ++cls) {
      // Block n - 1 ends at most where the page's chunk does, 8 bytes below u + bytes.
      const std::uint64_t n = (bytes - s.first_user) / PageConfig::chunk_of(cls);
      s.blocks[cls] = static_cast<std::uint16_t>(n < s.words * 64 ? n : s.words * 64);
    }
    return s;
  }
};

// One class in pages of one size: what the hot paths need of it, in one word, so that a free
// proves its block and a hand-out places it with one load of a compile-time table.
// (Packed by hand: as four fields, GCC keeps them in four registers or on the stack.)
struct PageLayout {
  std::uint64_t bits = 0;

  static constexpr PageLayout of(std::uint64_t chunk, std::uint64_t blocks,
                                 std::uint64_t first_user, std::uint64_t map_bytes) noexcept {
    return PageLayout{chunk | blocks << 16 | first_user << 32 | map_bytes << 48};
  }
  constexpr std::uint64_t chunk() const noexcept { return bits & 0xffff; }  // a block's bytes
  constexpr std::uint64_t blocks() const noexcept { return (bits >> 16) & 0xffff; }  // a page's
  /// Block 0's user offset from the page's.
  constexpr std::uint64_t first_user() const noexcept { return (bits >> 32) & 0xffff; }
  constexpr std::uint64_t map_bytes() const noexcept { return bits >> 48; }  // PageShape's
};
static_assert(sizeof(PageLayout) == 8);

struct PageGeometry {
  static constexpr std::uint64_t kMinShift = std::countr_zero(PageConfig::kMinBytes);
  static constexpr std::uint64_t kMaxShift = std::countr_zero(PageConfig::kMaxBytes);
  // A class's pages are the smallest that hold kFill of its blocks, from 8 KiB up to the heap's
  // page size: a lane's begun pages of every class then take about 2 MB of a large heap, not
  // 72 of its largest pages (4.6 MB). Not below 8 KiB, where a header, maps and a tail would
  // take 4% of a page (2% at 8 KiB); and a class whose chunks are multiples of 128 gets pages
  // aligned to 256 (16 KiB and up), so that its aligned requests are a page's too
  // (LaneHeap::page_request). Fewer blocks a page cost speed: a lane whose classes hold a few
  // dozen blocks each moves between pages more often (1000 blocks of 16 to 1000 bytes replaced
  // at random by one thread: 59 M operations per second with 64 KiB pages for every class, 52 M
  // with 32 blocks, 31 M to 43 M with 16).
  // (The efficiency workload's first three rounds, 128 MiB: 94.2% of the arena in use at the
  // first failure with 64 KiB pages for every class, 96.0% with these; both with LaneHeap's use
  // of holes.)
  static constexpr std::uint64_t kFill = 32;
  static constexpr std::uint64_t kMinClassBytes = 8192;

  std::uint64_t shift = 0;  // the heap's largest pages are 1 << shift bytes

  static constexpr PageGeometry for_capacity(std::uint64_t capacity) noexcept {
    // A page at most 1/64 of the heap: four threads that each began a page of a class strand a
    // few percent of it at worst, and a page's header and maps take 1.3% of 16 KiB.
    std::uint64_t s = kMaxShift;
    while (s > kMinShift && (std::uint64_t{64} << s) > capacity) --s;
    return PageGeometry{s};
  }
  /// The size of class `cls`'s pages, as a logarithm. Only for a shift that PageTable::sane
  /// accepted and a class below kClasses.
  std::uint64_t shift_of(std::uint64_t cls) const noexcept {
    return kClassShift[shift - kMinShift][cls];
  }
  std::uint64_t bytes_of(std::uint64_t cls) const noexcept {
    return std::uint64_t{1} << shift_of(cls);
  }
  const PageShape& shape_of(std::uint64_t cls) const noexcept {
    return kShapes[shift_of(cls) - kMinShift];
  }
  /// Class `cls` in its pages, under the same conditions.
  PageLayout layout(std::uint64_t cls) const noexcept { return kLayouts[shift - kMinShift][cls]; }
  /// Whether pages serve class `cls` (a page of it holds at least kMinBlocks blocks).
  bool serves(std::uint64_t cls) const noexcept { return shape_of(cls).serves(cls); }
  /// The largest request pages serve (the classes they serve come first).
  std::uint64_t max_request() const noexcept { return kShapes[shift - kMinShift].max_request(); }

  static constexpr std::uint64_t mask(std::uint64_t n, std::uint64_t w) noexcept {
    const std::uint64_t rest = n - w * 64;
    return rest >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << rest) - 1;
  }

 private:
  static constexpr PageShape kShapes[] = {PageShape::of(4096), PageShape::of(8192),
                                          PageShape::of(16384), PageShape::of(32768),
                                          PageShape::of(65536)};
  static_assert(std::size(kShapes) == kMaxShift - kMinShift + 1);
  static_assert(
      [] {
        for (const PageShape& s : kShapes)
          if (s.first_user > PageConfig::kMinBytes - kTagSize) return false;
        return true;
      }(),
      "every page's header and maps lie in the smallest page's bytes (PageTable::page_at)");
  // kClassShift[heap's shift - kMinShift][cls]: the smallest shift up to the heap's that the rule
  // above allows, else the heap's. A table, so the hot paths compute nothing.
  using ClassShifts =
      std::array<std::array<std::uint8_t, PageConfig::kClasses>, std::size(kShapes)>;
  static constexpr ClassShifts kClassShift = [] {
    ClassShifts t{};
    for (std::uint64_t top = 0; top < std::size(kShapes); ++top)
      for (std::uint64_t cls = 0; cls < PageConfig::kClasses; ++cls) {
        const std::uint64_t chunk = PageConfig::chunk_of(cls);
        std::uint64_t s =
            std::min<std::uint64_t>(top, std::countr_zero(kMinClassBytes) - kMinShift);
        while (s < top &&
               (kShapes[s].blocks[cls] < kFill || (chunk % 128 == 0 && kShapes[s].align < 256)))
          ++s;
        t[top][cls] = static_cast<std::uint8_t>(kMinShift + s);
      }
    return t;
  }();
  // kLayouts[heap's shift - kMinShift][cls]: shape_of(cls) for that heap, read for one class.
  using Layouts = std::array<std::array<PageLayout, PageConfig::kClasses>, std::size(kShapes)>;
  static constexpr Layouts kLayouts = [] {
    Layouts t{};
    for (std::uint64_t top = 0; top < std::size(kShapes); ++top)
      for (std::uint64_t cls = 0; cls < PageConfig::kClasses; ++cls) {
        const PageShape& g = kShapes[kClassShift[top][cls] - kMinShift];
        t[top][cls] =
            PageLayout::of(PageConfig::chunk_of(cls), g.blocks[cls], g.first_user, g.map_bytes);
      }
    return t;
  }();
  static_assert(
      [] {
        for (std::uint64_t top = 0; top < std::size(kShapes); ++top)
          for (std::uint64_t cls = 0; cls < PageConfig::kClasses; ++cls) {
            const PageShape& g = kShapes[kClassShift[top][cls] - kMinShift];
            const PageLayout c = kLayouts[top][cls];
            if (c.chunk() != PageConfig::chunk_of(cls) || c.blocks() != g.blocks[cls] ||
                c.first_user() != g.first_user || c.map_bytes() != g.map_bytes)
              return false;
          }
        return true;
      }(),
      "every layout holds its shape's fields whole (each fits its 16 bits)");
};

// The owner's cache of one map word of its current page of a class, in its own thread's memory:
// the blocks of that word that were free when it last read the word, with what it needs to hand
// one out. A hand-out then reads no map and proves no page: one bit from `avail`, the live word
// rewritten with it set, the block's word written. It caches what the region says, never the
// reverse, so dropping it at any time loses nothing (its blocks stay free in `live`).
// It is right while two things hold, which PageTable keeps:
//   - the page is still the lane's current one of the class: a hand-out checks the lane's `cur`
//     against `cur` here, and whatever changes the current page (a refill, a give-back) changes
//     that word;
//   - no other hand-out takes that word's blocks: each Page::take of the owner reseeds it.
// Only the owner sets live bits, and a free sets only freed bits of blocks already live, so a bit
// free when read stays free until the owner takes it. Blocks given back meanwhile wait in
// `freed` until the cache runs dry and a take collects them.
struct PageFront {
  std::uint64_t avail = 0;  // bit k: block `first`'s k-th neighbour is free
  std::uint64_t live = 0;   // the live map word's offset from the core's base
  std::uint64_t first = 0;  // user offset of the word's block 0
  std::uint64_t word = 0;   // that block's word, hand-out count 0
  std::uint32_t chunk = 0;
  std::uint32_t cur = 0;  // the lane's `cur` for the class when seeded: the page's index + 1

  /// A block, when `avail` has one: its user offset.
  [[gnu::always_inline]] std::uint64_t take(std::byte* core) noexcept {
    // Not std::countr_zero, whose answer for 0 (which `avail` is not here) costs a branch.
    const auto k = static_cast<std::uint64_t>(__builtin_ctzll(avail));
    avail &= avail - 1;
    const std::atomic_ref<std::uint64_t> l(*reinterpret_cast<std::uint64_t*>(core + live));
    l.store(l.load(std::memory_order_relaxed) | std::uint64_t{1} << k, std::memory_order_relaxed);
    TALC_FAULT_POINT();
    const std::uint64_t user = first + k * chunk;
    const std::atomic_ref<std::uint64_t> w(
        *reinterpret_cast<std::uint64_t*>(core + user - kTagSize));
    const std::uint64_t gen = (w.load(std::memory_order_relaxed) >> PageConfig::kGenShift) + 1;
    w.store(word + (k << PageConfig::kBlockShift) + (gen << PageConfig::kGenShift),
            std::memory_order_relaxed);
    return user;
  }
};

// One page as this process sees it: the core heap's base here, the page's user offset, and its
// class's layout in pages of its size.
struct Page {
  std::byte* core;
  std::uint64_t u;
  PageLayout c;

  PageHeader& header() const noexcept { return *reinterpret_cast<PageHeader*>(core + u); }
  std::atomic_ref<std::uint64_t> field(std::uint64_t& f) const noexcept {
    return std::atomic_ref<std::uint64_t>(f);
  }
  std::atomic_ref<std::uint64_t> live(std::uint64_t w) const noexcept {
    return page_word(core, u + PageConfig::kHeader + w * kWord);
  }
  std::atomic_ref<std::uint64_t> freed(std::uint64_t w) const noexcept {
    return page_word(core, u + PageConfig::kHeader + c.map_bytes() + w * kWord);
  }
  std::uint64_t user_of(std::uint64_t b) const noexcept {
    return u + c.first_user() + b * c.chunk();
  }

  /// The owner's: a free block of the page (index `index`), handed out; its user offset, or
  /// kNull when every block is handed out or given back uncollected-and-racing. `front`, when
  /// given, is reseeded with the rest of the word the block came from (PageFront): the owner
  /// passes its own whenever it has one.
  [[gnu::always_inline]] std::uint64_t take(std::uint64_t index,
                                            PageFront* front = nullptr) const noexcept {
    const std::uint64_t n = c.blocks(), words = (n + 63) / 64;
    std::uint64_t w = field(header().cursor).load(std::memory_order_relaxed);
    if (w >= words) w = 0;
    for (std::uint64_t k = 0; k < words; ++k, w = w + 1 == words ? 0 : w + 1) {
      std::uint64_t l = live(w).load(std::memory_order_relaxed);
      if (const std::uint64_t f = freed(w).load(std::memory_order_acquire); f != 0) [[unlikely]]
        l = collect(w, l, f);
      const std::uint64_t m = ~l & PageGeometry::mask(n, w);
      if (m == 0) continue;
      PageFront f{m,
                  u + PageConfig::kHeader + w * kWord,
                  user_of(w * 64),
                  PageConfig::block_word(index, w * 64),
                  static_cast<std::uint32_t>(c.chunk()),
                  static_cast<std::uint32_t>(index + 1)};
      const std::uint64_t user = f.take(core);
      if (k != 0) field(header().cursor).store(w, std::memory_order_relaxed);
      if (front != nullptr) *front = f;
      return user;
    }
    return Rel<std::byte>::kNull;
  }

  /// The owner's: takes back the blocks of word `w` that were given back (`f`, `l` the live word
  /// as read); the live word after.
  std::uint64_t collect(std::uint64_t w, std::uint64_t l, std::uint64_t f) const noexcept {
    l &= ~f;
    live(w).store(l, std::memory_order_relaxed);
    TALC_FAULT_POINT();
    freed(w).fetch_and(~f, std::memory_order_acq_rel);
    TALC_FAULT_POINT();
    return l;
  }

  /// Anyone's: gives block `b` back. not_allocated (no block changed) when it is not handed out.
  [[gnu::always_inline]] Errc give_back(std::uint64_t b) const noexcept {
    const std::uint64_t bit = std::uint64_t{1} << (b % 64);
    if ((live(b / 64).load(std::memory_order_relaxed) & bit) == 0) return Errc::not_allocated;
    // Tells the owner that this page has blocks again, when nobody has since it last looked.
    // Before the fetch_or, which may leave the page with no block held: from then on its owner,
    // or anyone trimming, may give the page back, and no byte of it is this caller's to write.
    // An owner that clears the hint between the two finds the block when it next collects the
    // page (take, or the refill under the lock): late, never lost.
    if (field(header().hint).load(std::memory_order_relaxed) == 0) {
      field(header().hint).store(1, std::memory_order_relaxed);
      TALC_FAULT_POINT();
    }
    if ((freed(b / 64).fetch_or(bit, std::memory_order_acq_rel) & bit) != 0)
      return Errc::not_allocated;
    TALC_FAULT_POINT();
    return Errc::ok;
  }

  /// Blocks handed out and not given back, read without stopping anyone.
  std::uint64_t held() const noexcept {
    const std::uint64_t n = c.blocks();
    std::uint64_t k = 0;
    for (std::uint64_t w = 0; w < (n + 63) / 64; ++w)
      // Acquire: a free's fetch_or, read here, then happens before whatever the caller does
      // with a page found empty (gives it back, carves it again), its look at `live` included.
      k += static_cast<std::uint64_t>(std::popcount(live(w).load(std::memory_order_relaxed) &
                                                    ~freed(w).load(std::memory_order_acquire) &
                                                    PageGeometry::mask(n, w)));
    return k;
  }
};

}  // namespace talc
