// Layer 4 — the core heap, unsynchronised.
//
// `TalcMeta` is the object at the start of a heap: the bin heads, the availability bitmap and
// the journal, followed in memory by the chunks it manages. It lives inside the region it manages
// and every link it keeps is an offset from its own address, so a heap can be copied, mapped
// elsewhere or reopened from a file and goes on working (`attach`). It takes no lock, makes no
// system call and never allocates on its hot paths; the synchronised layer wraps it for
// shared use, and it works as well on an ordinary buffer in one process.
//
// Invariants (check() verifies every one of them):
//   I1  chunks tile [heap_start, heap_end) exactly; a sentinel tag sits at heap_end.
//   I2  each chunk's size is a multiple of kGranule, at least kMinChunk; its base is at
//       kChunkPhase mod kGranule.
//   I3  no two free chunks are adjacent; a tag's BELOW_FREE is set iff the chunk below is free.
//   I4  a free chunk's tail repeats its size.
//   I5  each free chunk is in exactly one list: the one of bin_of(its size); links are mutual.
//   I6  bit b of the availability bitmap is set iff bin b's list is non-empty.
//   I7  the live and free counters (HeapCounters) agree with the chunks.
//
// Where each concern lives (each file opens with its role):
//   talc_meta_bins.hpp     the free lists and the availability bitmap
//   talc_meta_alloc.hpp    allocation: find a chunk, carve the block
//   talc_meta_free.hpp     release: check a pointer handed back, merge, relink
//   talc_meta_resize.hpp   reallocation in place or by moving
//   talc_meta_grow.hpp     growth of the span
//   talc_meta_recover.hpp  the roll-back after a death, and its local check
//   talc_meta_check.hpp    check() and census(): the full walk
//
// Crash atomicity: every metadata write goes through put(), which first records the old value
// in the journal (journal.hpp), and every operation ends with commit(). A process that dies
// mid-operation leaves a journal that roll_back() undoes; I1-I7 then hold again. The undo works
// on what the journal names and their neighbours only (talc_meta_recover.hpp), so a recovery
// costs the same in a heap of ten chunks or ten million. `Journaled = false` builds the same
// heap without it, for measuring what it costs.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>

#include "talc/core/assert.hpp"
#include "talc/core/bin_config.hpp"
#include "talc/core/chunk.hpp"
#include "talc/core/errors.hpp"
#include "talc/core/heap_stats.hpp"
#include "talc/core/journal.hpp"
#include "talc/core/rel.hpp"

// The few functions of the allocate and release paths are inlined into each operation, whatever
// the compiler's size heuristics say: apart, each call spills the fit or merge it passes through
// memory and reloads words the caller had in registers (a third of a 64-byte pair's cost).
#define TALC_HOT [[gnu::always_inline]] inline

namespace talc {

struct ClaimOptions {
  /// Prove every deallocated pointer by a walk of the heap (O(chunks) per free). Such a heap has
  /// no lanes: the walk needs the lock.
  bool checked = false;
  /// For a heap with lanes (lanes/lane_heap.hpp): whether it has them, and with them pages
  /// (pages/page_table.hpp) for its small blocks. The core heap ignores it.
  bool lanes = true;
};

template <class Bins = DefaultBinConfig, bool Journaled = true>
class alignas(64) TalcMeta {
 public:
  using BinConfigType = Bins;
  /// Alignments up to 1 GiB; beyond that a shared heap is the wrong tool.
  static constexpr std::uint64_t kMaxAlign = std::uint64_t{1} << 30;
  /// Any request above this cannot be satisfied by any heap; refusing it early also keeps every
  /// size computation far from wrapping.
  static constexpr std::uint64_t kMaxRequest = kMaxSpan - 4 * kMaxAlign;

  TalcMeta(const TalcMeta&) = delete;
  TalcMeta& operator=(const TalcMeta&) = delete;

  /// The smallest buffer that claim() accepts at any base address.
  static constexpr std::size_t min_claim_size() noexcept {
    return alignof(TalcMeta) - 1 + sizeof(TalcMeta) + kChunkPhase + kMinChunk + kTagSize + kGranule;
  }

