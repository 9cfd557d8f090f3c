// Layer 5b — the synchronised heap with its lanes and pages: what a region's header holds.
//
// `LaneHeap` is a few words about the lanes and the pages followed by the TalckMeta (lock and
// core heap). The lanes themselves (lane.hpp) lie in one block of the heap, the lane table, and
// the pages' table (pages/page_table.hpp) in another, both allocated when the heap is built.
//
// How a thread gets a lane: at its first small request it claims a free one with one
// compare-and-swap of the lane's owner word (0 -> this process's lock word, RegionLock::self()),
// and keeps it in a thread-local record (lane_local.hpp) until it ends, when it gives the lane
// back, or until the process closes the heap. A lane whose owner process died is found by the
// same test as a lock's dead holder (pid and start time, so a reused pid is not taken for the
// owner) and taken over: its pages stay on its lists for the next owner. A child created by
// fork never uses its parent's lanes: RegionLock::self() changes in the child, and a record taken
// under another word is dropped.
//
// Where a small block comes from: a page on the calling thread's lane (its owner hands blocks
// out without the lock); where it goes back: to its page, from any thread, with one fetch_or
// (page_table.hpp). The heap's lock is taken for whole pages only.
//
// Accounting: the core counts each page and the two tables as one allocated chunk each. The
// statistics (HeapStats) count a page's held blocks as live, its free ones as cached, and the
// rest (the tables, the pages' headers and tails) as overhead.
//
// When memory runs out, a request first gives back the pages that hold no block, of the calling
// thread's lane and of lanes nobody owns (release_pages), then grows the region, and only then
// fails.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>

#include "talc/core/errors.hpp"
#include "talc/core/fingerprint.hpp"
#include "talc/lanes/lane.hpp"
#include "talc/lanes/lane_local.hpp"
#include "talc/pages/page_table.hpp"
#include "talc/sync/process.hpp"
#include "talc/sync/region_lock.hpp"
#include "talc/sync/talck_meta.hpp"

namespace talc {

template <class Bins = DefaultBinConfig>
class alignas(64) LaneHeap {
 public:
  using Sync = TalckMeta<Bins>;
  using Core = TalcMeta<Bins>;
  static constexpr std::uint64_t kNull = Rel<std::byte>::kNull;

  /// A heap with less than 1/kTightShare of it free fills its holes before it makes pages.
  static constexpr std::uint64_t kTightShare = 8;
  /// The synchronised heap follows the lane words; the core heap follows its lock.
  static constexpr std::size_t kSyncOffset = 64;
  static constexpr std::size_t kMetaOffset = kSyncOffset + Sync::kMetaOffset;

  LaneHeap(const LaneHeap&) = delete;
  LaneHeap& operator=(const LaneHeap&) = delete;

  static constexpr std::uint64_t layout_fingerprint() noexcept {
    return fingerprint_of({Sync::layout_fingerprint(), kSyncOffset, LaneConfig::kMaxLanes,
                           sizeof(Lane), offsetof(Lane, first), offsetof(Lane, cur),
                           PageConfig::kClasses, PageConfig::kMaxChunk, PageConfig::kMaxBytes,
                           PageConfig::kIdent, sizeof(PageHeader), PageTable::kHeadWords,
                           PageGeometry::kFill, PageGeometry::kMinClassBytes});
  }
  static constexpr std::size_t min_claim_size() noexcept {
    return kSyncOffset + Sync::min_claim_size();
  }

  /// Builds the heap in [at, at + len), with lanes and pages unless `opts` turns lanes off, the
  /// heap is checked (its frees walk the heap under the lock), or it is too small to spare them
  /// (build_tables).
  static Result<LaneHeap*> claim(void* at, std::size_t len, ClaimOptions opts = {}) noexcept {
    if (at == nullptr) return Errc::null_region;
    if (reinterpret_cast<std::uintptr_t>(at) % alignof(LaneHeap) != 0) return Errc::corrupted;
    if (len < kSyncOffset) return Errc::region_too_small;
    auto sync = Sync::claim(static_cast<std::byte*>(at) + kSyncOffset, len - kSyncOffset, opts);
    if (!sync) return sync.error();
    auto* self = ::new (at) LaneHeap();
    if (opts.lanes && !opts.checked) self->build_tables();
    // The tables are the heap's own: a fresh heap's peak is 0.
    if (self->has_lanes()) {
      Core& core = self->meta();
      core.keep_for_layers(core.address_of(self->table_));
      core.keep_for_layers(core.address_of(self->pages_.table));
    }
    return self;
  }

