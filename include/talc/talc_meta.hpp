// Layer 4 — the core heap, unsynchronised.
//
// `TalcMeta` is the object at the start of a heap: the bin heads, the availability bitmap and
// the journal, followed in memory by the chunks it manages. It lives inside the region it manages
// and every link it keeps is an offset from its own address, so a heap can be copied, mapped
// elsewhere or reopened from a file and goes on working (`adopt`). It takes no lock, makes no
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
// Allocation: the request's own bin is probed (a few chunks, since sizes in one bin straddle
// the request), then the first non-empty bin whose every chunk fits is taken; a constant
// number of bitmap words and list nodes are touched whatever the heap's size. An aligned
// request may leave a leading gap, which becomes a free chunk of its own (gaps smaller than
// kMinChunk are avoided by moving one alignment step further). A remainder of at least
// kMinChunk is split off and freed; a smaller one stays with the block.
//
// Deallocation checks the pointer against its tag and both neighbours before it writes
// anything (a double free or a pointer into the middle of a block is refused, the heap is
// untouched), then merges with free neighbours on both sides. With `ClaimOptions::checked`
// it also proves, by walking the chunks, that the pointer starts a live block: that refuses
// even a forged tag, at a cost linear in the number of chunks.
//
// Reallocation resizes in place when it can (a shrink frees the tail, a grow swallows the free
// chunk above) and otherwise carves a new block, copies and frees the old one, all in one
// operation. Growth (grow()) takes bytes the caller has added after the span into the heap.
//
// Crash atomicity: every metadata write goes through put(), which first records the old value
// in the journal (journal.hpp), and every operation ends with commit(). A process that dies
// mid-operation leaves a journal that roll_back() undoes; I1-I7 then hold again. The undo works
// on what the journal names and their neighbours only (talc_meta_recover.hpp), so a recovery
// costs the same in a heap of ten chunks or ten million. `Journaled = false` builds the same
// heap without it, for measuring what it costs.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>

#include "talc/bin_config.hpp"
#include "talc/chunk.hpp"
#include "talc/errors.hpp"
#include "talc/journal.hpp"
#include "talc/rel.hpp"

namespace talc {

struct ClaimOptions {
  // Prove every deallocated pointer by a walk of the heap (O(chunks) per free).
  bool checked = false;
};

// The first inconsistency check() found, or ok. `what` is a static string; `offset` is from
// the heap base (the TalcMeta's address).
struct CheckReport {
  Errc code = Errc::ok;
  std::uint64_t offset = 0;
  const char* what = "consistent";
  std::uint64_t detail = 0;  // a value that disagreed (a size, a bin), when there is one

  bool ok() const noexcept { return code == Errc::ok; }
};

// What the operations count as they go, under the lock (see HeapStats for their meaning).
// The live and free figures follow from the chunks: check() proves them (I7), and roll_back
// gives them back the values of the last commit (see TalcMeta::commit). The operation counts are
// bumped just before an operation commits, so a death can lose at most the one operation it
// interrupted.
struct HeapCounters {
  std::uint64_t live_chunks = 0;
  std::uint64_t live_bytes = 0;  // chunk bytes of allocated chunks, tags included
  std::uint64_t free_chunks = 0;
  std::uint64_t peak_live_bytes = 0;  // usable bytes, like HeapStats'
  std::uint64_t allocations = 0;
  std::uint64_t deallocations = 0;
  std::uint64_t reallocations = 0;
  std::uint64_t failures = 0;  // requests refused for want of memory
  std::uint64_t growths = 0;
};

// A heap's figures at one instant, for people and monitoring. Every byte of the span is in
// exactly one of live_bytes, free_bytes and overhead_bytes.
struct HeapStats {
  std::uint64_t span_bytes = 0;  // the region the heap manages, metadata included
  std::uint64_t live_allocations = 0;
  std::uint64_t live_bytes = 0;  // usable bytes of the live blocks
  std::uint64_t free_bytes = 0;  // bytes of the free chunks (one tag each is not usable)
  std::uint64_t free_chunks = 0;
  std::uint64_t largest_free = 0;     // bytes of the largest free chunk
  std::uint64_t overhead_bytes = 0;   // metadata, padding, sentinel and one tag per live block
  std::uint64_t peak_live_bytes = 0;  // the most usable bytes ever live at once
  std::uint64_t allocations = 0;
  std::uint64_t deallocations = 0;
  std::uint64_t reallocations = 0;
  std::uint64_t failures = 0;
  std::uint64_t growths = 0;
  // Kept by the synchronised layer (TalckMeta); the core heap alone leaves them 0.
  std::uint64_t recoveries = 0;
  std::uint64_t rollbacks = 0;