  /// Builds a heap in [buf, buf + len): the TalcMeta at the first 64-aligned address, one free
  /// chunk over the rest. Refuses a null or too small buffer, and writes nothing then.
  static Result<TalcMeta*> claim(void* buf, std::size_t len, ClaimOptions opts = {}) noexcept;

  /// The heap whose TalcMeta is at `meta` (a copy, another mapping, a reopened file), of which
  /// `available` bytes from `meta` on are mapped. Checks the fields it needs to stay in bounds;
  /// the full check() is the caller's choice.
  static Result<TalcMeta*> attach(void* meta, std::size_t available) noexcept;

  /// A block of at least `size` bytes aligned to `align` (a power of two up to kMaxAlign).
  /// A size of 0 gives a real, unique minimal block that must be deallocated like any other.
  Result<void*> allocate(std::size_t size, std::size_t align = kGranule) noexcept;

  /// The bytes of the free chunk that allocate(size, align) would carve its block from; 0 when
  /// none fits, the request is refused, or a chunk on the way is damaged (which allocate says).
  std::uint64_t fit_size(std::size_t size, std::size_t align = kGranule) const noexcept;

  /// Returns the block that starts at `p`. Refuses, changing nothing: null, a pointer outside
  /// the heap or not at a block's start, a block that is already free.
  Errc deallocate(void* p) noexcept;

  /// The allocated chunk whose user pointer is `p`, or why there is none (talc_meta_free.hpp).
  /// `Locked` false: for a caller without the lock, which asks again under it on a "no".
  template <bool Locked = true>
  TALC_HOT Result<Chunk> live_chunk(const void* p) const noexcept;

  /// deallocate() of a chunk that live_chunk() has just proved live, with no write since: for a
  /// caller that needed the chunk first (a lane deciding where a block goes).
  Errc deallocate_live(const Chunk& live) noexcept;

  /// The bytes usable at `p` (at least what was asked for), after the same checks as deallocate.
  Result<std::size_t> usable_size(const void* p) const noexcept;

  /// allocate(), with the first `size` bytes zeroed.
  Result<void*> allocate_zeroed(std::size_t size, std::size_t align = kGranule) noexcept;

  /// Resizes the block at `p` to at least `size` bytes aligned to `align`, keeping its first
  /// min(old, size) bytes, as one atomic operation: in place when it can (shrinking gives the
  /// tail back to the free lists; growing takes from a free chunk just above), otherwise by
  /// moving the bytes to a new block and freeing the old one. On a refusal the old block is
  /// untouched and still owned by the caller.
  Result<void*> reallocate(void* p, std::size_t size, std::size_t align = kGranule) noexcept;
  /// reallocate() on the block the slot names (see allocate_into), rewriting the slot with the
  /// block's new offset in the same atomic operation when it moves.
  Result<void*> reallocate_from(const void* owner, std::size_t word, std::size_t size,
                                std::size_t align = kGranule, std::uint64_t bias = 0) noexcept;
  /// In place only, never moving: grow to at least `size` usable bytes (out_of_memory when the
  /// chunk above cannot give them), or give back all but `size` of them (a no-op when the saving
  /// would be smaller than a chunk). A size already met is ok and changes nothing.
  Errc try_grow(void* p, std::size_t size) noexcept;
  Errc try_shrink(void* p, std::size_t size) noexcept;

  /// Takes the bytes [span(), new_span) from this heap's base, which the caller has made
  /// readable and writable, into the heap: they join the free chunk at the old end, or become a
  /// new one. One atomic operation, like every other.
  Errc grow(std::uint64_t new_span) noexcept;