  /// The LaneHeap already built at `at`: the core's fields, the lane words and the page table's
  /// in bounds, and lanes only with pages. A heap without lanes has an empty page table, which
  /// every free reads without the lock (page_free_at), so its words must be a built one's.
  static Result<LaneHeap*> attach(void* at, std::size_t len) noexcept {
    if (at == nullptr) return Errc::null_region;
    if (reinterpret_cast<std::uintptr_t>(at) % alignof(LaneHeap) != 0) return Errc::corrupted;
    if (len < kSyncOffset) return Errc::region_too_small;
    auto sync = Sync::attach(static_cast<std::byte*>(at) + kSyncOffset, len - kSyncOffset);
    if (!sync) return sync.error();
    auto* self = std::launder(reinterpret_cast<LaneHeap*>(at));
    const Core& core = self->meta();
    if (self->has_lanes() != self->pages_.present()) return Errc::corrupted;
    if (!self->has_lanes() && (self->pages_.cap != 0 || self->pages_.shift != 0))
      return Errc::corrupted;
    if (self->has_lanes() &&
        (self->lanes_ == 0 || self->lanes_ > LaneConfig::kMaxLanes ||
         self->table_ % kGranule != 0 || self->table_ < core.heap_start() ||
         lanes_at(self->table_) > core.heap_end() ||
         core.heap_end() - lanes_at(self->table_) < self->lanes_ * sizeof(Lane) ||
         !self->pages_.sane(core.heap_start(), core.heap_end())))
      return Errc::corrupted;
    return self;
  }

  // ---- the synchronised heap ------------------------------------------------------------------

  /// TalckMeta::with_lock. A lock taken from a dead holder may find a page it was making or
  /// giving back; that is finished or undone before `f` runs.
  template <class F>
  Errc with_lock(F&& f, bool* recovered = nullptr,
                 std::chrono::milliseconds bound = kDefaultLockWait) noexcept {
    bool rec = false;
    const Errc e = sync().with_lock(
        [&](Core& core) {
          if (rec && has_lanes() && pages_sane(core)) {
            pages_.finish(core);
            (void)pages_.sweep(core, lanes_, all_lists());
          }
          f(core);
        },
        &rec, bound);
    if (recovered != nullptr) *recovered = rec;
    return e;
  }
  Sync& sync() noexcept {
    return *std::launder(reinterpret_cast<Sync*>(reinterpret_cast<std::byte*>(this) + kSyncOffset));
  }
  const Sync& sync() const noexcept {
    return *std::launder(
        reinterpret_cast<const Sync*>(reinterpret_cast<const std::byte*>(this) + kSyncOffset));
  }
  Core& meta() noexcept { return sync().meta(); }
  const Core& meta() const noexcept { return sync().meta(); }
  RegionLock& lock() noexcept { return sync().lock(); }
  const RegionLock& lock() const noexcept { return sync().lock(); }
  bool corrupted() const noexcept { return sync().corrupted(); }
  void mark_corrupted() noexcept { sync().mark_corrupted(); }
  std::uint64_t recoveries() const noexcept { return sync().recoveries(); }
  std::uint64_t rollbacks() const noexcept { return sync().rollbacks(); }

  // ---- lanes and pages --------------------------------------------------------------------------

  /// Whether the heap has lanes, and with them pages: small blocks served without the lock.
  bool has_lanes() const noexcept { return table_ != kNull; }
  const PageTable& pages() const noexcept { return pages_; }
  std::uint64_t lane_count() const noexcept { return has_lanes() ? lanes_ : 0; }
  const Lane& lane(std::uint64_t i) const noexcept { return lanes()[i]; }
  /// Where lane i lies, from the core heap's base: CheckReport offsets.
  std::uint64_t lane_offset(std::uint64_t i) const noexcept {
    return lanes_at(table_) + i * sizeof(Lane);
  }

  /// The calling thread's lane in this heap, claimed at its first call; null when the heap has
  /// none, this process has not opened it through a Talc, or every lane is taken.
  [[gnu::always_inline]] LaneOwner* thread_lane() noexcept {
    lanes_local::Held& h = lanes_local::tls.held[0];
    // A heap found broken is refused to every call, and only the lock's path says so.
    if (corrupted()) [[unlikely]]
      return nullptr;
    if (here(h)) return &h.owner;
    return has_lanes() ? acquire_lane() : nullptr;
  }
  /// The lane this thread holds here, without claiming one (under the heap's lock too).
  [[gnu::noinline]] LaneOwner* held_lane() noexcept {
    for (lanes_local::Held& h : lanes_local::tls.held)
      if (here(h)) return &h.owner;
    // A view is made from the table's words, which are region bytes: only from a sane table.
    return has_lanes() && table_sane(meta()) ? lanes_local::confirm(lane_source()) : nullptr;
  }