  // How scattered the free space is: 0 when it is one chunk (or there is none), towards 1 as
  // it splits into many small ones. The share of free bytes that the largest single request
  // could not use.
  double fragmentation() const noexcept {
    return free_bytes == 0
               ? 0.0
               : 1.0 - static_cast<double>(largest_free) / static_cast<double>(free_bytes);
  }
};

// What a walk of the chunks finds; only meaningful on a heap that passes check().
struct Census {
  std::uint64_t live_chunks = 0;
  std::uint64_t live_bytes = 0;  // chunk bytes of allocated chunks, tags included
  std::uint64_t free_chunks = 0;
  std::uint64_t free_bytes = 0;
  std::uint64_t largest_free = 0;
};

template <class Bins = DefaultBinConfig, bool Journaled = true>
class alignas(64) TalcMeta {
 public:
  using BinConfigType = Bins;
  // Alignments up to 1 GiB; beyond that a shared heap is the wrong tool.
  static constexpr std::uint64_t kMaxAlign = std::uint64_t{1} << 30;
  // Any request above this cannot be satisfied by any heap; refusing it early also keeps every
  // size computation far from wrapping.
  static constexpr std::uint64_t kMaxRequest = kMaxSpan - 4 * kMaxAlign;

  TalcMeta(const TalcMeta&) = delete;
  TalcMeta& operator=(const TalcMeta&) = delete;

  // The smallest buffer that claim() accepts at any base address.
  static constexpr std::size_t min_claim_size() noexcept {
    return alignof(TalcMeta) - 1 + sizeof(TalcMeta) + kChunkPhase + kMinChunk + kTagSize + kGranule;
  }

  // Builds a heap in [buf, buf + len): the TalcMeta at the first 64-aligned address, one free
  // chunk over the rest. Refuses a null or too small buffer, and writes nothing then.
  static Result<TalcMeta*> claim(void* buf, std::size_t len, ClaimOptions opts = {}) noexcept;

  // The heap whose TalcMeta is at `meta` (a copy, another mapping, a reopened file), of which
  // `available` bytes from `meta` on are mapped. Checks the fields it needs to stay in bounds;
  // the full check() is the caller's choice.
  static Result<TalcMeta*> adopt(void* meta, std::size_t available) noexcept;

  // A block of at least `size` bytes aligned to `align` (a power of two up to kMaxAlign).
  // A size of 0 gives a real, unique minimal block that must be deallocated like any other.
  Result<void*> allocate(std::size_t size, std::size_t align = kGranule) noexcept;

  // Returns the block that starts at `p`. Refuses, changing nothing: null, a pointer outside
  // the heap or not at a block's start, a block that is already free.
  Errc deallocate(void* p) noexcept;

  // The bytes usable at `p` (at least what was asked for), after the same checks as deallocate.
  Result<std::size_t> usable_size(const void* p) const noexcept;

  // allocate(), with the first `size` bytes zeroed.
  Result<void*> allocate_zeroed(std::size_t size, std::size_t align = kGranule) noexcept;

  // Resizes the block at `p` to at least `size` bytes aligned to `align`, keeping its first
  // min(old, size) bytes, as one atomic operation: in place when it can (shrinking gives the
  // tail back to the free lists; growing takes from a free chunk just above), otherwise by
  // moving the bytes to a new block and freeing the old one. On a refusal the old block is
  // untouched and still owned by the caller.
  Result<void*> reallocate(void* p, std::size_t size, std::size_t align = kGranule) noexcept;
  // reallocate() on the block the slot names (see allocate_into), rewriting the slot with the
  // block's new offset in the same atomic operation when it moves.
  Result<void*> reallocate_from(const void* owner, std::size_t word, std::size_t size,
                                std::size_t align = kGranule, std::uint64_t bias = 0) noexcept;
  // In place only, never moving: grow to at least `size` usable bytes (out_of_memory when the
  // chunk above cannot give them), or give back all but `size` of them (a no-op when the saving
  // would be smaller than a chunk). A size already met is ok and changes nothing.
  Errc try_grow(void* p, std::size_t size) noexcept;
  Errc try_shrink(void* p, std::size_t size) noexcept;

  // Takes the bytes [span(), new_span) from this heap's base, which the caller has made
  // readable and writable, into the heap: they join the free chunk at the old end, or become a
  // new one. One atomic operation, like every other.
  Errc grow(std::uint64_t new_span) noexcept;

