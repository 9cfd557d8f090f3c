// Layer 2 — chunk metadata: the byte layout of a heap, here and nowhere else.
//
// The heap is a run of chunks, each starting where the previous one ends, closed by a
// one-word sentinel tag. All positions are byte offsets from the heap's base (the address of
// its TalcMeta), so the layout means the same thing wherever the region is mapped.
//
//   allocated chunk (size S, a multiple of 16, at least 32)
//   +----------+----------------------------------------------+
//   | Tag      | user bytes: S - 8 of them                    |
//   +----------+----------------------------------------------+
//   ^ base     ^ base + 8: the pointer handed out (16-aligned)
//
//   free chunk (size S)
//   +----------+-----------+----------------+-------- ... ----+-----------+
//   | Tag      | next      | prev_link      |  (unused)       | FreeTail  |
//   +----------+-----------+----------------+-------- ... ----+-----------+
//   ^ base      FreeNode: the intrusive bin list                ^ base + S - 8 holds S
//
//   Tag = size | flags:  bit 0 ALLOCATED, bit 1 BELOW_FREE (the chunk just below is free).
//
// Every chunk base lies at 8 mod 16 from the (64-aligned) heap base, so every user pointer is
// 16-aligned without padding: the alignment malloc gives, and the one most C++ types need.
//
// Why the tag sits at the front (the seed puts a tag holding the base offset at the back):
// from a user pointer alone we reach the tag, the chunk's size, and through the size the
// next chunk; so a handle that crosses to another process needs only its offset, and a
// pointer handed back is checked against its own tag and both neighbours before anything
// is written. The cost is the seed's: one word per allocated chunk.
//
// A free chunk carries its size at both ends: the tail lets the chunk above find it (when
// that chunk's BELOW_FREE is set) and merge with it. Two free chunks are never adjacent.
// `next` links to the next chunk of the same bin (or null); `prev_link` is the offset of the
// word that links to this chunk: the bin's head slot in TalcMeta or the `next` word of the
// previous chunk. That makes unlinking a constant-time rewrite of two words with no special
// case for the first chunk of a bin.
//
// Every word is read and written through load_word / store_word: the region is raw bytes that
// another process wrote, and those two functions are the single place where metadata reaches
// memory.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "talc/core/rel.hpp"

namespace talc {

inline constexpr std::uint64_t kWord = 8;
inline constexpr std::uint64_t kGranule = 16;  // every chunk size is a multiple of this
inline constexpr std::uint64_t kTagSize = kWord;
inline constexpr std::uint64_t kMinChunk = 32;   // Tag + FreeNode + FreeTail
inline constexpr std::uint64_t kChunkPhase = 8;  // chunk bases are at 8 mod kGranule
/// The largest chunk and the largest heap: offsets keep 16 bits of headroom, so no sum of two
/// checked offsets can wrap.
inline constexpr std::uint64_t kMaxSpan = std::uint64_t{1} << 48;

struct FreeHead;

struct Tag {
  static constexpr std::uint64_t kAllocated = 1;
  static constexpr std::uint64_t kBelowFree = 2;
  static constexpr std::uint64_t kFlagMask = kGranule - 1;
  /// Bit 2 and 3 are never set; a word with them set is not a tag.
  static constexpr std::uint64_t kKnownFlags = kAllocated | kBelowFree;

  std::uint64_t bits;

  constexpr std::uint64_t size() const noexcept { return bits & ~kFlagMask; }
  constexpr bool allocated() const noexcept { return (bits & kAllocated) != 0; }
  constexpr bool below_free() const noexcept { return (bits & kBelowFree) != 0; }
  constexpr bool well_formed() const noexcept { return (bits & kFlagMask & ~kKnownFlags) == 0; }

  static constexpr Tag make(std::uint64_t size, bool allocated, bool below_free) noexcept {
    return Tag{size | (allocated ? kAllocated : 0) | (below_free ? kBelowFree : 0)};
  }
  /// The sentinel after the last chunk: "allocated", so nothing ever merges past the end.
  static constexpr Tag sentinel(bool below_free) noexcept { return make(0, true, below_free); }
  /// What a tag word becomes when its chunk is swallowed by a merge: no size, no flags, so a
  /// second free of the same pointer finds "not allocated" instead of a stale tag.
  static constexpr Tag poison() noexcept { return Tag{0}; }
};

struct FreeNode {
  Rel<FreeHead> next;
  Rel<Rel<FreeHead>> prev_link;
};

struct FreeHead {
  Tag tag;
  FreeNode node;
};

struct FreeTail {
  std::uint64_t size;
};

/// Byte offsets of the fields, relative to the chunk base (or, for the tail, the chunk end).
inline constexpr std::uint64_t kNextOffset = offsetof(FreeHead, node) + offsetof(FreeNode, next);
inline constexpr std::uint64_t kPrevLinkOffset =
    offsetof(FreeHead, node) + offsetof(FreeNode, prev_link);
inline constexpr std::uint64_t kTailFromEnd = sizeof(FreeTail);

static_assert(sizeof(Tag) == kTagSize && alignof(Tag) == 8);
static_assert(sizeof(FreeNode) == 16 && sizeof(FreeHead) == 24 && sizeof(FreeTail) == 8);
static_assert(kNextOffset == 8 && kPrevLinkOffset == 16);
static_assert(kMinChunk == sizeof(FreeHead) + sizeof(FreeTail), "a free chunk must fit");
static_assert(kMinChunk % kGranule == 0 && kChunkPhase + kTagSize == kGranule,
              "user pointers must land on the granule");

/// A chunk seen from outside: where it starts and how large it is.
struct Chunk {
  std::uint64_t base;
  std::uint64_t size;

  constexpr std::uint64_t end() const noexcept { return base + size; }
  constexpr std::uint64_t user() const noexcept { return base + kTagSize; }
  constexpr std::uint64_t tail() const noexcept { return end() - kTailFromEnd; }
  static constexpr std::uint64_t base_of_user(std::uint64_t user) noexcept {
    return user - kTagSize;
  }
};

/// Whether `a` is a power of two. Not std::has_single_bit: without a popcount instruction in the
/// target (baseline x86-64), that compiles to a library call on every allocation.
constexpr bool is_power_of_two(std::uint64_t a) noexcept {
  return a != 0 && (a & (a - 1)) == 0;
}

/// The chunk size that holds `n` user bytes: tag plus rounding to the granule, at least the
/// minimum. Callers check `n` against kMaxSpan first, so this cannot wrap.
constexpr std::uint64_t chunk_size_for(std::uint64_t n) noexcept {
  const std::uint64_t s = (n + kTagSize + kGranule - 1) & ~(kGranule - 1);
  return s < kMinChunk ? kMinChunk : s;
}

/// Relaxed atomic accesses, which compile to plain moves: a lane (lanes.hpp) reads a block's tag
/// and its neighbours' without the heap's lock, while an operation under the lock may rewrite
/// them, and a plain access on either side would be a data race.
inline std::uint64_t load_word(const std::byte* base, std::uint64_t off) noexcept {
  auto* w = std::launder(reinterpret_cast<std::uint64_t*>(const_cast<std::byte*>(base + off)));
  return std::atomic_ref<std::uint64_t>(*w).load(std::memory_order_relaxed);
}

inline void store_word(std::byte* base, std::uint64_t off, std::uint64_t v) noexcept {
  auto* w = std::launder(reinterpret_cast<std::uint64_t*>(base + off));
  std::atomic_ref<std::uint64_t>(*w).store(v, std::memory_order_relaxed);
}

}  // namespace talc