  /// Under the lock: `op` (a core request), and when it fails for want of memory, again after
  /// the pages that hold no block went back (release_pages): memory in an empty page is not lost
  /// to a request that needs it. Before the region grows.
  template <class Op>
  Result<void*> retry_after_release(Core& core, Op&& op) noexcept {
    Result<void*> r = op();
    if (r.error() == Errc::out_of_memory && release_pages(core, held_lane())) {
      core.retract_failure();  // the pages given back may answer it
      r = op();
    }
    return r;
  }

  /// A small block from `o` without the lock: the user offset of a block of at least `size`
  /// (at most PageConfig::kMaxRequest) bytes, or kNull when the lane's pages cannot serve it that
  /// way (then ask refill_allocate under the lock).
  [[gnu::always_inline]] std::uint64_t lane_allocate(const LaneOwner& o,
                                                     std::size_t size) const noexcept {
    const std::uint64_t cls = PageConfig::class_of_request(size);
    if (const std::uint64_t u = PageTable::from_front(core_bytes(), o.front, o.lane->cur, cls);
        u != kNull) [[likely]]
      return u;
    return pages_.allocate_from_pages(core_bytes(), meta().heap_end_unlocked(), owner_lists(o),
                                      o.index, cls);
  }

  /// lane_allocate's first step alone, for the face's inlined fast path: the cache of the
  /// current page of the class in the lane this thread already holds here, when it has a block
  /// for a request of `size` bytes (take it with take_front); else null (no lane held yet, the
  /// cache dry, the heap marked broken: the slow path sorts these out).
  [[gnu::always_inline]] PageFront* ready_front(std::size_t size) noexcept {
    const lanes_local::Held& h = lanes_local::tls.held[0];
    if (h.key != this || h.stamp != lanes_local::stamp() || corrupted()) [[unlikely]]
      return nullptr;
    const std::uint64_t cls = PageConfig::class_of_request(size);
    // A record's caches are never null, and a record made with no lane has them all empty
    // (lanes_local::remake): an empty one stops here before the lane is read, so here()'s test
    // of the lane is not needed.
    PageFront& f = h.owner.front[cls];
    if (f.avail == 0) return nullptr;
    return PageTable::front_current(f, h.owner.lane->cur, cls) ? &f : nullptr;
  }
  [[gnu::always_inline]] std::uint64_t take_front(PageFront& f) noexcept {
    return f.take(core_bytes());
  }

  /// For the face's fast path, an alignment above kGranule that the heap supports: page_request's
  /// size, when this process also maps the core heap at an address so aligned; else a size
  /// larger than any page serves (the core serves what no page does).
  std::size_t aligned_request(std::size_t size, std::size_t align) const noexcept {
    constexpr std::size_t kNone = PageConfig::kMaxRequest + 1;
    // `align` is a power of two (the caller's align_error): a mask, not a division.
    if (!has_lanes() || (reinterpret_cast<std::uintptr_t>(core_bytes()) & (align - 1)) != 0)
      return kNone;
    const std::size_t s = page_request(size, align);
    return s != 0 ? s : kNone;
  }

  /// For an alignment above kGranule: the request size whose class's blocks are all
  /// `align`-aligned (its chunk a multiple of `align`, page.hpp), or 0 when no class is.
  std::size_t page_request(std::size_t size, std::size_t align) const noexcept {
    if (size > PageConfig::kMaxRequest) return 0;
    const std::uint64_t chunk = (size + kTagSize + align - 1) & ~(std::uint64_t{align} - 1);
    // Only the classes 16 bytes apart have a chunk size for every multiple of the alignment.
    if (chunk > PageConfig::kMaxLinearChunk) return 0;
    return align <= pages_.geometry().shape_of(PageConfig::class_of(chunk)).align ? chunk - kTagSize
                                                                                  : 0;
  }

