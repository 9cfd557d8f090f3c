// Layer 5b — the synchronised heap with its lanes: what a region's header holds.
//
// `LaneHeap` is a few words about the lanes followed by the TalckMeta (lock and core heap).
// The lanes themselves (lane.hpp) lie in one block of the heap, the lane table, allocated when
// the heap is built: inside the span, so that the core's journal covers the words that a
// refill or a drain writes there, exactly as it covers a user's slot in allocate_into.
//
// How a thread gets a lane: at its first small request it claims a free one with one
// compare-and-swap of the lane's owner word (0 -> this process's lock word, RegionLock::self()),
// and keeps it in a thread-local record (lane_local.hpp) until it ends, when it drains the lane
// and gives it back, or until the process closes the heap. A lane whose owner process died is
// found by the same test as a lock's dead holder (pid and start time, so a reused pid is not
// taken for the owner) and reclaimed under the heap's lock: its stacks are drained into the
// heap one atomic operation per block. A child created by fork never uses its parent's lanes:
// RegionLock::self() changes in the child, and a record taken under another word is dropped.
//
// Where a block freed by any thread goes: into the freer's own lane, like a process-local
// malloc's thread cache. Every block comes from the one central heap, so a block needs no home;
// sending it home would take a queue per lane written by every other thread, with an atomic
// read-modify-write per free. A lane that fills drains half a class in one acquisition of the
// lock; one that runs dry takes kRefill blocks in one.
//
// Accounting: the core counts a cached block as allocated; the lanes count it as cached. The
// statistics (HeapStats) subtract what the lanes hold, and the table itself is overhead.
//
// When memory runs out, a request first drains the calling thread's lane and reclaims the lanes
// of dead owners (drain_lanes), then grows the region, and only then fails.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

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
  static_assert(LaneConfig::kRefill <= Core::kMaxRun, "a refill is one run at most");

  /// A heap with less than 1/kTightShare of it free fills its holes before it makes pages.
  static constexpr std::uint64_t kTightShare = 8;
  /// The synchronised heap follows the lane words; the core heap follows its lock.
  static constexpr std::size_t kSyncOffset = 64;
  static constexpr std::size_t kMetaOffset = kSyncOffset + Sync::kMetaOffset;

  LaneHeap(const LaneHeap&) = delete;
  LaneHeap& operator=(const LaneHeap&) = delete;

  static constexpr std::uint64_t layout_fingerprint() noexcept {
    return fingerprint_of({Sync::layout_fingerprint(), kSyncOffset, LaneConfig::kClasses,
                           LaneConfig::kClassCap, LaneConfig::kMaxLanes, sizeof(Lane),
                           PageConfig::kClasses, PageConfig::kMaxChunk, PageConfig::kMaxBytes,
                           PageConfig::kIdent, sizeof(PageHeader), PageTable::kHeadWords,
                           PageGeometry::kFill, PageGeometry::kMinClassBytes});
  }
  static constexpr std::size_t min_claim_size() noexcept {
    return kSyncOffset + Sync::min_claim_size();
  }

  /// Builds the heap in [at, at + len), with a lane table unless `opts` turns lanes off, the heap
  /// is checked (its frees walk the heap under the lock), or it is too small to spare one.
  static Result<LaneHeap*> claim(void* at, std::size_t len, ClaimOptions opts = {}) noexcept {
    if (at == nullptr) return Errc::null_region;
    if (reinterpret_cast<std::uintptr_t>(at) % alignof(LaneHeap) != 0) return Errc::corrupted;
    if (len < kSyncOffset) return Errc::region_too_small;
    auto sync = Sync::claim(static_cast<std::byte*>(at) + kSyncOffset, len - kSyncOffset, opts);
    if (!sync) return sync.error();
    auto* self = ::new (at) LaneHeap();
    if (opts.lanes && !opts.checked) self->build_table();
    if (opts.pages && self->has_lanes() && self->pages_.build(self->meta()))
      for (std::uint64_t i = 0; i < self->lanes_; ++i)  // no page lists yet (page_table.hpp)
        std::fill(std::begin(self->lanes()[i].head), std::end(self->lanes()[i].head), 0);
    // The tables are the heap's own: a fresh heap's peak is 0.
    Core& core = self->meta();
    if (self->has_lanes()) core.keep_for_layers(core.address_of(self->table_));
    if (self->has_pages()) core.keep_for_layers(core.address_of(self->pages_.table));
    return self;
  }

  /// The LaneHeap already built at `at`: the core's fields and the lane words in bounds.
  static Result<LaneHeap*> attach(void* at, std::size_t len) noexcept {
    if (at == nullptr) return Errc::null_region;
    if (reinterpret_cast<std::uintptr_t>(at) % alignof(LaneHeap) != 0) return Errc::corrupted;
    if (len < kSyncOffset) return Errc::region_too_small;
    auto sync = Sync::attach(static_cast<std::byte*>(at) + kSyncOffset, len - kSyncOffset);
    if (!sync) return sync.error();
    auto* self = std::launder(reinterpret_cast<LaneHeap*>(at));
    if (self->table_ != kNull) {
      const Core& core = self->meta();
      if (self->lanes_ == 0 || self->lanes_ > LaneConfig::kMaxLanes || self->bound_ == 0 ||
          self->bound_ > LaneConfig::kMaxBytes || self->table_ % kGranule != 0 ||
          self->table_ < core.heap_start() || lanes_at(self->table_) > core.heap_end() ||
          core.heap_end() - lanes_at(self->table_) < self->lanes_ * sizeof(Lane))
        return Errc::corrupted;
    }
    if (self->pages_.present() &&
        (self->table_ == kNull ||
         !self->pages_.sane(self->meta().heap_start(), self->meta().heap_end())))
      return Errc::corrupted;
    return self;
  }

  // ---- the synchronised heap ------------------------------------------------------------------

  /// TalckMeta::with_lock. A lock taken from a dead holder may find lanes that holder had paused
  /// (check, below); they are let go before `f` runs.
  template <class F>
  Errc with_lock(F&& f, bool* recovered = nullptr,
                 std::chrono::milliseconds bound = kDefaultLockWait) noexcept {
    bool rec = false;
    const Errc e = sync().with_lock(
        [&](Core& core) {
          if (rec) {  // a pause its dead holder left, a page it was making or giving back
            for (std::uint64_t i = 0; i < lane_count(); ++i)
              lane_store(lanes()[i].pause, std::uint64_t{0});
            if (has_pages() && pages_sane(core)) {
              pages_.finish(core);
              (void)pages_.sweep(core, lanes_, all_lists());
            }
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

  // ---- lanes ------------------------------------------------------------------------------------

  bool has_lanes() const noexcept { return table_ != kNull; }
  /// Whether small blocks live in pages (pages/page_table.hpp) rather than the lanes' stacks.
  bool has_pages() const noexcept { return pages_.present(); }
  const PageTable& pages() const noexcept { return pages_; }
  std::uint64_t lane_count() const noexcept { return has_lanes() ? lanes_ : 0; }
  std::uint64_t lane_bound() const noexcept { return bound_; }
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
  /// The lane of this thread for a free: the one it holds, never a new claim (lane_local.hpp:
  /// the C library's frees at a thread's end must not claim).
  [[gnu::always_inline]] LaneOwner* free_lane() noexcept {
    lanes_local::Held& h = lanes_local::tls.held[0];
    if (corrupted()) [[unlikely]]
      return nullptr;
    if (here(h)) return &h.owner;
    return held_lane();
  }
  /// The lane this thread holds here, without claiming one (under the heap's lock too).
  [[gnu::noinline]] LaneOwner* held_lane() noexcept {
    for (lanes_local::Held& h : lanes_local::tls.held)
      if (here(h)) return &h.owner;
    // A view is made from the table's words, which are region bytes: only from a sane table.
    return has_lanes() && table_sane(meta()) ? lanes_local::confirm(lane_source()) : nullptr;
  }

  /// Under the lock: `op` (a core request), and when it fails for want of memory, again after
  /// the calling thread's lane and the lanes of dead owners are drained (drain_lanes): memory
  /// cached in a lane is not lost to a request that needs it. Before the region grows.
  template <class Op>
  Result<void*> retry_after_drain(Core& core, Op&& op) noexcept {
    Result<void*> r = op();
    if (r.error() == Errc::out_of_memory && drain_lanes(core, held_lane())) {
      core.retract_failure();  // the drained blocks may answer it
      r = op();
    }
    return r;
  }

  /// The largest request a lane serves: its pages' (PageConfig), or its stacks' (LaneConfig).
  std::uint64_t lane_max_request() const noexcept {
    return has_pages() ? PageConfig::kMaxRequest : LaneConfig::kMaxRequest;
  }

  /// A small block from `o` without the lock: the user offset of a block of at least `size`
  /// (at most PageConfig::kMaxRequest) bytes, or kNull when the lane cannot serve it that way
  /// (then ask refill_pop under the lock, for a size up to lane_max_request()).
  [[gnu::always_inline]] std::uint64_t lane_allocate(const LaneOwner& o,
                                                     std::size_t size) const noexcept {
    const std::uint64_t chunk = chunk_size_for(size);
    if (has_pages()) {
      const std::uint64_t cls = PageConfig::class_of(chunk);
      if (const std::uint64_t u = PageTable::from_front(core_bytes(), o.front, o.lane->count, cls);
          u != kNull) [[likely]]
        return u;
      return pages_.allocate_from_pages(core_bytes(), meta().heap_end_unlocked(), owner_lists(o),
                                        o.index, cls);
    }
    if (chunk > LaneConfig::kMaxChunk) return kNull;
    return o.pop(LaneConfig::class_of(chunk), chunk, meta().heap_end_unlocked());
  }

  /// For a heap with pages and an alignment above kGranule: the request size whose class's blocks
  /// are all `align`-aligned (its chunk a multiple of `align`, page.hpp), or 0 when no class is.
  std::size_t page_request(std::size_t size, std::size_t align) const noexcept {
    if (size > PageConfig::kMaxRequest) return 0;
    const std::uint64_t chunk = (size + kTagSize + align - 1) & ~(std::uint64_t{align} - 1);
    // Only the classes 16 bytes apart have a chunk size for every multiple of the alignment.
    if (chunk > PageConfig::kMaxLinearChunk) return 0;
    return align <= pages_.geometry().shape_of(PageConfig::class_of(chunk)).align ? chunk - kTagSize
                                                                                  : 0;
  }

  /// The same for an alignment above kGranule (at most LaneConfig::kMaxAlign): kNull also when none
  /// of the blocks on top of the stack is aligned (then the heap serves it under the lock).
  std::uint64_t lane_allocate_aligned(const LaneOwner& o, std::size_t size,
                                      std::size_t align) const noexcept {
    if (has_pages()) return kNull;  // a page's blocks are 16-aligned: the heap carves one
    const std::uint64_t chunk = chunk_size_for(size);
    return o.pop_aligned(LaneConfig::class_of(chunk), chunk, meta().heap_end_unlocked(), align);
  }

  /// Gives the page block at `p` back, from any thread, without the lock (PageTable::free): what
  /// the free answers, or nullopt when `p` is no page's block (or the heap is marked broken,
  /// which only the lock's path reports).
  [[gnu::always_inline]] std::optional<Errc> page_free(const void* p) const noexcept {
    if (!has_pages() || corrupted()) [[unlikely]]
      return std::nullopt;
    const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(p),
                         b = reinterpret_cast<std::uintptr_t>(core_bytes());
    if (a < b) return std::nullopt;
    return pages_.free(core_bytes(), meta().heap_start(), meta().heap_end_unlocked(), a - b);
  }
  /// The usable bytes of the page block at `p`, or nullopt when it is no page's block.
  std::optional<Result<std::size_t>> page_usable(const void* p) const noexcept {
    if (!has_pages()) return std::nullopt;
    const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(p),
                         b = reinterpret_cast<std::uintptr_t>(core_bytes());
    if (a < b) return std::nullopt;
    const std::uint64_t u = a - b;
    const PageTable::Block k =
        pages_.find(core_bytes(), meta().heap_start(), meta().heap_end_unlocked(), u);
    if (k.found == PageTable::Found::not_page) return std::nullopt;
    return pages_.usable(core_bytes(), k);
  }

  enum class LaneFree : std::uint8_t { cached, double_free, ask_lock };
  /// Frees the block at `p` into `o` without the lock, when everything that proves it a live,
  /// uncached small block can be read without the lock. ask_lock when not: a large block, a
  /// lane that is full or paused, a neighbour caught mid-operation, another lane's mark.
  [[gnu::always_inline]] LaneFree lane_free(const LaneOwner& o, const void* p) const noexcept {
    if (has_pages()) return LaneFree::ask_lock;  // a core block: the lanes keep no stacks then
    const Result<Chunk> c = meta().template live_chunk<false>(p);
    if (!c || c->size > LaneConfig::kMaxChunk) return LaneFree::ask_lock;
    const std::uint64_t u = c->user(), cls = LaneConfig::class_of(c->size);
    const std::uint64_t mark = load_word(o.core, u + kWord);
    if ((mark ^ secret_) < lanes_) {
      if (mark != o.mark) return LaneFree::ask_lock;
      if (o.holds(cls, u, meta().heap_end_unlocked())) return LaneFree::double_free;
    }
    return o.push(u, cls, c->size) ? LaneFree::cached : LaneFree::ask_lock;
  }

  /// Under the lock: a block of at least `size` (<= lane_max_request()) bytes from `o`,
  /// refilling its class from the heap when it is empty. out_of_memory when the heap has no room
  /// for even one block; corrupted when the lane's stack is not what it must be.
  Result<void*> refill_pop(Core& core, const LaneOwner& o, std::size_t size,
                           std::size_t align = kGranule) noexcept {
    const std::uint64_t chunk = chunk_size_for(size);
    if (has_pages()) {
      if (!pages_sane(core)) return Errc::corrupted;
      const std::uint64_t cls = PageConfig::class_of(chunk);
      // A class whose page would hold too few blocks (a large one, in a small heap's pages).
      if (!pages_.geometry().serves(cls)) return core.allocate(size, align);
      const PageLists pl = owner_lists(o);
      const Result<std::uint64_t> listed = pages_.take_listed(core, pl, o.index, cls);
      if (!listed) return listed.error();
      if (*listed != kNull) return core.address_of(*listed);
      // Before a new page, in a heap at least 7/8 full: a free chunk too small for a page of the
      // class (a hole that larger blocks left) takes the block, as it would in a heap without
      // pages; left to pages, it would stay empty for good. Not sooner, since every such block
      // is freed under the lock. (The efficiency workload: 95.2% of the arena in use at the
      // first failure without this, 96.0% with.)
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
    const std::uint64_t cls = LaneConfig::class_of(chunk);
    Lane& l = *o.lane;
    if (lane_load(l.head[cls]) == kNull) {
      // Each operation carves blocks side by side out of the chunk that a request for one block
      // would get (allocate_run), as many as it holds: a hole is reused as a single request
      // would reuse it, a large chunk gives the whole refill at once.
      const std::uint64_t bytes = lane_load(l.bytes), count = lane_load(l.count[cls]);
      const std::uint64_t room = bytes < bound_ ? (bound_ - bytes) / chunk : 0;
      auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(
          {LaneConfig::kRefill, room,
           count < LaneConfig::kClassCap ? LaneConfig::kClassCap - count : 0}));
      for (std::uint32_t got = 0; n != 0; n -= got) {
        const Result<std::uint32_t> run =
            core.allocate_run(table(), word_of(o, cls), chunk, n, lane_load(l.head[cls]), o.mark);
        if (!run) {
          if (lane_load(l.head[cls]) == kNull) return run.error();
          if (run.error() == Errc::out_of_memory) core.retract_failure();  // the request is served
          break;
        }
        got = *run;
        if (got == 0) break;
        lane_store(l.count[cls], lane_load(l.count[cls]) + got);
        lane_store(l.bytes, lane_load(l.bytes) + got * chunk);
      }
    }
    // A lane at its bound refills nothing, nor one whose chunk was a block and 16 bytes (no
    // block of this class): the request is served by the heap directly.
    if (lane_load(l.head[cls]) == kNull) return core.allocate(size, kGranule);
    const std::uint64_t u = o.template pop<true>(cls, chunk, core.heap_end());
    if (u == kNull) return Errc::corrupted;  // the head is no block of this lane: damage
    return core.address_of(u);
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

  /// Under the lock: frees the block at `p` (a refusal changes nothing). A small block goes to
  /// `o` (when given), draining half its class into the heap first if the lane is full, unless
  /// the chunk below it is free: then, the lock being held anyway, it merges into the heap,
  /// which keeps the heap whole.
  Errc free_locked(Core& core, void* p, const LaneOwner* o,
                   std::chrono::milliseconds bound = kDefaultLockWait) noexcept {
    if (has_pages()) {
      if (const std::optional<Errc> r = page_free(p)) return *r;
      o = nullptr;  // the lanes' stacks are not used: a small core block goes back to the core
    }
    const Result<Chunk> c = core.live_chunk(p);
    if (!c) return c.error();
    if (has_lanes() && c->size <= LaneConfig::kMaxChunk) {
      if (const Errc e = refuse_cached(core, *c, bound); e != Errc::ok) return e;
      if (o != nullptr && !Tag{load_word(core_bytes(), c->base)}.below_free()) {
        const std::uint64_t cls = LaneConfig::class_of(c->size);
        if (o->template push<true>(c->user(), cls, c->size)) return Errc::ok;
        if (const Errc e = drain(core, *o, cls, LaneConfig::kClassCap / 2); e != Errc::ok) return e;
        if (o->template push<true>(c->user(), cls, c->size)) return Errc::ok;
      }
    }
    if (heaps_own(core, c->user())) return Errc::foreign_pointer;
    return core.deallocate_live(*c);
  }

  /// Under the lock, before any core operation on the live block at `p` (a free, a resize, an
  /// adoption): not_allocated when it sits in a lane, since to its user it is free. A block
  /// whose mark names a lane is looked for there: the lane is made still first, or reclaimed
  /// when its owner is gone. lock_timeout when a live owner stays inside an operation past
  /// `bound` (it was stopped there).
  Errc refuse_cached(Core& core, const void* p,
                     std::chrono::milliseconds bound = kDefaultLockWait) noexcept {
    if (!has_lanes()) return Errc::ok;
    if (const std::optional<Result<std::size_t>> usable = page_usable(p))
      return usable->error();  // a page's block: never cached, and live unless it says not
    const Result<Chunk> c = core.live_chunk(p);
    if (!c) return c.error();
    return refuse_cached(core, *c, bound);
  }
  /// The same, for a chunk live_chunk() has just proved live.
  Errc refuse_cached(Core& core, const Chunk& c, std::chrono::milliseconds bound) noexcept {
    if (!has_lanes()) return Errc::ok;
    if (heaps_own(core, c.user())) return Errc::foreign_pointer;
    if (has_pages() || c.size > LaneConfig::kMaxChunk) return Errc::ok;
    const std::uint64_t u = c.user(), x = load_word(core_bytes(), u + kWord) ^ secret_;
    if (x >= lanes_) return Errc::ok;
    if (!table_sane(core)) return Errc::corrupted;
    // A lane nobody works is drained first: then the block, if it was there, is free.
    if (owner_gone(lane_load(lanes()[x].owner)))
      if (const Errc e = reclaim(core, x, Reclaim::dead_only); e != Errc::ok) return e;
    bool cached = false;
    if (!read_still(x, bound, [&] {
          cached = view(x).holds(LaneConfig::class_of(c.size), u, core.heap_end());
        }))
      return Errc::lock_timeout;
    if (cached) return Errc::not_allocated;
    return core.live_chunk(core.address_of(u)).error();
  }

  /// Under the lock: whether the allocated chunk whose user pointer is `p` belongs to the lanes
  /// (their table, or a block one of them caches) rather than to a user: for walks of the chunks.
  bool in_lanes(Core& core, const void* p) noexcept {
    if (!has_lanes()) return false;
    if (heaps_own(core, core.offset_of(p))) return true;
    return refuse_cached(core, p) == Errc::not_allocated;
  }

  /// Whether user offset `u` is a block of the heap's own, no user's: the lane table, the page
  /// table or a page. Every call that names a block refuses these as foreign: freed, a page's
  /// chunk would go back to the core under the blocks still handed out from it.
  bool heaps_own(Core& core, std::uint64_t u) const noexcept {
    if (!has_lanes()) return false;
    if (u == table_) return true;
    if (!has_pages() || u % kGranule != 0 || u < core.heap_start() + kTagSize ||
        u >= core.heap_end())
      return false;
    return u == pages_.table || is_page(core, u);
  }

  /// Under the lock, when a request failed for want of memory: drains `mine` (the caller's lane,
  /// when it has one) and reclaims every lane with no live owner. Whether anything came back.
  bool drain_lanes(Core& core, LaneOwner* mine) noexcept {
    if (!has_lanes()) return false;
    if (has_pages()) return release_pages(core, mine);
    bool freed = false;
    if (mine != nullptr && lane_load(mine->lane->bytes) != 0) {
      for (std::uint64_t cls = 0; cls < LaneConfig::kClasses; ++cls)
        (void)drain(core, *mine, cls, LaneConfig::kClassCap);
      freed = true;
    }
    if (!table_sane(core)) return freed;
    for (std::uint64_t i = 0; i < lanes_; ++i) {
      const Lane& l = lanes()[i];
      if (!empty(l) && owner_gone(lane_load(l.owner)))
        freed |= reclaim(core, i, Reclaim::dead_only) == Errc::ok;
    }
    return freed;
  }

  /// Under the lock, by a process that knows it is the only one using the region (Talc::
  /// fresh_start): every lane's owner is gone, whatever its word says; each is drained and freed.
  /// This process's own lanes are left to the threads that hold them.
  Errc reset_lanes(Core& core) noexcept {
    if (!has_lanes()) return Errc::ok;
    if (!table_sane(core)) return Errc::corrupted;
    for (std::uint64_t i = 0; i < lane_count(); ++i)
      if (lane_load(lanes()[i].owner) != RegionLock::self())
        if (const Errc e = reclaim(core, i, Reclaim::any); e != Errc::ok) return e;
    return Errc::ok;
  }

  /// What the lanes hold, read lane by lane without stopping them: exact when they are still.
  struct Cached {
    std::uint64_t blocks = 0, bytes = 0, owned = 0;
  };
  Cached cached() const noexcept {
    Cached c;
    for (std::uint64_t i = 0; i < lane_count(); ++i) {
      const Lane& l = lanes()[i];
      if (has_pages()) {  // a lane's words are page lists then: what is cached is in pages
        c.owned += lane_load(l.owner) != 0;
        continue;
      }
      for (std::uint64_t cls = 0; cls < LaneConfig::kClasses; ++cls)
        c.blocks += lane_load(l.count[cls]);
      c.bytes += lane_load(l.bytes);
      c.owned += lane_load(l.owner) != 0;
    }
    return c;
  }
  /// The core's figures with the lanes taken out: the core counts cached blocks and the lane
  /// table as live; to a user the former are cached, the latter overhead. Every byte of the span
  /// stays in exactly one of live, free, cached and overhead.
  void subtract_lanes(HeapStats& s) const noexcept {
    if (has_pages()) return subtract_pages(s);
    const Cached c = cached();
    const std::uint64_t table = table_chunk();
    const std::uint64_t blocks = c.blocks + (table != 0 ? 1 : 0);
    const std::uint64_t usable =
        c.bytes - c.blocks * kTagSize + (table != 0 ? table - kTagSize : 0);
    s.live_allocations -= std::min(blocks, s.live_allocations);
    s.live_bytes -= std::min(usable, s.live_bytes);
    s.cached_blocks = c.blocks;
    s.cached_bytes = c.bytes;
    s.overhead_bytes = s.span_bytes - s.live_bytes - s.free_bytes - s.cached_bytes;
    s.lanes = lane_count();
    s.lanes_owned = c.owned;
    if (table != 0 && s.allocations != 0) --s.allocations;  // the table's, when the heap was built
  }
  void subtract_lanes(Census& census) const noexcept {
    if (has_pages()) {
      // The pages and the two tables are one live chunk each to the core; to a user the free
      // blocks in pages are cached, the rest overhead.
      const PageTable::Counts pc = pages_.counts(core_bytes(), meta().heap_end_unlocked());
      const std::uint64_t chunks = pc.pages + 2,
                          bytes = pc.chunk_bytes + table_chunk() + page_table_chunk();
      census.cached_chunks = pc.free;
      census.cached_bytes = pc.free_bytes;
      census.live_chunks -= std::min(census.live_chunks, chunks);
      census.live_chunks += pc.held;
      census.live_bytes -= std::min(census.live_bytes, bytes);
      census.live_bytes += pc.held_bytes + pc.held * kTagSize;
      return;
    }
    const Cached c = cached();
    const std::uint64_t table = table_chunk();
    census.cached_chunks = c.blocks;
    census.cached_bytes = c.bytes;
    census.live_chunks -= std::min(census.live_chunks, c.blocks + (table != 0 ? 1 : 0));
    census.live_bytes -= std::min(census.live_bytes, c.bytes + table);
  }

  /// The chunk bytes of the page table (0 without pages): overhead in the statistics.
  std::uint64_t page_table_chunk() const noexcept {
    return has_pages() ? Tag{load_word(core_bytes(), pages_.table - kTagSize)}.size() : 0;
  }

  /// The chunk bytes of the lane table (0 without lanes): overhead in the statistics.
  std::uint64_t table_chunk() const noexcept {
    return has_lanes() ? Tag{load_word(core_bytes(), table_ - kTagSize)}.size() : 0;
  }

  /// Proves N1-N4 of lane.hpp over every lane, after the core's check passed. `live`: other
  /// processes may be working the lanes (the caller holds the lock), so the lanes of dead owners
  /// are reclaimed first and the others made still while they are read, waiting at most `bound`
  /// for an owner inside an operation; a private copy of a region (the tool) passes false and
  /// nothing is written.
  CheckReport check_lanes(Core& core, bool live,
                          std::chrono::milliseconds bound = kDefaultLockWait) {
    if (!has_lanes()) return {};
    if (!table_sane(core))
      return CheckReport{Errc::corrupted, table_, "the lane table lies outside the heap"};
    const Result<Chunk> t = core.live_chunk(table());
    if (!t || t->end() < lane_offset(lanes_))
      return CheckReport{Errc::corrupted, table_, "the lane table is not a live block"};
    if (has_pages()) {
      if (const CheckReport r = pages_.check(core, lanes_, all_lists()); !r.ok()) return r;
    }
    if (!live) return walk_lanes(core);
    for (std::uint64_t i = 0; i < lanes_; ++i) {
      const std::uint64_t w = lane_load(lanes()[i].owner);
      if (w != 0 && owner_gone(w))
        if (const Errc e = reclaim(core, i, Reclaim::dead_only); e != Errc::ok)
          return CheckReport{e, lane_offset(i), "a dead owner's lane could not be drained"};
    }
    CheckReport rep;
    if (!read_still(kAllLanes, bound, [&] { rep = walk_lanes(core); }))
      return CheckReport{Errc::lock_timeout, 0, "a lane's owner stays inside an operation"};
    return rep;
  }

  /// For the process-local records (lane_local.hpp): gives lane `index` of the heap at `heap`
  /// back, drained when the lock can be had (a lane given back full is drained by its next
  /// owner).
  static void give_back(void* heap, std::uint64_t index) noexcept {
    auto* self = static_cast<LaneHeap*>(heap);
    Lane& l = self->lanes()[index];
    const LaneOwner o = self->view(index);
    (void)self->with_lock([&](Core& core) {
      for (std::uint64_t cls = 0; cls < LaneConfig::kClasses; ++cls)
        (void)self->drain(core, o, cls, LaneConfig::kClassCap);
      // Pages with blocks held stay on the lane: its next owner serves from them.
      if (self->has_pages() && self->pages_sane(core))
        (void)self->pages_.release_empty(core, self->lists(index), index, false);
    });
    lane_store(l.thread, std::uint64_t{0});
    lane_store(l.owner, std::uint64_t{0}, std::memory_order_release);
  }

 private:
  enum class Reclaim : std::uint8_t { dead_only, any, mine };

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
  /// The word index, from the table's start, of lane `o`'s head of class `cls`: the slot that
  /// allocate_run and deallocate_linked rewrite.
  std::size_t word_of(const LaneOwner& o, std::uint64_t cls) const noexcept {
    return static_cast<std::size_t>(
        (reinterpret_cast<std::byte*>(&o.lane->head[cls]) - core_bytes() - table_) / kWord);
  }
  /// Whether record `h` is this thread's lane in this heap, taken in this process.
  [[gnu::always_inline]] bool here(const lanes_local::Held& h) const noexcept {
    return h.key == this && h.stamp == lanes_local::stamp() && h.owner.lane != nullptr;
  }
  LaneOwner view(std::uint64_t i) const noexcept {
    return LaneOwner{&lanes()[i], core_bytes(), secret_ ^ i, bound_, meta().heap_start(), i};
  }
  bool empty(const Lane& l) const noexcept {
    if (has_pages()) return true;  // its words are page lists, which stay with the lane
    for (std::uint64_t cls = 0; cls < LaneConfig::kClasses; ++cls)
      if (lane_load(l.head[cls]) != kNull) return false;
    return true;
  }
  /// Whether an owner word names nobody who may still work the lane: free, or a dead process.
  static bool owner_gone(std::uint64_t w) noexcept {
    return w == 0 || w == RegionLock::kAbandoned || RegionLock::holder_dead(w);
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
    if (!has_pages() || value == kNull || value < bias || value - bias >= core.heap_end())
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
  /// Lane i's page lists: in a heap with pages its `head` words hold the first page of each
  /// class, its `count` words the current one (page_table.hpp).
  PageLists lists(std::uint64_t i) const noexcept {
    return PageLists{lanes()[i].head, lanes()[i].count};
  }
  /// Lane `o`'s lists, with its owner's caches: for the owner's own hand-outs.
  static PageLists owner_lists(const LaneOwner& o) noexcept {
    return PageLists{o.lane->head, o.lane->count, o.front};
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

  /// Under the lock, when a request found no memory: gives back the pages without a held block
  /// of `mine` (the caller's lane) and of every lane nobody owns, each taken over for the while
  /// as reclaim() takes a lane. Whether any page went back.
  bool release_pages(Core& core, const LaneOwner* mine) noexcept {
    if (!pages_sane(core)) return false;
    std::uint64_t n = 0;
    if (mine != nullptr) n += pages_.release_empty(core, lists(mine->index), mine->index, false);
    for (std::uint64_t i = 0; i < lanes_; ++i) {
      Lane& l = lanes()[i];
      if (const std::uint64_t w = lane_load(l.owner); w != 0 && owner_gone(w))
        (void)reclaim(core, i, Reclaim::dead_only);  // now free, unless it is damaged
      std::uint64_t w = 0;
      if (!std::atomic_ref<std::uint64_t>(l.owner).compare_exchange_strong(
              w, RegionLock::self(), std::memory_order_acq_rel))
        continue;
      n += pages_.release_empty(core, lists(i), i, false);
      lane_store(l.owner, std::uint64_t{0}, std::memory_order_release);
    }
    return n != 0;
  }

  /// HeapStats with the pages taken out (subtract_lanes): the core counts each page, and the two
  /// tables, as one live block; to a user a page's held blocks are live, its free blocks cached
  /// (including those given back and not yet collected), the rest overhead.
  void subtract_pages(HeapStats& s) const noexcept {
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
    s.lanes_owned = cached().owned;
    if (s.allocations >= 2) s.allocations -= 2;  // the tables', made with the heap
  }

  void build_table() noexcept {
    Core& core = meta();
    std::uint64_t n = core.capacity() / 64 / sizeof(Lane);
    if (n == 0) return;
    if (n > LaneConfig::kMaxLanes) n = LaneConfig::kMaxLanes;
    // At least one class's largest block, so the table itself is never taken for a small one.
    std::uint64_t bytes = n * sizeof(Lane) + 64 - kGranule;
    if (bytes < LaneConfig::kMaxChunk) bytes = LaneConfig::kMaxChunk;
    const Result<void*> r = core.allocate(bytes);
    if (!r) return;
    std::memset(*r, 0, bytes);
    Lane* l = reinterpret_cast<Lane*>(
        static_cast<std::byte*>(core.address_of(lanes_at(core.offset_of(*r)))));
    for (std::uint64_t i = 0; i < n; ++i) {
      ::new (&l[i]) Lane{};
      for (std::uint64_t cls = 0; cls < LaneConfig::kClasses; ++cls) l[i].head[cls] = kNull;
    }
    lanes_ = n;
    bound_ = std::min<std::uint64_t>(LaneConfig::kMaxBytes, core.capacity() / 8 / n);
    if (bound_ < LaneConfig::kMaxChunk) bound_ = LaneConfig::kMaxChunk;
    // Marks only need to differ from what users' bytes usually hold; nothing rests on secrecy.
    secret_ = fingerprint_of(
        {reinterpret_cast<std::uintptr_t>(this), RegionLock::self(),
         static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())});
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

  /// Tries to make lane i the calling thread's: a free one by one compare-and-swap (drained under
  /// the lock if a previous owner left blocks in it), or, with `dead_ok`, one whose owner died,
  /// by reclaiming it. Free lanes are tried first: telling a dead owner costs a look at /proc.
  /// A process without an identity (RegionLock::has_identity) owns no lane: the word it would
  /// write could outlive it as a live-looking owner once its pid is reused.
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
    if (w == 0 && empty(l) && lane_load(l.bytes) == 0 && lane_load(l.seq) % 2 == 0) return true;
    Errc r = Errc::ok;
    const Errc e = with_lock([&](Core& core) { r = reclaim(core, i, Reclaim::mine); });
    if (e == Errc::ok && r == Errc::ok) return true;
    lane_store(l.owner, std::uint64_t{0}, std::memory_order_release);
    return false;
  }

  /// Under the lock: drains lane i into the heap and leaves it still and free, or, for
  /// Reclaim::mine (the caller took it), still and the caller's. dead_only leaves a lane whose
  /// owner turns out to be alive, and takes the lane over with a compare-and-swap first, so a
  /// process claiming it at the same moment is not robbed; `any` trusts the caller that nobody
  /// else uses the region.
  Errc reclaim(Core& core, std::uint64_t i, Reclaim how) noexcept {
    Lane& l = lanes()[i];
    if (how == Reclaim::dead_only) {
      std::uint64_t w = lane_load(l.owner);
      if (!owner_gone(w)) return Errc::ok;
      if (!std::atomic_ref<std::uint64_t>(l.owner).compare_exchange_strong(
              w, RegionLock::self(), std::memory_order_acq_rel))
        return Errc::ok;
    }
    const LaneOwner o = view(i);
    // A lane's pages stay on its lists (page_table.hpp): only stacks are drained.
    for (std::uint64_t cls = 0; cls < LaneConfig::kClasses && !has_pages(); ++cls) {
      // The counts may be off by the operation a dead owner left: the stack decides.
      Errc e = drain(core, o, cls, LaneConfig::kClassCap + 1);
      if (e == Errc::ok && lane_load(l.head[cls]) != kNull) e = Errc::corrupted;  // too long
      if (e != Errc::ok) {
        if (how == Reclaim::dead_only) lane_store(l.owner, std::uint64_t{0});  // not ours to keep
        return e;
      }
      lane_store(l.count[cls], std::uint32_t{0});
    }
    lane_store(l.bytes, std::uint64_t{0});
    if (lane_load(l.seq) % 2 != 0) lane_store(l.seq, lane_load(l.seq) + 1);
    lane_store(l.pause, std::uint64_t{0});
    if (how != Reclaim::mine) {
      lane_store(l.thread, std::uint64_t{0});
      lane_store(l.owner, std::uint64_t{0}, std::memory_order_release);
    }
    return Errc::ok;
  }

  /// Under the lock: frees up to `n` blocks of stack `cls` of `o` into the heap, one atomic
  /// operation each. Stops at an empty stack; a block the heap refuses is damage.
  Errc drain(Core& core, const LaneOwner& o, std::uint64_t cls, std::uint32_t n) noexcept {
    if (has_pages()) return Errc::ok;  // no stacks
    Lane& l = *o.lane;
    for (std::uint32_t k = 0; k < n; ++k) {
      const std::uint64_t u = lane_load(l.head[cls]);
      if (u == kNull) break;
      if (u >= core.heap_end()) return Errc::corrupted;
      // A head that is not a block of this class is damage: freeing it could free a user's.
      const std::uint64_t chunk = LaneConfig::chunk_of(cls);
      const Result<Chunk> c = core.live_chunk(core.address_of(u));
      if (!c || c->size != chunk) return Errc::corrupted;
      if (core.deallocate_linked(table(), word_of(o, cls)) != Errc::ok) return Errc::corrupted;
      const std::uint32_t count = lane_load(l.count[cls]);
      lane_store(l.count[cls], count == 0 ? 0 : count - 1);
      const std::uint64_t bytes = lane_load(l.bytes);
      lane_store(l.bytes, bytes < chunk ? 0 : bytes - chunk);
    }
    return Errc::ok;
  }

  static constexpr std::uint64_t kAllLanes = ~std::uint64_t{0};

  /// Under the lock: runs `read` over lane `which` (or every lane) as a sequence lock is read
  /// (lane.hpp): with each owner outside an operation before, and the same `seq` after, else
  /// again. The lanes are paused meanwhile and let go on every way out. False when a live owner
  /// stays inside an operation past `bound` (it was stopped there); `read` has then not run to a
  /// still result.
  template <class Read>
  bool read_still(std::uint64_t which, std::chrono::milliseconds bound, Read&& read) noexcept {
    const std::uint64_t from = which == kAllLanes ? 0 : which;
    const std::uint64_t to = which == kAllLanes ? lanes_ : which + 1;
    struct Thaw {
      LaneHeap* h;
      std::uint64_t from, to;
      ~Thaw() {
        for (std::uint64_t i = from; i < to; ++i) lane_store(h->lanes()[i].pause, std::uint64_t{0});
      }
    } thaw{this, from, to};
    for (std::uint64_t i = from; i < to; ++i) lane_store(lanes()[i].pause, std::uint64_t{1});
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const auto deadline = std::chrono::steady_clock::now() + bound;
    std::uint64_t seqs[LaneConfig::kMaxLanes];
    for (int spins = 0;; ++spins) {
      bool even = true;
      for (std::uint64_t i = from; i < to && even; ++i) {
        seqs[i] = lane_load(lanes()[i].seq, std::memory_order_acquire);
        // A dead owner's odd `seq` never moves again: its lane is as still as it gets.
        even = seqs[i] % 2 == 0 || owner_gone(lane_load(lanes()[i].owner));
      }
      if (even) {
        read();
        std::atomic_thread_fence(std::memory_order_acquire);
        bool still = true;
        for (std::uint64_t i = from; i < to && still; ++i)
          still = lane_load(lanes()[i].seq, std::memory_order_relaxed) == seqs[i];
        if (still) return true;
      }
      if (spins < 1000) continue;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
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

  /// N1-N4 over lanes that stand still.
  CheckReport walk_lanes(Core& core) {
    std::vector<std::uint64_t> seen;
    for (std::uint64_t i = 0; i < lanes_; ++i) {
      const Lane& l = lanes()[i];
      const std::uint64_t owner = lane_load(l.owner);
      if ((owner & RegionLock::kWaiters) != 0 || !RegionLock::plausible(owner))
        return CheckReport{Errc::corrupted, lane_offset(i), "a lane's owner word names nobody",
                           owner};
      // A lane whose owner died keeps the counts of the operation it died in until it is
      // reclaimed (a copy the tool reads never is): only its stacks are proved then.
      const bool odd = lane_load(l.seq) % 2 != 0;
      const bool settled = !odd && (owner == 0 || !owner_gone(owner));
      if (has_pages()) continue;  // its words are page lists, which the page table's check proves
      std::uint64_t bytes = 0;
      for (std::uint64_t cls = 0; cls < LaneConfig::kClasses; ++cls) {
        const std::uint64_t chunk = LaneConfig::chunk_of(cls);
        std::uint64_t n = 0;
        for (std::uint64_t u = lane_load(l.head[cls]); u != kNull; u = load_word(core_bytes(), u)) {
          if (n == LaneConfig::kClassCap)
            return CheckReport{Errc::corrupted, lane_offset(i), "a lane's stack does not end", cls};
          if (u >= core.heap_end())
            return CheckReport{Errc::corrupted, lane_offset(i), "a lane names a block outside", u};
          const Result<Chunk> c = core.live_chunk(core.address_of(u));
          if (!c || c->size != chunk)
            return CheckReport{Errc::corrupted, u,
                               "a cached block is no allocated chunk of its class", cls};
          if (load_word(core_bytes(), u + kWord) != (secret_ ^ i))
            return CheckReport{Errc::corrupted, u, "a cached block lacks its lane's mark", i};
          seen.push_back(u);
          bytes += chunk;
          ++n;
        }
        if (settled && n != lane_load(l.count[cls]))
          return CheckReport{Errc::corrupted, lane_offset(i), "a lane miscounts a class", cls};
      }
      if (settled && bytes != lane_load(l.bytes))
        return CheckReport{Errc::corrupted, lane_offset(i), "a lane miscounts its bytes", bytes};
      if (bytes > bound_)
        return CheckReport{Errc::corrupted, lane_offset(i), "a lane holds more than its bound",
                           bytes};
    }
    std::sort(seen.begin(), seen.end());
    const auto twice = std::adjacent_find(seen.begin(), seen.end());
    if (twice != seen.end()) return CheckReport{Errc::corrupted, *twice, "a block is cached twice"};
    return {};
  }

  std::uint64_t table_ = kNull;  // user offset of the lane table from the core heap's base
  std::uint64_t lanes_ = 0;
  std::uint64_t secret_ = 0;  // a lane's mark is this XOR its index
  std::uint64_t bound_ = 0;   // chunk bytes a lane may hold
  PageTable pages_;           // the heap's pages, when it has them
};

static_assert(sizeof(LaneHeap<>) <= LaneHeap<>::kSyncOffset);

}  // namespace talc