  // Allocation and deallocation that also publish their result in the same atomic operation,
  // so that a process dying at any instant can neither leak a block nor leave a dangling
  // reference: the slot is word `word` of the live block `owner`, and holds the block's offset
  // from this heap's base plus `bias` (a caller whose offsets count from an enclosing region's
  // base passes the heap's offset in that region), or the null offset. The slot must hold the
  // null offset: anything else may name a live block that overwriting would leak, so it is
  // refused (slot_occupied) before anything is written.
  Result<void*> allocate_into(const void* owner, std::size_t word, std::size_t size,
                              std::size_t align = kGranule, std::uint64_t bias = 0) noexcept;
  // Frees the block the slot names and nulls the slot. Refuses an empty slot (null_pointer),
  // and a slot that names its own block (foreign_pointer).
  Errc deallocate_from(const void* owner, std::size_t word, std::uint64_t bias = 0) noexcept;
  // An allocation whose first word holds `mark` in the same atomic operation, for a block that
  // can be published only after the operation (a word outside the heap names it): a process
  // that dies before publishing leaves a block a walk of the heap can recognise by its mark.
  Result<void*> allocate_marked(std::size_t size, std::size_t align, std::uint64_t mark) noexcept;

  // Undoes an operation that a dead process left half-done (nothing when none was). Returns
  // the words restored, or Errc::corrupted when the journal itself is not believable (and then
  // writes nothing). Touches the words the journal names and their neighbours: constant time
  // whatever the heap's size.
  Result<std::uint64_t> roll_back() noexcept;
  // What a process that took the lock from a dead holder runs: roll_back(), then a check of
  // every chunk and bin the roll-back touched (their tags, boundaries, tails, list links and
  // bitmap bits) and of the counters' bounds. Errc::corrupted when either fails. The full walk
  // stays available as check().
  Result<std::uint64_t> recover_after_death() noexcept;
  // Words recorded by the operation in progress; 0 between operations.
  std::uint64_t journal_size() const noexcept { return journal_.size(); }
  // Where the journal lies in the metadata: its entries keep stale values between operations,
  // so byte comparisons of two heaps' metadata leave [offset + 8, offset + sizeof(Journal)) out.
  static constexpr std::uint64_t journal_offset() noexcept { return offsetof(TalcMeta, journal_); }
  // Where the counters lie: statistics, not heap state, so such comparisons leave them out too.
  static constexpr std::uint64_t counters_offset() noexcept {
    return offsetof(TalcMeta, counters_);
  }

  // Verifies every invariant above by a walk of every chunk and every bin. Never writes,
  // never reads outside the span, never loops forever, whatever the bytes say.
  CheckReport check() const;
  Census census() const noexcept;
  // Takes back the count of the last refusal for want of memory, which the caller then served
  // another way (it grew the heap and asked again).
  void retract_failure() noexcept {
    if (counters_.failures != 0) --counters_.failures;
  }
  // The counters, and the largest free chunk (a walk of the largest non-empty bin only).
  HeapStats stats() const noexcept;
  const HeapCounters& counters() const noexcept { return counters_; }
  // Calls f(Chunk, bool allocated) for each chunk in address order. Stops early at a tag that
  // cannot be right (a heap that fails check()), so it is safe on any bytes.
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
  // Bytes the chunks may use: the span less the metadata, padding and sentinel.
  std::uint64_t capacity() const noexcept { return heap_end_ - heap_start_; }
  bool checked() const noexcept { return (flags_ & kFlagChecked) != 0; }

 private:
  static constexpr std::uint64_t kFlagChecked = 1;
  static constexpr std::uint64_t kKnownFlags = kFlagChecked;
  // How many chunks of the request's own bin are looked at before moving to a larger bin.
  static constexpr int kProbe = 4;
  static constexpr std::uint64_t kNoBin = ~std::uint64_t{0};

  struct Fit {
    std::uint64_t base = Rel<FreeHead>::kNull;
    std::uint64_t size = 0;
    std::uint64_t gap = 0;
    bool corrupt = false;  // a chunk on the way was not one: the heap's bytes are damaged
  };

  TalcMeta(std::uint64_t span, std::uint64_t heap_end, std::uint64_t flags) noexcept
      : span_(span), heap_start_(heap_start_offset()), heap_end_(heap_end), flags_(flags) {}

  static constexpr std::uint64_t heap_start_offset() noexcept {
    return sizeof(TalcMeta) + kChunkPhase;
  }

  std::uintptr_t addr() const noexcept { return reinterpret_cast<std::uintptr_t>(this); }
  std::byte* bytes() noexcept { return reinterpret_cast<std::byte*>(this); }
  const std::byte* bytes() const noexcept { return reinterpret_cast<const std::byte*>(this); }