  /// Gives the page block at `p` back, from any thread, without the lock (PageTable::free): what
  /// the free answers, or PageTable::kNotPage when `p` is no page's block (or the heap is marked
  /// broken, which only the lock's path reports).
  [[gnu::always_inline]] Errc page_free(const void* p) const noexcept {
    const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(p),
                         b = reinterpret_cast<std::uintptr_t>(core_bytes());
    if (a < b) return PageTable::kNotPage;
    return page_free_at(a - b);
  }
  /// page_free, of the block at user offset `u` from the core heap's base.
  [[gnu::always_inline]] Errc page_free_at(std::uint64_t u) const noexcept {
    // A heap without lanes has an empty page table (cap 0, which attach checks): a core chunk is
    // no page's block, and a word that names a page is refused as foreign_pointer, as the core
    // refuses such a tag.
    if (corrupted()) [[unlikely]]
      return PageTable::kNotPage;
    return pages_.free(core_bytes(), meta().heap_start(), meta().heap_end_unlocked(), u);
  }
  /// The usable bytes of the page block at `p`, or nullopt when it is no page's block.
  std::optional<Result<std::size_t>> page_usable(const void* p) const noexcept {
    if (!has_lanes()) return std::nullopt;
    const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(p),
                         b = reinterpret_cast<std::uintptr_t>(core_bytes());
    if (a < b) return std::nullopt;
    const std::uint64_t u = a - b;
    const PageTable::Block k =
        pages_.find(core_bytes(), meta().heap_start(), meta().heap_end_unlocked(), u);
    if (k.found == PageTable::Found::not_page) return std::nullopt;
    return pages_.usable(core_bytes(), k);
  }

  /// Under the lock: a block of at least `size` (at most PageConfig::kMaxRequest) bytes, from a
  /// new page on `o`'s list of the class when its pages have none. A class whose page would hold
  /// too few blocks, or a heap with no room for a page, is served by the core.
  Result<void*> refill_allocate(Core& core, const LaneOwner& o, std::size_t size,
                                std::size_t align = kGranule) noexcept {
    if (!pages_sane(core)) return Errc::corrupted;
    const std::uint64_t cls = PageConfig::class_of_request(size);
    // A class whose page would hold too few blocks (a large one, in a small heap's pages).
    if (!pages_.geometry().serves(cls)) return core.allocate(size, align);
    const PageLists pl = owner_lists(o);
    const Result<std::uint64_t> listed = pages_.take_listed(core, pl, o.index, cls);
    if (!listed) return listed.error();
    if (*listed != kNull) return core.address_of(*listed);
    // Before a new page, in a heap at least 7/8 full: a free chunk too small for a page of the
    // class (a hole that larger blocks left) takes the block, as it would in a heap without
    // pages; left to pages, it would stay empty for good. Not sooner, since every such block
    // is freed under the lock. (The efficiency workload's first three rounds: 95.2% of the
    // arena in use at the first failure without this, 96.0% with.)
    if (const std::uint64_t free = core.capacity() - core.counters().live_bytes;
        free < core.capacity() / kTightShare) {
      const std::uint64_t fit = core.fit_size(size, align);
      if (fit != 0 && fit < pages_.geometry().bytes_of(cls)) return core.allocate(size, align);
    }
    Result<std::uint64_t> u = pages_.take_new(core, pl, o.index, cls);
    // No room for a page: the pages that hold no block go back first (this lane's, and those
    // of lanes nobody owns), and one is tried again; a heap with no room for a page may
    // still have room for the block.
    if (u.error() == Errc::out_of_memory && release_pages(core, &o))
      u = pages_.take_new(core, pl, o.index, cls);
    if (u) return core.address_of(*u);
    if (u.error() != Errc::out_of_memory) return u.error();
    return core.allocate(size, align);
  }

  /// Under the lock, the core's slot calls (TalcMeta::allocate_into, deallocate_from,
  /// reallocate_from) for a heap whose blocks may be a page's: the owner of the slot, and the
  /// block a slot names. A page's block leaves a slot as one operation (PageTable::replace).
  Result<void*> allocate_into(Core& core, const void* owner, std::size_t word, std::size_t size,
                              std::size_t align, std::uint64_t bias) noexcept {
    const Result<std::uint64_t> slot = slot_in(core, owner, word);
    if (!slot) return slot.error();
    return core.allocate_at(*slot, size, align, bias);
  }
  Errc deallocate_from(Core& core, const void* owner, std::size_t word,
                       std::uint64_t bias) noexcept {
    const Result<std::uint64_t> slot = slot_in(core, owner, word);
    if (!slot) return slot.error();
    const std::uint64_t value = load_word(core_bytes(), *slot);
    const Result<std::uint64_t> x = page_named(core, *slot, value, bias);
    if (!x) return x.error();
    if (*x == kNull) return core.deallocate_at(*slot, bias);
    return pages_.replace(core, *slot, *x, value, kNull);
  }
  Result<void*> reallocate_from(Core& core, const void* owner, std::size_t word, std::size_t size,
                                std::size_t align, std::uint64_t bias) noexcept {
    const Result<std::uint64_t> slot = slot_in(core, owner, word);
    if (!slot) return slot.error();
    const std::uint64_t value = load_word(core_bytes(), *slot);
    const Result<std::uint64_t> x = page_named(core, *slot, value, bias);
    if (!x) return x.error();
    if (*x == kNull) return core.reallocate_at(*slot, size, align, bias);
    const std::uint64_t usable =
        PageConfig::chunk_of(
            pages_.find(core_bytes(), core.heap_start(), core.heap_end(), *x).cls) -
        kTagSize;
    void* p = core.address_of(*x);
    if (size != 0 && size <= usable && reinterpret_cast<std::uintptr_t>(p) % align == 0) return p;
    // Moved: the new block is named by the table's record until the slot takes it.
    const Result<void*> n =
        core.allocate_into(core.address_of(pages_.table), PageTable::kMoved, size, align);
    if (!n) return n;
    std::memcpy(*n, p, std::min<std::uint64_t>(usable, size));
    if (const Errc e = pages_.replace(core, *slot, *x, value, core.offset_of(*n) + bias);
        e != Errc::ok)
      return e;
    return n;
  }