  /// Allocation and deallocation that also publish their result in the same atomic operation,
  /// so that a process dying at any instant can neither leak a block nor leave a dangling
  /// reference: the slot is word `word` of the live block `owner`, and holds the block's offset
  /// from this heap's base plus `bias` (a caller whose offsets count from an enclosing region's
  /// base passes the heap's offset in that region), or the null offset. The slot must hold the
  /// null offset: anything else may name a live block that overwriting would leak, so it is
  /// refused (slot_occupied) before anything is written.
  Result<void*> allocate_into(const void* owner, std::size_t word, std::size_t size,
                              std::size_t align = kGranule, std::uint64_t bias = 0) noexcept;
  /// Frees the block the slot names and nulls the slot. Refuses an empty slot (null_pointer),
  /// and a slot that names its own block (foreign_pointer).
  Errc deallocate_from(const void* owner, std::size_t word, std::uint64_t bias = 0) noexcept;
  /// The three slot calls on a slot the caller found itself: `slot` is the word's offset from
  /// this heap's base, inside a block the caller proved live and not the core's own (a page's
  /// block, pages/page_table.hpp). slot_of() is how the core finds one in its own chunks.
  Result<void*> allocate_at(std::uint64_t slot, std::size_t size, std::size_t align = kGranule,
                            std::uint64_t bias = 0) noexcept;
  Errc deallocate_at(std::uint64_t slot, std::uint64_t bias = 0) noexcept;
  Result<void*> reallocate_at(std::uint64_t slot, std::size_t size, std::size_t align = kGranule,
                              std::uint64_t bias = 0) noexcept;
  /// The offset of word `word` of the live chunk `owner`: not_allocated, foreign_pointer... when
  /// there is no such word.
  Result<std::uint64_t> slot_of(const void* owner, std::size_t word) const noexcept;
  /// An allocation whose first word holds `mark` in the same atomic operation, for a block that
  /// can be published only after the operation (a word outside the heap names it): a process
  /// that dies before publishing leaves a block a walk of the heap can recognise by its mark.
  Result<void*> allocate_marked(std::size_t size, std::size_t align, std::uint64_t mark) noexcept;

  /// Undoes an operation that a dead process left half-done (nothing when none was). Returns
  /// the words restored, or Errc::corrupted when the journal itself is not consistent (and then
  /// writes nothing). Touches the words the journal names and their neighbours: constant time
  /// whatever the heap's size.
  Result<std::uint64_t> roll_back() noexcept;
  /// What a process that took the lock from a dead holder runs: roll_back(), then a check of
  /// every chunk and bin the roll-back touched (their tags, boundaries, tails, list links and
  /// bitmap bits) and of the counters' bounds. Errc::corrupted when either fails. The full walk
  /// stays available as check().
  Result<std::uint64_t> recover_after_death() noexcept;
  /// Words recorded by the operation in progress; 0 between operations.
  std::uint64_t journal_size() const noexcept { return journal_.size(); }
  /// Where the journal lies in the metadata: its entries keep stale values between operations,
  /// so byte comparisons of two heaps' metadata leave [offset + 8, offset + sizeof(Journal)) out.
  static constexpr std::uint64_t journal_offset() noexcept { return offsetof(TalcMeta, journal_); }
  /// Where the counters lie: statistics, not heap state, so such comparisons leave them out too.
  static constexpr std::uint64_t counters_offset() noexcept {
    return offsetof(TalcMeta, counters_);
  }
  /// Where bin `bin`'s head and the availability bitmap's word `word` lie, from this object.
  static constexpr std::uint64_t head_slot(std::uint64_t bin) noexcept;
  static constexpr std::uint64_t avail_slot(std::uint64_t word) noexcept;