  // The metadata primitives: every read and write of heap metadata goes through them, and
  // every write that matters to a roll-back is journalled first (see journal.hpp).
  std::uint64_t get(std::uint64_t off) const noexcept { return load_word(bytes(), off); }
  // A write whose old value the caller already holds (it read it, or an invariant fixes it):
  // the journal records it without reading the word again, which would stall on a cold line.
  void put(std::uint64_t off, std::uint64_t old, std::uint64_t v, std::uint64_t mark = 0) noexcept {
    if constexpr (Journaled) {
      journal_.record(off, old, mark);
      Journal::store_after_record(bytes(), off, v);
    } else {
      store_word(bytes(), off, v);
    }
    TALC_FAULT_POINT();
  }
  void put(std::uint64_t off, std::uint64_t v) noexcept { put(off, get(off), v); }
  // put() of a word that was a chunk's tag when the operation began (Journal::kChunkTag): a
  // roll-back repairs that chunk's tail and the BELOW_FREE flag above it. Invariant: an
  // operation writes no tail and no BELOW_FREE flag of a chunk it has not named this way
  // before, and changes no counter before its first entry, so a death that leaves the journal
  // empty left nothing to repair. Program order is what counts: a process dies between two of
  // its instructions, and neither compiler moves a store above the journal's atomic stores.
  void put_tag(std::uint64_t off, std::uint64_t old, std::uint64_t v) noexcept {
    put(off, old, v, Journal::kChunkTag);
  }
  // A write that needs no journal entry, because a roll-back does not need its old value:
  //  - words that roll_back recomputes from the tags and links it restores: free chunks' tails
  //    and BELOW_FREE flags (when a tag changes only in that flag) next to a chunk named by
  //    put_tag, the availability bit of a bin whose head was journalled;
  //  - the unused interior of the free chunk being carved up, unused again after a roll-back;
  //  - the user bytes of the block being freed: its owner is giving them up, and only the
  //    owner can have died in the middle of that free.
  void put_unlogged(std::uint64_t off, std::uint64_t v) noexcept {
    store_word(bytes(), off, v);
    TALC_FAULT_POINT();
  }
  // Ends an operation: from here on a death leaves it done, not undone.
  //
  // The live and free counters change as the operation goes, and nothing in the journal says how
  // far a dying operation got, so a roll-back cannot derive them from what it restores (a tag
  // restored before or after its counter moved looks the same). They are kept instead: after
  // the journal is emptied, `committed_` takes their values, and a roll-back gives them back.
  // After, not before: a death between the two leaves an empty journal and counters that are
  // right, and roll_back then copies them. Release stores keep the copy after the commit. Three
  // stores per operation, of values the operation has just written.
  void commit() noexcept {
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

  static constexpr std::uint64_t head_slot(std::uint64_t bin) noexcept;
  static constexpr std::uint64_t avail_slot(std::uint64_t word) noexcept;

  std::uint64_t next_available_bin(std::uint64_t from) const noexcept;
  std::uint64_t gap_for(std::uint64_t base, std::uint64_t align) const noexcept;
  Fit find(std::uint64_t need, std::uint64_t align) const noexcept;

  // Offsets read from the region are another process's data. Before an operation writes
  // anything, every offset it will write through is checked: a chunk offset lies in the heap at
  // the chunk phase with room for a free chunk, a link is a bin head or a chunk's `next` word,
  // and a free chunk to unlink is tagged free with a size that stays inside. A heap whose bytes
  // fail this is refused with Errc::corrupted instead of becoming wild addresses.
  bool chunk_offset_ok(std::uint64_t c) const noexcept {
    return c % kGranule == kChunkPhase && c >= heap_start_ && c <= heap_end_ - kMinChunk;
  }
  bool link_ok(std::uint64_t link) const noexcept {
    if (link >= head_slot(0) && link < head_slot(Bins::kBins))
      return (link - head_slot(0)) % kWord == 0;
    return link >= heap_start_ + kNextOffset && link <= heap_end_ - kMinChunk + kNextOffset &&
           link % kGranule == (kChunkPhase + kNextOffset) % kGranule;
  }
  bool free_chunk_ok(std::uint64_t c) const noexcept {
    if (!chunk_offset_ok(c)) return false;
    const Tag tag = tag_at(c);
    if (tag.bits != Tag::make(tag.size(), false, false).bits || tag.size() < kMinChunk ||
        tag.size() > heap_end_ - c)
      return false;
    const std::uint64_t next = get(c + kNextOffset);
    return (next == Rel<FreeHead>::kNull || chunk_offset_ok(next)) &&
           link_ok(get(c + kPrevLinkOffset));
  }
  bool head_ok(std::uint64_t size) const noexcept {
    const std::uint64_t head = get(head_slot(Bins::bin_of(size)));
    return head == Rel<FreeHead>::kNull || chunk_offset_ok(head);
  }
  // Whether releasing `c` will write only through offsets that passed the checks above.
  bool release_ok(const Chunk& c) const noexcept;
  // The same, for releasing `c` once take(fit, need) has carved its new block (a move).
  bool release_after_take_ok(const Chunk& c, const Fit& fit, std::uint64_t need) const noexcept;
  // Checks a request's size and alignment alone.
  static Errc request_error(std::size_t size, std::size_t align) noexcept;
  // Resizes the live chunk `c` to `need` bytes without moving it. Not committed.
  Errc resize_in_place(const Chunk& c, std::uint64_t need) noexcept;
  // Resizes the live chunk `c`, whose user pointer is `p`, in place or by moving it; gives the
  // new user pointer. Not committed (the reallocate calls count and commit).
  Result<void*> resize(const Chunk& c, void* p, std::size_t size, std::size_t align) noexcept;
  // A refusal of a request, counted when it was for want of memory.
  Errc refused(Errc why) noexcept {
    if (why == Errc::out_of_memory) ++counters_.failures;
    return why;
  }
  // Bumps an operation counter and the peak, just before the commit.
  void count(std::uint64_t HeapCounters::*op) noexcept {
    ++(counters_.*op);
    note_peak();
  }
  void note_peak() noexcept {
    const std::uint64_t usable = counters_.live_bytes - counters_.live_chunks * kTagSize;
    if (usable > counters_.peak_live_bytes) counters_.peak_live_bytes = usable;
  }
  // Checks a request and finds its chunk; `why` says why there is none.
  Fit plan(std::size_t size, std::size_t align, Errc& why) const noexcept;
  // Carves the block out of the chosen chunk. Like release, it leaves the commit to the caller.
  void* take(const Fit& fit, std::uint64_t need) noexcept;
  // Frees `c`, merging. `Keep`: a roll-back must give the block back with its bytes intact
  // (a reallocation that gives it up only if it commits), so no word of it is written unlogged.
  // `Split`: `c` was split off a block by this operation, so its tag is no chunk's to a
  // roll-back (see put_tag).
  template <bool Keep = false, bool Split = false>
  void release(const Chunk& c) noexcept;
  Result<std::uint64_t> slot_of(const void* owner, std::size_t word) const noexcept;

  // Links a free chunk into its bin; `fresh` when its node words are unused interior.
  void link(std::uint64_t base, std::uint64_t size, bool fresh) noexcept;
  void unlink(std::uint64_t base, std::uint64_t size) noexcept;

  Result<Chunk> live_chunk(const void* p) const noexcept;
  bool is_chunk_start(std::uint64_t base) const noexcept;

  // Recovery (talc_meta_recover.hpp): what a journal names, the roll-back and its local check.
  struct Named;
  Result<std::uint64_t> undo(Named& named) noexcept;
  bool believable(const Named& named) const noexcept;
  void repair_around(std::uint64_t chunk) noexcept;
  void repair_bin(std::uint64_t bin) noexcept;
  bool vouch(const Named& named) const noexcept;
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
  // The live and free counters as the last commit left them (see commit()).
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
  // The sentinel's offset: the last position at kChunkPhase mod kGranule that leaves room for it.
  const std::uint64_t heap_end = ((span - kTagSize - kChunkPhase) & ~(kGranule - 1)) + kChunkPhase;
  if (heap_end < heap_start_offset() + kMinChunk) return Errc::region_too_small;

  auto* meta = ::new (static_cast<std::byte*>(buf) + pad)
      TalcMeta(span, heap_end, opts.checked ? kFlagChecked : 0);
  const std::uint64_t first = meta->heap_start_;
  meta->put(first, Tag::make(heap_end - first, false, false).bits);
  meta->put(heap_end - kTailFromEnd, heap_end - first);
  meta->put(heap_end, Tag::sentinel(true).bits);
  meta->link(first, heap_end - first, false);
  meta->commit();
  return meta;
}

template <class Bins, bool Journaled>
Result<TalcMeta<Bins, Journaled>*> TalcMeta<Bins, Journaled>::adopt(
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
  // Every chunk from this bin on fits, whatever gap its alignment costs (at most align + 16).
  const std::uint64_t worst = align <= kGranule ? need : need + align + kGranule;
  const std::uint64_t sure = Bins::first_bin_at_least(worst);
  for (std::uint64_t b = next_available_bin(Bins::bin_of(need)); b != kNoBin;
       b = next_available_bin(b + 1)) {
    std::uint64_t c = get(head_slot(b));
    if (!free_chunk_ok(c)) return Fit{.corrupt = true};
    if (b >= sure) return Fit{c, tag_at(c).size(), gap_for(c, align)};
    for (int i = 0; i < kProbe && c != Rel<FreeHead>::kNull; ++i, c = get(c + kNextOffset)) {
      if (!free_chunk_ok(c)) return Fit{.corrupt = true};
      const std::uint64_t size = tag_at(c).size();
      const std::uint64_t gap = gap_for(c, align);
      if (gap + need <= size) return Fit{c, size, gap};
    }
  }
  return Fit{};
}

template <class Bins, bool Journaled>
void* TalcMeta<Bins, Journaled>::take(const Fit& fit, std::uint64_t need) noexcept {
  unlink(fit.base, fit.size);
  const std::uint64_t old_tag = Tag::make(fit.size, false, false).bits;
  const std::uint64_t end = fit.base + fit.size;
  const std::uint64_t block = fit.base + fit.gap;
  const std::uint64_t rest = fit.size - fit.gap - need;
  const std::uint64_t size = rest >= kMinChunk ? need : need + rest;
  const std::uint64_t tag = Tag::make(size, true, fit.gap != 0).bits;
  // The chunk's own tag is written first, named by put_tag: the writes below change its tail
  // and the flag above it, which a roll-back repairs around the chunks so named.
  if (fit.gap != 0) {  // the gap keeps the chunk's tag and node; its tail is new
    put_tag(fit.base, old_tag, Tag::make(fit.gap, false, false).bits);
    put_unlogged(block - kTailFromEnd, fit.gap);
    link(fit.base, fit.gap, false);
  } else {
    put_tag(block, old_tag, tag);
  }
  if (rest >= kMinChunk) {  // the remainder keeps the chunk's tail; its tag and node are new
    // The chunk above already says BELOW_FREE: fit.base was free.
    put_unlogged(block + need, Tag::make(rest, false, false).bits);
    put_unlogged(end - kTailFromEnd, rest);
    link(block + need, rest, true);
  } else {
    put_unlogged(end, get(end) & ~Tag::kBelowFree);
  }
  ++counters_.live_chunks;
  counters_.live_bytes += size;
  if (fit.gap != 0) put_unlogged(block, tag);
  return address_of(block + kTagSize);
}

template <class Bins, bool Journaled>
typename TalcMeta<Bins, Journaled>::Fit TalcMeta<Bins, Journaled>::plan(std::size_t size,
                                                                        std::size_t align,
                                                                        Errc& why) const noexcept {
  why = request_error(size, align);
  if (why != Errc::ok) return Fit{};
  const std::uint64_t need = chunk_size_for(size);
  const Fit fit = find(need, align);
  if (fit.corrupt) {
    why = Errc::corrupted;
  } else if (fit.base == Rel<FreeHead>::kNull) {
    why = Errc::out_of_memory;
  } else if ((fit.gap != 0 && !head_ok(fit.gap)) ||
             (fit.size - fit.gap - need >= kMinChunk && !head_ok(fit.size - fit.gap - need))) {
    why = Errc::corrupted;  // a bin the split will link into has a head that is not a chunk
  }
  return fit;
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
  void* p = take(fit, chunk_size_for(size));
  count(&HeapCounters::allocations);
  commit();
  return p;
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
  if (get(*slot) != Rel<FreeHead>::kNull) return Errc::slot_occupied;
  Errc why;
  const Fit fit = plan(size, align, why);
  if (why != Errc::ok) return refused(why);
  void* p = take(fit, chunk_size_for(size));
  put(*slot, offset_of(p) + bias);
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
  void* p = take(fit, chunk_size_for(size < kWord ? kWord : size));
  put(offset_of(p), mark);  // a user word of a chunk: roll_back believes it
  count(&HeapCounters::allocations);
  commit();
  return p;
}

template <class Bins, bool Journaled>
void TalcMeta<Bins, Journaled>::link(std::uint64_t base, std::uint64_t size, bool fresh) noexcept {
  const std::uint64_t bin = Bins::bin_of(size);
  const std::uint64_t slot = head_slot(bin);
  const std::uint64_t head = get(slot);
  if (fresh) {
    put_unlogged(base + kNextOffset, head);
    put_unlogged(base + kPrevLinkOffset, slot);
  } else {
    put(base + kNextOffset, head);
    put(base + kPrevLinkOffset, slot);
  }
  put(slot, head, base);  // before the bitmap: the entry names the bin whose bit a roll-back fixes
  if (head != Rel<FreeHead>::kNull) {
    put(head + kPrevLinkOffset, slot, base + kNextOffset);  // it was first: linked from the slot
  } else {
    const std::uint64_t w = avail_slot(bin / 64);
    put_unlogged(w, get(w) | (std::uint64_t{1} << (bin % 64)));
  }
  ++counters_.free_chunks;
}

template <class Bins, bool Journaled>
void TalcMeta<Bins, Journaled>::unlink(std::uint64_t base, std::uint64_t size) noexcept {
  const std::uint64_t next = get(base + kNextOffset);
  const std::uint64_t prev_link = get(base + kPrevLinkOffset);
  put(prev_link, base, next);  // the word that linked to this chunk held its offset
  if (next != Rel<FreeHead>::kNull) put(next + kPrevLinkOffset, base + kNextOffset, prev_link);
  --counters_.free_chunks;
  // Read the bin's head after the unlink: it is empty now only if it says so now.
  const std::uint64_t bin = Bins::bin_of(size);
  if (get(head_slot(bin)) == Rel<FreeHead>::kNull) {
    const std::uint64_t w = avail_slot(bin / 64);
    put_unlogged(w, get(w) & ~(std::uint64_t{1} << (bin % 64)));
  }
}

// The allocated chunk whose user pointer is `p`, after checking everything that can be checked
// in constant time: bounds, phase, the tag, the chunk above agreeing that this one is
// allocated, and the free chunk below (when the tag names one) agreeing with its own size.
template <class Bins, bool Journaled>
Result<Chunk> TalcMeta<Bins, Journaled>::live_chunk(const void* p) const noexcept {
  if (p == nullptr) return Errc::null_pointer;
  const std::uintptr_t pa = reinterpret_cast<std::uintptr_t>(p);
  if (pa < addr() + heap_start_ + kTagSize || pa >= addr() + heap_end_)
    return Errc::foreign_pointer;
  const std::uint64_t base = Chunk::base_of_user(pa - addr());
  if (base % kGranule != kChunkPhase) return Errc::foreign_pointer;
  const Tag tag = tag_at(base);
  if (!tag.well_formed()) return Errc::foreign_pointer;
  if (!tag.allocated()) return Errc::not_allocated;
  const std::uint64_t size = tag.size();
  if (size < kMinChunk || size > heap_end_ - base) return Errc::foreign_pointer;
  const std::uint64_t above = base + size;
  const Tag up = tag_at(above);
  if (!up.well_formed() || up.below_free()) return Errc::foreign_pointer;
  if (above == heap_end_ ? up.size() != 0 || !up.allocated()
                         : up.size() < kMinChunk || up.size() > heap_end_ - above)
    return Errc::foreign_pointer;
  if (tag.below_free()) {
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
  if (!release_ok(*live)) return Errc::corrupted;
  release(*live);
  ++counters_.deallocations;  // a free never raises the peak
  commit();
  return Errc::ok;
}

template <class Bins, bool Journaled>
Errc TalcMeta<Bins, Journaled>::deallocate_from(const void* owner, std::size_t word,
                                                std::uint64_t bias) noexcept {
  const Result<std::uint64_t> slot = slot_of(owner, word);
  if (!slot) return slot.error();
  const std::uint64_t value = get(*slot);
  if (value == Rel<FreeHead>::kNull) return Errc::null_pointer;
  if (value < bias || value - bias >= span_) return Errc::foreign_pointer;
  const Result<Chunk> target = live_chunk(address_of(value - bias));
  if (!target) return target.error();
  if (*slot >= target->base && *slot < target->end()) return Errc::foreign_pointer;
  if (!release_ok(*target)) return Errc::corrupted;
  release(*target);
  put(*slot, Rel<FreeHead>::kNull);
  ++counters_.deallocations;  // a free never raises the peak
  commit();
  return Errc::ok;
}

template <class Bins, bool Journaled>
bool TalcMeta<Bins, Journaled>::release_ok(const Chunk& c) const noexcept {
  std::uint64_t size = c.size;
  if (tag_at(c.base).below_free()) {  // live_chunk has matched the tail with the tag below
    const std::uint64_t below_size = get(c.base - kTailFromEnd);
    if (!free_chunk_ok(c.base - below_size)) return false;
    size += below_size;
  }
  const Tag up = tag_at(c.end());
  if (!up.allocated()) {
    if (!free_chunk_ok(c.end())) return false;
    size += up.size();
  }
  return head_ok(size);
}

// Returns an allocated chunk to the free lists, merging with free neighbours. Not committed.
template <class Bins, bool Journaled>
template <bool Keep, bool Split>
void TalcMeta<Bins, Journaled>::release(const Chunk& c) noexcept {
  std::uint64_t base = c.base, size = c.size;
  const Tag tag = tag_at(c.base);
  std::uint64_t old_head_tag = tag.bits;  // what the merged chunk's first word held
  if (tag.below_free()) {
    const std::uint64_t below_size = get(c.base - kTailFromEnd);
    unlink(c.base - below_size, below_size);
    base -= below_size;
    size += below_size;
    old_head_tag = Tag::make(below_size, false, false).bits;
    put_tag(c.base, tag.bits, Tag::poison().bits);
  }
  const Tag up = tag_at(c.end());
  if (!up.allocated()) {
    unlink(c.end(), up.size());
    size += up.size();
    put_tag(c.end(), up.bits, Tag::poison().bits);
  }
  // The merged tag before the tail and the flag above: when nothing merged, it is the first
  // write, and it names the block (see put_tag). A free names the chunk below as well, since it
  // existed when the operation began; in a reallocation that chunk may be a remainder it carved,
  // and a split-off block is no chunk before it: neither is named.
  put(base, old_head_tag, Tag::make(size, false, false).bits,
      !Keep || (!Split && base == c.base) ? Journal::kChunkTag : 0);
  if (!up.allocated()) {
    put_unlogged(base + size - kTailFromEnd, size);
  } else {
    put_unlogged(c.end(), up.bits | Tag::kBelowFree);
    if constexpr (Keep) {
      put(base + size - kTailFromEnd, size);
    } else {
      put_unlogged(base + size - kTailFromEnd, size);  // the block's last word
    }
  }
  --counters_.live_chunks;
  counters_.live_bytes -= c.size;
  // The node lands on the block's first words (fresh: the owner gives them up), or below's.
  link(base, size, !Keep && base == c.base);
}

// ---- reallocation ----------------------------------------------------------------------------

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
    release<true, true>(tail);
    return Errc::ok;
  }
  if (up.allocated() || up.size() < need - c.size) return Errc::out_of_memory;
  const std::uint64_t total = c.size + up.size();
  const std::uint64_t rest = total - need;
  if (!free_chunk_ok(c.end()) || (rest >= kMinChunk && !head_ok(rest))) return Errc::corrupted;
  unlink(c.end(), up.size());
  // The chunk above is swallowed: its tag is poisoned so that a stale pointer to it is refused.
  put_tag(c.end(), up.bits, Tag::poison().bits);
  std::uint64_t size = total;
  if (rest >= kMinChunk) {
    // The new free chunk may start on the swallowed chunk's node words, which a roll-back
    // needs back: everything it writes there is journalled.
    const std::uint64_t r = c.base + need;
    put(r, Tag::make(rest, false, false).bits);
    put_unlogged(c.base + total - kTailFromEnd, rest);  // the swallowed chunk's tail
    link(r, rest, false);
    size = need;
  } else {
    put_unlogged(c.base + total, get(c.base + total) & ~Tag::kBelowFree);
  }
  put_tag(c.base, tag.bits, Tag::make(size, true, tag.below_free()).bits);
  counters_.live_bytes += size - c.size;
  return Errc::ok;
}

// After take(fit, need), the chunks beside `c` are the ones release_ok checked, or chunks take
// built itself (the remainder of a chunk carved just below `c`, the gap of one carved just above
// it): what is left to check is the bin head of the chunk the release will link.
template <class Bins, bool Journaled>
bool TalcMeta<Bins, Journaled>::release_after_take_ok(const Chunk& c, const Fit& fit,
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
  const std::uint64_t value = get(*slot);
  if (value == Rel<FreeHead>::kNull) return Errc::null_pointer;
  if (value < bias || value - bias >= span_) return Errc::foreign_pointer;
  void* p = address_of(value - bias);
  const Result<Chunk> target = live_chunk(p);
  if (!target) return target.error();
  if (*slot >= target->base && *slot < target->end()) return Errc::foreign_pointer;
  const Result<void*> q = resize(*target, p, size, align);
  if (!q) return q;
  if (*q != p) put(*slot, value, offset_of(*q) + bias);
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
  if (!release_after_take_ok(c, fit, need)) return Errc::corrupted;
  // The copy lands on the carved chunk's node words when the block starts there; a roll-back
  // relinks that chunk and needs them, so they are journalled (as writes of their own value).
  if (fit.gap == 0) {
    put(fit.base + kNextOffset, get(fit.base + kNextOffset));
    put(fit.base + kPrevLinkOffset, get(fit.base + kPrevLinkOffset));
  }
  void* q = take(fit, need);
  const std::uint64_t keep = c.size - kTagSize;
  std::memcpy(q, p, keep < size ? keep : size);
  release<true>(c);
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

// ---- growth ----------------------------------------------------------------------------------

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
    unlink(base, top);
    put_tag(base, Tag::make(top, false, false).bits, Tag::make(top + size, false, false).bits);
    size += top;
    link(base, size, false);
  } else {
    if (!head_ok(size)) return Errc::corrupted;
    link(base, size, true);  // its node words lie past the old end: unused if rolled back
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
  // The largest free chunk is in the highest non-empty bin; that list is walked, bounded by
  // the number of chunks the heap can hold, and stops at anything that is not a free chunk.
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

template <class Bins, bool Journaled>
Result<std::size_t> TalcMeta<Bins, Journaled>::usable_size(const void* p) const noexcept {
  const Result<Chunk> live = live_chunk(p);
  if (!live) return live.error();
  return static_cast<std::size_t>((*live).size - kTagSize);
}

}  // namespace talc

#include "talc/talc_meta_check.hpp"
#include "talc/talc_meta_recover.hpp"