  /// Under the lock: frees the block at `p`, a page's or the core's (a refusal changes nothing).
  Errc free_locked(Core& core, void* p) noexcept {
    if (const Errc r = page_free(p); r != PageTable::kNotPage) return r;
    const Result<Chunk> c = core.live_chunk(p);
    if (!c) return c.error();
    if (heaps_own(core, c->user())) return Errc::foreign_pointer;
    return core.deallocate_live(*c);
  }

  /// Under the lock, before any core operation on the block at `p` (a resize, an adoption, a
  /// slot call): not_allocated when it is a page's block that is not handed out, since to its
  /// user it is free; foreign_pointer when it is one of the heap's own (heaps_own).
  Errc refuse_cached(Core& core, const void* p) noexcept {
    if (!has_lanes()) return Errc::ok;
    if (const std::optional<Result<std::size_t>> usable = page_usable(p))
      return usable->error();  // a page's block: live unless it says not
    const Result<Chunk> c = core.live_chunk(p);
    if (!c) return c.error();
    return heaps_own(core, c->user()) ? Errc::foreign_pointer : Errc::ok;
  }

  /// Under the lock: whether the allocated chunk whose user pointer is `p` is the heap's own
  /// (a table or a page) rather than a user's: for walks of the chunks.
  bool in_lanes(Core& core, const void* p) noexcept { return heaps_own(core, core.offset_of(p)); }

  /// Whether user offset `u` is a block of the heap's own, no user's: the lane table, the page
  /// table or a page. Every call that names a block refuses these as foreign: freed, a page's
  /// chunk would go back to the core under the blocks still handed out from it.
  bool heaps_own(Core& core, std::uint64_t u) const noexcept {
    if (!has_lanes()) return false;
    if (u == table_) return true;
    if (u % kGranule != 0 || u < core.heap_start() + kTagSize || u >= core.heap_end()) return false;
    return u == pages_.table || is_page(core, u);
  }

  /// Under the lock, when a request found no memory (or a caller trims): gives back the pages
  /// without a held block of `mine` (the caller's lane) and of every lane nobody owns, each taken
  /// over for the while as a dead owner's lane is taken. Whether any page went back.
  bool release_pages(Core& core, const LaneOwner* mine) noexcept {
    if (!has_lanes() || !pages_sane(core)) return false;
    std::uint64_t n = 0;
    if (mine != nullptr) n += pages_.release_empty(core, lists(mine->index), mine->index, false);
    for (std::uint64_t i = 0; i < lanes_; ++i) {
      Lane& l = lanes()[i];
      free_if_gone(i);
      std::uint64_t w = 0;
      if (!std::atomic_ref<std::uint64_t>(l.owner).compare_exchange_strong(
              w, RegionLock::self(), std::memory_order_acq_rel))
        continue;
      n += pages_.release_empty(core, lists(i), i, false);
      lane_store(l.owner, std::uint64_t{0}, std::memory_order_release);
    }
    return n != 0;
  }

  /// Under the lock, by a process that knows it is the only one using the region (Talc::
  /// fresh_start): every lane's owner is gone, whatever its word says; each is freed, its pages
  /// left on its lists. This process's own lanes are left to the threads that hold them.
  Errc reset_lanes(Core& core) noexcept {
    if (!has_lanes()) return Errc::ok;
    if (!table_sane(core)) return Errc::corrupted;
    for (std::uint64_t i = 0; i < lanes_; ++i)
      if (lane_load(lanes()[i].owner) != RegionLock::self()) {
        lane_store(lanes()[i].thread, std::uint64_t{0});
        lane_store(lanes()[i].owner, std::uint64_t{0}, std::memory_order_release);
      }
    return Errc::ok;
  }