  /// Verifies every invariant above by a walk of every chunk and every bin. Never writes,
  /// never reads outside the span, never loops forever, whatever the bytes say.
  CheckReport check() const;
  /// The walk's figures; with `free_by_bin`, also how many free chunks each bin holds (the tool
  /// shows how free space lies).
  using BinCounts = std::array<std::uint64_t, Bins::kBins>;
  Census census(BinCounts* free_by_bin = nullptr) const noexcept;
  /// Takes back the count of the last refusal for want of memory, which the caller then served
  /// another way (it grew the heap and asked again).
  void retract_failure() noexcept {
    if (counters_.failures != 0) --counters_.failures;
  }
  /// For a layer above that builds its tables in the heap as the heap is built: the live block
  /// at `p` is the heap's own, not a user's, and leaves the peak of what users held.
  void keep_for_layers(const void* p) noexcept {
    const Result<Chunk> c = live_chunk(p);
    if (!c) return;
    ++counters_.own_chunks;
    counters_.own_bytes += c->size;
    counters_.peak_live_bytes = users_usable();
  }
  /// The counters, and the largest free chunk (a walk of the largest non-empty bin only).
  HeapStats stats() const noexcept;
  const HeapCounters& counters() const noexcept { return counters_; }
  /// Calls f(Chunk, bool allocated) for each chunk in address order. Stops early at a tag that
  /// cannot be right (a heap that fails check()), so it is safe on any bytes.
  template <class F>
  void for_each_chunk(F&& f) const {
    for (std::uint64_t off = heap_start_; off < heap_end_;) {
      const Tag tag = tag_at(off);
      if (tag.size() < kMinChunk || tag.size() > heap_end_ - off) return;
      f(Chunk{off, tag.size()}, tag.allocated());
      off += tag.size();
    }
  }

  std::uint64_t offset_of(const void* p) const noexcept {
    return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p) - addr());
  }
  void* address_of(std::uint64_t off) noexcept { return bytes() + off; }
  const void* address_of(std::uint64_t off) const noexcept { return bytes() + off; }

  std::uint64_t span() const noexcept { return span_; }
  std::uint64_t heap_start() const noexcept { return heap_start_; }
  std::uint64_t heap_end() const noexcept { return heap_end_; }
  /// The heap end for a reader that does not hold the lock (a lane checking a block): a growth
  /// may move it meanwhile, only upwards, so a stale value is only more cautious.
  std::uint64_t heap_end_unlocked() const noexcept {
    return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(heap_end_))
        .load(std::memory_order_relaxed);
  }
  /// Bytes the chunks may use: the span less the metadata, padding and sentinel.
  std::uint64_t capacity() const noexcept { return heap_end_ - heap_start_; }
  bool checked() const noexcept { return (flags_ & kFlagChecked) != 0; }

 private:
  static constexpr std::uint64_t kFlagChecked = 1;
  static constexpr std::uint64_t kKnownFlags = kFlagChecked;
  /// How many chunks of the request's own bin are looked at before moving to a larger bin.
  static constexpr int kProbe = 4;
  static constexpr std::uint64_t kNoBin = ~std::uint64_t{0};

  struct Fit {
    std::uint64_t base = Rel<FreeHead>::kNull;
    std::uint64_t size = 0;
    std::uint64_t gap = 0;
    std::uint64_t bin = 0;      // the bin the chunk is listed in
    std::uint64_t gap_bin = 0;  // set by plan(): the bins of the gap and remainder, when any
    std::uint64_t rest_bin = 0;
    bool corrupt = false;  // a chunk on the way was not one: the heap's bytes are damaged
  };

  /// What releasing a live chunk leaves (see merge_of).
  struct Merge {
    std::uint64_t base = 0, size = 0, bin = 0;    // the free chunk it leaves, and its bin
    std::uint64_t below_bin = 0;                  // of the free chunk below, when base moved down
    std::uint64_t above_size = 0, above_bin = 0;  // of the free chunk above; size 0: none
    bool ok = false;  // every offset the release will write through was checked
  };

  TalcMeta(std::uint64_t span, std::uint64_t heap_end, std::uint64_t flags) noexcept
      : span_(span), heap_start_(heap_start_offset()), heap_end_(heap_end), flags_(flags) {}

  static constexpr std::uint64_t heap_start_offset() noexcept {
    return sizeof(TalcMeta) + kChunkPhase;
  }

  std::uintptr_t addr() const noexcept { return reinterpret_cast<std::uintptr_t>(this); }
  std::byte* bytes() noexcept { return reinterpret_cast<std::byte*>(this); }
  const std::byte* bytes() const noexcept { return reinterpret_cast<const std::byte*>(this); }

  /// The metadata primitives: every read and write of heap metadata goes through them, and
  /// every write that matters to a roll-back is journalled first (see journal.hpp).
  TALC_HOT std::uint64_t get(std::uint64_t off) const noexcept { return load_word(bytes(), off); }
  /// A write whose old value the caller already holds (it read it, or an invariant fixes it):
  /// the journal records it without reading the word again, which would stall on a cold line.
  TALC_HOT void put(std::uint64_t off, std::uint64_t old, std::uint64_t v,
                    std::uint64_t mark = 0) noexcept {
    if constexpr (Journaled) {
      journal_.record(off, old, mark);
      Journal::store_after_record(bytes(), off, v);
    } else {
      store_word(bytes(), off, v);
    }
    TALC_FAULT_POINT();
  }
  TALC_HOT void put(std::uint64_t off, std::uint64_t v) noexcept { put(off, get(off), v); }
  /// put() of a word that was a chunk's tag when the operation began (Journal::kChunkTag): a
  /// roll-back repairs that chunk's tail and the BELOW_FREE flag above it. Invariant: an
  /// operation writes no tail and no BELOW_FREE flag of a chunk it has not named this way
  /// before, and changes no counter before its first entry, so a death that leaves the journal
  /// empty left nothing to repair. Program order is what counts: a process dies between two of
  /// its instructions, and neither compiler moves a store above the journal's atomic stores.
  TALC_HOT void put_tag(std::uint64_t off, std::uint64_t old, std::uint64_t v) noexcept {
    put(off, old, v, Journal::kChunkTag);
  }
  /// A write that needs no journal entry, because a roll-back does not need its old value:
  ///  - words that roll_back recomputes from the tags and links it restores: free chunks' tails
  ///    and BELOW_FREE flags (when a tag changes only in that flag) next to a chunk named by
  ///    put_tag; the availability bit of a bin whose head was journalled, and the prev_link of
  ///    the chunk that head names (the first chunk of a bin is linked from the head slot);
  ///  - the unused interior of the free chunk being carved up, unused again after a roll-back;
  ///  - the user bytes of the block being freed: its owner is giving them up, and only the
  ///    owner can have died in the middle of that free.
  TALC_HOT void put_unlogged(std::uint64_t off, std::uint64_t v) noexcept {
    store_word(bytes(), off, v);
    TALC_FAULT_POINT();
  }
  /// Ends an operation: from here on a death leaves it done, not undone.
  ///
  /// The live and free counters change as the operation goes, and nothing in the journal says how
  /// far a dying operation got, so a roll-back cannot derive them from what it restores (a tag
  /// restored before or after its counter moved looks the same). They are kept instead: after
  /// the journal is emptied, `committed_` takes their values, and a roll-back gives them back.
  /// After, not before: a death between the two leaves an empty journal and counters that are
  /// right, and roll_back then copies them. Release stores keep the copy after the commit. Three
  /// stores per operation, of values the operation has just written.
  TALC_HOT void commit() noexcept {
    if constexpr (Journaled) {
      journal_.commit();
      keep(committed_.live_chunks, counters_.live_chunks);
      keep(committed_.live_bytes, counters_.live_bytes);
      keep(committed_.free_chunks, counters_.free_chunks);
    }
    TALC_FAULT_POINT();
  }
  static void keep(std::uint64_t& to, std::uint64_t v) noexcept {
    std::atomic_ref<std::uint64_t>(to).store(v, std::memory_order_release);
  }
  Tag tag_at(std::uint64_t off) const noexcept { return Tag{get(off)}; }

  TALC_HOT std::uint64_t next_available_bin(std::uint64_t from) const noexcept;
  TALC_HOT std::uint64_t gap_for(std::uint64_t base, std::uint64_t align) const noexcept;
  TALC_HOT Fit find(std::uint64_t need, std::uint64_t align) const noexcept;

  /// Offsets read from the region are another process's data. Before an operation writes
  /// anything, every offset it will write through is checked: a chunk offset lies in the heap at
  /// the chunk phase with room for a free chunk, a link is a bin head or a chunk's `next` word,
  /// and a free chunk to unlink is tagged free with a size that stays inside. A heap whose bytes
  /// fail this is refused with Errc::corrupted instead of becoming wild addresses.
  TALC_HOT bool chunk_offset_ok(std::uint64_t c) const noexcept {
    return c % kGranule == kChunkPhase && c >= heap_start_ && c <= heap_end_ - kMinChunk;
  }
  TALC_HOT bool link_ok(std::uint64_t link) const noexcept {
    if (link >= head_slot(0) && link < head_slot(Bins::kBins))
      return (link - head_slot(0)) % kWord == 0;
    return link >= heap_start_ + kNextOffset && link <= heap_end_ - kMinChunk + kNextOffset &&
           link % kGranule == (kChunkPhase + kNextOffset) % kGranule;
  }
  TALC_HOT bool free_chunk_ok(std::uint64_t c) const noexcept {
    if (!chunk_offset_ok(c)) return false;
    const Tag tag = tag_at(c);
    if (tag.bits != Tag::make(tag.size(), false, false).bits || tag.size() < kMinChunk ||
        tag.size() > heap_end_ - c)
      return false;
    const std::uint64_t next = get(c + kNextOffset);
    return (next == Rel<FreeHead>::kNull || chunk_offset_ok(next)) &&
           link_ok(get(c + kPrevLinkOffset));
  }
  TALC_HOT bool bin_head_ok(std::uint64_t bin) const noexcept {
    const std::uint64_t head = get(head_slot(bin));
    return head == Rel<FreeHead>::kNull || chunk_offset_ok(head);
  }
  bool head_ok(std::uint64_t size) const noexcept { return bin_head_ok(Bins::bin_of(size)); }
  /// Whether releasing `c` will write only through offsets that passed the checks above.
  bool release_ok(const Chunk& c) const noexcept;
  /// The same, for releasing `c` once carve(fit, need) has carved its new block (a move).
  bool release_after_carve_ok(const Chunk& c, const Fit& fit, std::uint64_t need) const noexcept;
  /// Checks a request's size and alignment alone.
  static Errc request_error(std::size_t size, std::size_t align) noexcept;
  /// Resizes the live chunk `c` to `need` bytes without moving it. Not committed.
  Errc resize_in_place(const Chunk& c, std::uint64_t need) noexcept;
  /// Resizes the live chunk `c`, whose user pointer is `p`, in place or by moving it; gives the
  /// new user pointer. Not committed (the reallocate calls count and commit).
  Result<void*> resize(const Chunk& c, void* p, std::size_t size, std::size_t align) noexcept;
  /// A refusal of a request, counted when it was for want of memory.
  Errc refused(Errc why) noexcept {
    if (why == Errc::out_of_memory) ++counters_.failures;
    return why;
  }
  /// Bumps an operation counter and the peak, just before the commit.
  void count(std::uint64_t HeapCounters::*op) noexcept {
    ++(counters_.*op);
    note_peak();
  }
  void note_peak() noexcept {
    const std::uint64_t usable = users_usable();
    if (usable > counters_.peak_live_bytes) counters_.peak_live_bytes = usable;
  }
  /// Usable bytes of the live chunks but the layers' own (keep_for_layers).
  std::uint64_t users_usable() const noexcept {
    return (counters_.live_bytes - counters_.own_bytes) -
           (counters_.live_chunks - counters_.own_chunks) * kTagSize;
  }
  /// Checks a request and finds its chunk; `why` says why there is none.
  TALC_HOT Fit plan(std::size_t size, std::size_t align, Errc& why) const noexcept;
  TALC_HOT Errc bins_for(Fit& fit, std::uint64_t need) const noexcept;
  /// Carves the block out of the chosen chunk. Like release, it leaves the commit to the caller.
  TALC_HOT void* carve(const Fit& fit, std::uint64_t need) noexcept;
  /// Frees `c`, merging. `Keep`: a roll-back must give the block back with its bytes intact
  /// (a reallocation that gives it up only if it commits), so no word of it is written unlogged.
  /// `Split`: `c` was split off a block by this operation, so its tag is no chunk's to a
  /// roll-back (see put_tag).
  template <bool Keep = false, bool Split = false>
  TALC_HOT void release(const Chunk& c, const Merge& m) noexcept;
  TALC_HOT Merge merge_of(const Chunk& c) const noexcept;
  /// deallocate_from and deallocate_at: frees the block the slot names and nulls the slot.
  Errc release_named(std::uint64_t slot, std::uint64_t bias) noexcept;

  /// Links a free chunk into `bin` (the bin of its size); `fresh` when its node words are unused
  /// interior. Unlinks one from the bin it is listed in.
  TALC_HOT void link(std::uint64_t base, std::uint64_t bin, bool fresh) noexcept;
  TALC_HOT void unlink(std::uint64_t base, std::uint64_t bin) noexcept;
  TALC_HOT void write_node(std::uint64_t base, std::uint64_t next, std::uint64_t prev_link,
                           bool fresh) noexcept;
  /// Moves a listed free chunk to a new base and size (see talc_meta_bins.hpp).
  TALC_HOT void rebin(std::uint64_t from, std::uint64_t from_bin, std::uint64_t base,
                      std::uint64_t bin, bool fresh) noexcept;

  bool is_chunk_start(std::uint64_t base) const noexcept;

  /// Recovery (talc_meta_recover.hpp): what a journal names, the roll-back and its local check.
  struct Named;
  Result<std::uint64_t> undo(Named& named) noexcept;
  bool journal_consistent(const Named& named) const noexcept;
  void repair_around(std::uint64_t chunk) noexcept;
  void repair_bin(std::uint64_t bin) noexcept;
  bool local_check(const Named& named) const noexcept;
  bool chunk_agrees(std::uint64_t chunk) const noexcept;
  bool free_chunk_agrees(std::uint64_t chunk) const noexcept;
  bool free_in_bin(std::uint64_t chunk, std::uint64_t bin) const noexcept;
  bool bin_agrees(std::uint64_t bin) const noexcept;
  bool counters_plausible() const noexcept;

  std::uint64_t span_;        // bytes from this object's address that belong to the heap
  std::uint64_t heap_start_;  // offset of the first chunk
  std::uint64_t heap_end_;    // offset of the sentinel tag
  std::uint64_t flags_;
  HeapCounters counters_;
  Journal journal_;
  /// The live and free counters as the last commit left them (see commit()).
  struct {
    std::uint64_t live_chunks = 0, live_bytes = 0, free_chunks = 0;
  } committed_;
  std::uint64_t avail_[Bins::kBitmapWords] = {};
  Rel<FreeHead> bins_[Bins::kBins];
};