  /// How many lanes have an owner, read lane by lane without stopping them.
  std::uint64_t lanes_owned() const noexcept {
    std::uint64_t n = 0;
    for (std::uint64_t i = 0; i < lane_count(); ++i) n += lane_load(lanes()[i].owner) != 0;
    return n;
  }

  /// The core's figures with the pages taken out: the core counts each page, and the two
  /// tables, as one live block; to a user a page's held blocks are live, its free blocks cached
  /// (including those given back and not yet collected), the rest overhead. Every byte of the
  /// span stays in exactly one of live, free, cached and overhead.
  void subtract_lanes(HeapStats& s) const noexcept {
    if (!has_lanes()) return;
    const PageTable::Counts pc = pages_.counts(core_bytes(), meta().heap_end_unlocked());
    const std::uint64_t tables = table_chunk() + page_table_chunk();
    const std::uint64_t blocks = pc.pages + 2;
    const std::uint64_t usable = pc.chunk_bytes - pc.pages * kTagSize + tables - 2 * kTagSize;
    s.live_allocations -= std::min(blocks, s.live_allocations);
    s.live_allocations += pc.held;
    s.live_bytes -= std::min(usable, s.live_bytes);
    s.live_bytes += pc.held_bytes;
    s.cached_blocks = pc.free;
    s.cached_bytes = pc.free_bytes;
    s.overhead_bytes = s.span_bytes - s.live_bytes - s.free_bytes - s.cached_bytes;
    s.lanes = lane_count();
    s.lanes_owned = lanes_owned();
    if (s.allocations >= 2) s.allocations -= 2;  // the tables', made with the heap
  }
  /// The same for the census: the pages and the two tables are one live chunk each to the core;
  /// to a user the free blocks in pages are cached, the rest overhead.
  void subtract_lanes(Census& census) const noexcept {
    if (!has_lanes()) return;
    const PageTable::Counts pc = pages_.counts(core_bytes(), meta().heap_end_unlocked());
    const std::uint64_t chunks = pc.pages + 2,
                        bytes = pc.chunk_bytes + table_chunk() + page_table_chunk();
    census.cached_chunks = pc.free;
    census.cached_bytes = pc.free_bytes;
    census.live_chunks -= std::min(census.live_chunks, chunks);
    census.live_chunks += pc.held;
    census.live_bytes -= std::min(census.live_bytes, bytes);
    census.live_bytes += pc.held_bytes + pc.held * kTagSize;
  }

  /// The chunk bytes of the page table (0 without lanes): overhead in the statistics.
  std::uint64_t page_table_chunk() const noexcept {
    return has_lanes() ? Tag{load_word(core_bytes(), pages_.table - kTagSize)}.size() : 0;
  }

  /// The chunk bytes of the lane table (0 without lanes): overhead in the statistics.
  std::uint64_t table_chunk() const noexcept {
    return has_lanes() ? Tag{load_word(core_bytes(), table_ - kTagSize)}.size() : 0;
  }

  /// Proves the lane table and the pages (PageTable::check) after the core's check passed: the
  /// table a live block, every owner word one a process could have written, every page on
  /// exactly one list. `live`: other processes may be working the lanes (the caller holds the
  /// lock), and the lanes of dead owners are freed first; a private copy of a region (the tool)
  /// passes false and nothing is written.
  CheckReport check_lanes(Core& core, bool live) {
    if (!has_lanes()) return {};
    if (!table_sane(core))
      return CheckReport{Errc::corrupted, table_, "the lane table lies outside the heap"};
    const Result<Chunk> t = core.live_chunk(table());
    if (!t || t->end() < lane_offset(lanes_))
      return CheckReport{Errc::corrupted, table_, "the lane table is not a live block"};
    if (const CheckReport r = pages_.check(core, lanes_, all_lists()); !r.ok()) return r;
    for (std::uint64_t i = 0; i < lanes_; ++i) {
      const std::uint64_t owner = lane_load(lanes()[i].owner);
      if ((owner & RegionLock::kWaiters) != 0 || !RegionLock::plausible(owner))
        return CheckReport{Errc::corrupted, lane_offset(i), "a lane's owner word names nobody",
                           owner};
      if (live) free_if_gone(i);
    }
    return {};
  }