// ---- implementation -------------------------------------------------------------------------

template <class Bins, bool Journaled>
constexpr std::uint64_t TalcMeta<Bins, Journaled>::head_slot(std::uint64_t bin) noexcept {
  return offsetof(TalcMeta, bins_) + bin * sizeof(Rel<FreeHead>);
}

template <class Bins, bool Journaled>
constexpr std::uint64_t TalcMeta<Bins, Journaled>::avail_slot(std::uint64_t word) noexcept {
  return offsetof(TalcMeta, avail_) + word * kWord;
}

template <class Bins, bool Journaled>
Result<TalcMeta<Bins, Journaled>*> TalcMeta<Bins, Journaled>::claim(void* buf, std::size_t len,
                                                                    ClaimOptions opts) noexcept {
  if (buf == nullptr) return Errc::null_region;
  const std::uintptr_t start = reinterpret_cast<std::uintptr_t>(buf);
  const std::uintptr_t pad = (alignof(TalcMeta) - start % alignof(TalcMeta)) % alignof(TalcMeta);
  if (len < pad + sizeof(TalcMeta) + kChunkPhase + kMinChunk + kTagSize)
    return Errc::region_too_small;
  if (len - pad > kMaxSpan) return Errc::region_too_large;
  const std::uint64_t span = len - pad;
  /// The sentinel's offset: the last position at kChunkPhase mod kGranule that leaves room for it.
  const std::uint64_t heap_end = ((span - kTagSize - kChunkPhase) & ~(kGranule - 1)) + kChunkPhase;
  if (heap_end < heap_start_offset() + kMinChunk) return Errc::region_too_small;

  auto* meta = ::new (static_cast<std::byte*>(buf) + pad)
      TalcMeta(span, heap_end, opts.checked ? kFlagChecked : 0);
  const std::uint64_t first = meta->heap_start_;
  meta->put(first, Tag::make(heap_end - first, false, false).bits);
  meta->put(heap_end - kTailFromEnd, heap_end - first);
  meta->put(heap_end, Tag::sentinel(true).bits);
  meta->link(first, Bins::bin_of(heap_end - first), false);
  meta->commit();
  return meta;
}