  /// For the process-local records (lane_local.hpp): gives lane `index` of the heap at `heap`
  /// back, its pages without a held block given back to the heap when the lock can be had.
  static void give_back(void* heap, std::uint64_t index) noexcept {
    auto* self = static_cast<LaneHeap*>(heap);
    Lane& l = self->lanes()[index];
    (void)self->with_lock([&](Core& core) {
      // Pages with blocks held stay on the lane: its next owner serves from them.
      if (self->pages_sane(core))
        (void)self->pages_.release_empty(core, self->lists(index), index, false);
    });
    lane_store(l.thread, std::uint64_t{0});
    lane_store(l.owner, std::uint64_t{0}, std::memory_order_release);
  }

 private:
  LaneHeap() noexcept = default;

  std::byte* core_bytes() const noexcept {
    return const_cast<std::byte*>(reinterpret_cast<const std::byte*>(&meta()));
  }
  /// The lanes start at the table's first 64-byte boundary (the core heap's base is one): each
  /// lane on cache lines of its own, and no alignment gap left free below the table.
  static constexpr std::uint64_t lanes_at(std::uint64_t table) noexcept {
    return (table + 63) & ~std::uint64_t{63};
  }
  Lane* lanes() const noexcept { return reinterpret_cast<Lane*>(core_bytes() + lanes_at(table_)); }
  void* table() const noexcept { return core_bytes() + table_; }
  /// Whether record `h` is this thread's lane in this heap, taken in this process.
  [[gnu::always_inline]] bool here(const lanes_local::Held& h) const noexcept {
    return h.key == this && h.stamp == lanes_local::stamp() && h.owner.lane != nullptr;
  }
  LaneOwner view(std::uint64_t i) const noexcept { return LaneOwner{&lanes()[i], i}; }
  /// Whether an owner word names nobody who may still work the lane: free, or a dead process.
  static bool owner_gone(std::uint64_t w) noexcept {
    return w == 0 || w == RegionLock::kAbandoned || RegionLock::holder_dead(w);
  }
  /// Frees lane i when its owner is a dead process, its pages left on its lists. The lane is
  /// taken over by a compare-and-swap first, so that a process claiming it at the same moment is
  /// not robbed, and a live owner's is left alone.
  void free_if_gone(std::uint64_t i) noexcept {
    Lane& l = lanes()[i];
    std::uint64_t w = lane_load(l.owner);
    if (w == 0 || !owner_gone(w) ||
        !std::atomic_ref<std::uint64_t>(l.owner).compare_exchange_strong(w, RegionLock::self(),
                                                                         std::memory_order_acq_rel))
      return;
    lane_store(l.thread, std::uint64_t{0});
    lane_store(l.owner, std::uint64_t{0}, std::memory_order_release);
  }

  /// The slot `word` of the live block `owner`, a page's or the core's: its offset.
  Result<std::uint64_t> slot_in(Core& core, const void* owner, std::size_t word) noexcept {
    if (const std::optional<Result<std::size_t>> usable = page_usable(owner)) {
      if (!*usable) return usable->error();
      if (word >= **usable / kWord) return Errc::foreign_pointer;
      return core.offset_of(owner) + word * kWord;
    }
    return core.slot_of(owner, word);
  }
  /// The page block that the slot at `slot` names by `value`: its user offset; kNull when the
  /// value names none (the core then answers for it); an error when it names one that is not
  /// handed out, or the slot lies in that very block.
  Result<std::uint64_t> page_named(Core& core, std::uint64_t slot, std::uint64_t value,
                                   std::uint64_t bias) noexcept {
    if (!has_lanes() || value == kNull || value < bias || value - bias >= core.heap_end())
      return kNull;
    const std::uint64_t x = value - bias;
    const PageTable::Block k = pages_.find(core_bytes(), core.heap_start(), core.heap_end(), x);
    if (k.found != PageTable::Found::block) return kNull;
    const Result<std::size_t> usable = pages_.usable(core_bytes(), k);
    if (!usable) return usable.error();
    if (slot + kTagSize >= x && slot < x + *usable) return Errc::foreign_pointer;
    return x;
  }

  bool pages_sane(const Core& core) const noexcept {
    return table_sane(core) && pages_.sane(core.heap_start(), core.heap_end_unlocked());
  }
  /// Lane i's page lists (page_table.hpp).
  PageLists lists(std::uint64_t i) const noexcept {
    return PageLists{lanes()[i].first, lanes()[i].cur};
  }
  /// Lane `o`'s lists, with its owner's caches: for the owner's own hand-outs.
  static PageLists owner_lists(const LaneOwner& o) noexcept {
    return PageLists{o.lane->first, o.lane->cur, o.front};
  }
  auto all_lists() const noexcept {
    return [this](std::uint64_t i) { return lists(i); };
  }
  /// Whether user offset `u` is a page's (pages_.page_at names it).
  bool is_page(Core& core, std::uint64_t u) const noexcept {
    if (!pages_sane(core) || u < kWord) return false;
    const std::uint64_t i = load_word(core_bytes(), u) & ~PageConfig::kIdent;
    return (load_word(core_bytes(), u) & PageConfig::kIdent) == PageConfig::kIdent &&
           pages_.page_at(core_bytes(), core.heap_end(), i) == u;
  }