template <class Bins, bool Journaled>
Result<TalcMeta<Bins, Journaled>*> TalcMeta<Bins, Journaled>::attach(
    void* meta, std::size_t available) noexcept {
  if (meta == nullptr) return Errc::null_region;
  if (reinterpret_cast<std::uintptr_t>(meta) % alignof(TalcMeta) != 0) return Errc::corrupted;
  if (available < sizeof(TalcMeta)) return Errc::region_too_small;
  auto* m = std::launder(reinterpret_cast<TalcMeta*>(meta));
  const std::uint64_t span = m->span_, start = m->heap_start_, end = m->heap_end_;
  if (start != heap_start_offset() || (m->flags_ & ~kKnownFlags) != 0) return Errc::corrupted;
  if (span > kMaxSpan || span < start + kMinChunk + kTagSize || end % kGranule != kChunkPhase ||
      end < start + kMinChunk || end > span - kTagSize)
    return Errc::corrupted;
  if (span > available) return Errc::region_too_small;
  return m;
}

// ---- statistics ------------------------------------------------------------------------------

template <class Bins, bool Journaled>
HeapStats TalcMeta<Bins, Journaled>::stats() const noexcept {
  HeapStats st;
  const HeapCounters& k = counters_;
  st.span_bytes = span_;
  st.live_allocations = k.live_chunks;
  st.live_bytes = k.live_bytes - k.live_chunks * kTagSize;
  st.free_bytes = capacity() - k.live_bytes;
  st.free_chunks = k.free_chunks;
  st.overhead_bytes = span_ - st.live_bytes - st.free_bytes;
  st.peak_live_bytes = k.peak_live_bytes;
  st.allocations = k.allocations;
  st.deallocations = k.deallocations;
  st.reallocations = k.reallocations;
  st.failures = k.failures;
  st.growths = k.growths;
  /// The largest free chunk is in the highest non-empty bin; that list is walked, bounded by
  /// the number of chunks the heap can hold, and stops at anything that is not a free chunk.
  std::uint64_t top = kNoBin;
  for (std::uint64_t b = next_available_bin(0); b != kNoBin; b = next_available_bin(b + 1)) top = b;
  if (top != kNoBin) {
    std::uint64_t budget = capacity() / kMinChunk + 1;
    for (std::uint64_t c = get(head_slot(top)); c != Rel<FreeHead>::kNull && budget-- != 0;
         c = get(c + kNextOffset)) {
      if (!free_chunk_ok(c)) break;
      const std::uint64_t sz = tag_at(c).size();
      if (sz > st.largest_free) st.largest_free = sz;
    }
  }
  return st;
}

}  // namespace talc

// The operations, one concern per file; each needs the class above and refuses to be included
// on its own.
#define TALC_INSIDE_TALC_META
#include "talc/core/talc_meta_alloc.hpp"
#include "talc/core/talc_meta_bins.hpp"
#include "talc/core/talc_meta_check.hpp"
#include "talc/core/talc_meta_free.hpp"
#include "talc/core/talc_meta_grow.hpp"
#include "talc/core/talc_meta_recover.hpp"
#include "talc/core/talc_meta_resize.hpp"
#undef TALC_INSIDE_TALC_META