  /// The lane table and the page table, made with the heap. A lane serves small blocks only
  /// from pages, so a heap gets both or neither: none when it cannot spare a 64th of itself for
  /// one lane (which also leaves it too small for pages worth having: a page is at most a 64th
  /// of the heap, at least 4 KiB), and then every request goes through the lock.
  void build_tables() noexcept {
    Core& core = meta();
    std::uint64_t n = core.capacity() / 64 / sizeof(Lane);
    if (n == 0) return;
    if (n > LaneConfig::kMaxLanes) n = LaneConfig::kMaxLanes;
    // At least one class's largest block, so the table itself is never taken for a small one.
    std::uint64_t bytes = n * sizeof(Lane) + 64 - kGranule;
    if (bytes < PageConfig::kMaxChunk) bytes = PageConfig::kMaxChunk;
    const Result<void*> r = core.allocate(bytes);
    if (!r) return;
    if (!pages_.build(core)) {
      (void)core.deallocate(*r);
      return;
    }
    // Zero: no owner, and no page on any list (page_table.hpp).
    std::memset(*r, 0, bytes);
    lanes_ = n;
    table_ = core.offset_of(*r);
  }

  /// Claims a lane for the calling thread (lane_local.hpp keeps the record). Out of line: the
  /// first call of each thread, and each call of a thread that found none free lately.
  [[gnu::noinline]] LaneOwner* acquire_lane() noexcept {
    if (!table_sane(meta())) return nullptr;  // the lock's path then finds what is wrong
    return lanes_local::acquire(lane_source());
  }
  lanes_local::LaneSource lane_source() noexcept {
    return lanes_local::LaneSource{
        this, lanes_,
        [](void* h, std::uint64_t i, bool dead_ok) noexcept {
          return static_cast<LaneHeap*>(h)->own_lane(i, dead_ok);
        },
        [](void* h, std::uint64_t i) noexcept { return static_cast<LaneHeap*>(h)->view(i); },
        &LaneHeap::give_back};
  }

  /// Tries to make lane i the calling thread's: a free one by one compare-and-swap, or, with
  /// `dead_ok`, one whose owner died. Free lanes are tried first: telling a dead owner costs a
  /// look at /proc. A dead owner may have died holding the heap's lock inside a change of the
  /// lane's lists: the lock is taken once, which rolls that back, before its pages are served
  /// from. A process without an identity (RegionLock::has_identity) owns no lane: the word it
  /// would write could outlive it as a live-looking owner once its pid is reused.
  bool own_lane(std::uint64_t i, bool dead_ok) noexcept {
    Lane& l = lanes()[i];
    const std::uint64_t me = RegionLock::self();
    if (!RegionLock::has_identity(me)) return false;
    std::uint64_t w = lane_load(l.owner);
    if (w != 0 && (!dead_ok || !owner_gone(w))) return false;
    if (!std::atomic_ref<std::uint64_t>(l.owner).compare_exchange_strong(w, me,
                                                                         std::memory_order_acq_rel))
      return false;
    lane_store(l.thread, std::uint64_t{current_thread_id()});
    if (w == 0 || with_lock([](Core&) {}) == Errc::ok) return true;
    lane_store(l.thread, std::uint64_t{0});
    lane_store(l.owner, std::uint64_t{0}, std::memory_order_release);
    return false;
  }

  /// Whether the lane words this process reads from the region still lie in the heap: they are
  /// another process's data too, checked when the heap was opened and again before the slow
  /// paths use them as addresses.
  /// The heap end is read as a reader without the lock reads it: it only grows.
  bool table_sane(const Core& core) const noexcept {
    const std::uint64_t end = core.heap_end_unlocked();
    return lanes_ != 0 && lanes_ <= LaneConfig::kMaxLanes && table_ >= core.heap_start() &&
           table_ % kGranule == 0 && lanes_at(table_) <= end &&
           end - lanes_at(table_) >= lanes_ * sizeof(Lane);
  }

  std::uint64_t table_ = kNull;  // user offset of the lane table from the core heap's base
  std::uint64_t lanes_ = 0;
  PageTable pages_;  // the heap's pages: present exactly when the lane table is
};

static_assert(sizeof(LaneHeap<>) <= LaneHeap<>::kSyncOffset);

}  // namespace talc
