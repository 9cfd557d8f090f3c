// Layer 8 — the face: the shared heap as users call it. Start here.
//
// `Talc` is this process's view of a heap in a mapped region: allocate and deallocate (raw,
// or typed with construct / destroy), turn a handle from another process into a local one
// (`adopt`), check the heap, publish a root. `MapTalc` (face/map_talc.hpp) is a Talc that also
// owns its mapping: open it on a shared memory name, a file, a descriptor or anonymous memory
// and it is ready.
//
// The allocate path, top-down:
//  1. try_allocate, below. A small request takes a block from the thread's cache of its lane's
//     current page of the class (LaneHeap::ready_front in lanes/lane_heap.hpp; PageFront,
//     pages/page.hpp): two stores in the region, no lock.
//  2. Everything else is allocate_slow (face/talc_slow.hpp), out of line so that the fast path
//     stays small: the thread's first claim of a lane, then the lane's pages
//     (LaneHeap::lane_allocate, PageTable::allocate_from_pages), still without the lock. When
//     the lane's pages have nothing, or the request is large or aligned beyond a page,
//     growing() takes the heap's lock (locked(), over TalckMeta::with_lock in sync/) and
//     runs the core request: a new page for the lane, or TalcMeta::allocate
//     (core/talc_meta_alloc.hpp: plan, carve, commit, every metadata write journalled).
//  3. When the core finds no room, the pages that hold no block go back to the heap and the
//     request is retried; then the region grows (region/growth.hpp); then the out-of-memory
//     handler is asked, outside the lock.
// deallocate follows the same road back: a page's block to its page (LaneHeap::page_free), from
// any thread; else free_locked(), LaneHeap::free_locked and TalcMeta::deallocate_live
// (core/talc_meta_free.hpp).
//
// A region may be created with a maximum size larger than its first one: every process maps
// (reserves) the maximum, and when a request does not fit, the process making it grows the
// region's source under the heap's lock and the heap takes the new bytes in. No base moves, no
// pointer changes, and other processes use the new space with nothing to do. At the maximum,
// requests fail cleanly, after the out-of-memory handler (when one is set) had its say.
//
// Offsets in a Meta are from the region's base, so they mean the same block in every process.
// Alignments up to the region's base alignment (kRegionAlign, 2 MiB, for mapped regions) hold
// in every process. The non-throwing calls return Errc; the throwing ones raise std::bad_alloc
// for out-of-memory and OpenError (a std::system_error) for everything else.
#pragma once

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>

#include "talc/core/errors.hpp"
#include "talc/face/meta.hpp"
#include "talc/lanes/lane_heap.hpp"
#include "talc/lanes/lane_local.hpp"
#include "talc/region/boot.hpp"
#include "talc/region/growth.hpp"
#include "talc/region/header.hpp"
#include "talc/region/mapping.hpp"

namespace talc {

struct OpenOptions {
  ClaimOptions claim{};
  /// For a process that builds the heap: the size its region may grow to (0: it never grows).
  std::size_t max_size = 0;
  /// How long an opener waits for another process that is still building the heap, or
  /// re-initialising its locks.
  std::chrono::milliseconds wait{2000};
  /// How long a call waits for a live process that holds the heap's lock (or the named
  /// directory's) before it fails with Errc::lock_timeout. A dead holder is never waited for.
  std::chrono::milliseconds lock_wait = kDefaultLockWait;
  /// For a process that creates the region: its permission bits (MapLayout::mode), e.g. 0660
  /// for a service and its clients that run as two users of one group.
  unsigned mode = 0600;
  /// For a process that builds the heap: whether small blocks go through lanes
  /// (lanes/lane_heap.hpp), each thread's share of pages (pages/page_table.hpp) that it hands
  /// blocks out from without a lock, and that any thread, of any process, gives a block back to
  /// without the heap's lock. Without them every request takes the lock. The heap records the
  /// choice, and every process that opens it follows the heap.
  bool lanes = true;
};

/// A refusal to open a heap, or an operation on a heap marked corrupted. code() is an Errc.
class OpenError : public std::system_error {
 public:
  OpenError(Errc e, const std::string& detail) : std::system_error(make_error_code(e), detail) {}
};

template <class Bins = DefaultBinConfig>
class NamedDirectory;  // named/directory.hpp: the layer above, which talc.hpp includes
template <class Bins>
class MapTalc;

template <class Bins = DefaultBinConfig>
class Talc {
 public:
  using Heap = LaneHeap<Bins>;
  using HeaderType = Header<Heap>;

  static constexpr std::size_t min_region_size() noexcept { return HeaderType::min_region_size(); }

  /// The heap in [base, base + len); base must be 64-aligned. `reach` is how many bytes this
  /// process maps at base (at least len): a heap that may grow past it is refused
  /// (region_truncated), since this process could not follow it there. Throws OpenError.
  static Talc open(void* base, std::size_t len, OpenRole role, OpenOptions opts = {},
                   std::size_t reach = 0) {
    Talc t = open_header(base, len, role, opts);
    t.set_reach(reach > len ? reach : len);
    t.follow_boot(opts.wait);
    return t;
  }

  [[gnu::always_inline]] Result<Meta> try_allocate(std::size_t size,
                                                   std::size_t align = kGranule) noexcept {
    // The fast path: a block from the thread's cache of its lane's current page of the class.
    // Everything else (the lane's other pages, its first claim, the lock) is out of line
    // (talc_slow.hpp), so that this needs no stack frame of its own. A larger alignment takes
    // the block of a class whose blocks all have it, when one does (LaneHeap::aligned_request);
    // what is no power of two (0 included) is refused there too, by align_error.
    std::size_t request = size;
    if (align - 1 >= kGranule || (align & (align - 1)) != 0) [[unlikely]]
      request = align_error(align) == Errc::ok ? heap().aligned_request(size, align)
                                               : PageConfig::kMaxRequest + 1;
    if (request <= PageConfig::kMaxRequest) [[likely]]
      if (PageFront* f = heap().ready_front(request)) [[likely]]
        return Meta{base_, meta_offset() + heap().take_front(*f), size};
    return allocate_slow(size, align);
  }

  /// try_allocate, with the block's `size` bytes zeroed.
  Result<Meta> try_allocate_zeroed(std::size_t size, std::size_t align = kGranule) noexcept {
    const Result<Meta> r = try_allocate(size, align);
    if (r) std::memset(r->ptr(), 0, size);
    return r;
  }

  /// The block resized to `size` bytes, its first min(old, size) bytes kept: in place when the
  /// heap can, moved otherwise, in one operation under one acquisition of the lock. On a refusal
  /// `m` is untouched and still the caller's.
  Result<Meta> try_reallocate(const Meta& m, std::size_t size,
                              std::size_t align = kGranule) noexcept {
    if (const Errc e = own(m); e != Errc::ok) return e;
    if (const Errc e = request_error(size, align); e != Errc::ok) return e;
    if (const std::optional<Result<std::size_t>> usable = heap().page_usable(m.ptr()))
      return reallocate_page(m, *usable, size, align);
    void* p = m.ptr();
    const Result<void*> r = growing(size, align, [&](auto& core) -> Result<void*> {
      if (const Errc e = heap().refuse_cached(core, p); e != Errc::ok) return e;
      return core.reallocate(p, size, align);
    });
    if (!r) return r.error();
    return Meta{base_, offset_of(*r), size};
  }
  /// Throws std::bad_alloc when there is no room, OpenError for any other refusal.
  Meta reallocate(const Meta& m, std::size_t size, std::size_t align = kGranule) {
    const Result<Meta> r = try_reallocate(m, size, align);
    if (!r) raise(r.error());
    return *r;
  }
  /// In place only, never moving; on success m.size becomes `size`. try_grow refuses with
  /// out_of_memory when the chunk above cannot give the bytes (it never grows the region: a
  /// caller that may move should reallocate). try_shrink gives back what a chunk can hold.
  Errc try_grow(Meta& m, std::size_t size) noexcept {
    if (const Errc e = own(m); e != Errc::ok) return e;
    if (const Errc e = request_error(size, kGranule); e != Errc::ok) return e;
    return resize_in_place(m, size,
                           [](auto& core, void* p, std::size_t n) { return core.try_grow(p, n); });
  }
  Errc try_shrink(Meta& m, std::size_t size) noexcept {
    if (size > m.size) return Errc::ok;
    return resize_in_place(
        m, size, [](auto& core, void* p, std::size_t n) { return core.try_shrink(p, n); });
  }

  /// Called, in this process and outside the lock, when a request of `size` bytes failed for want
  /// of memory even after growing the region to its maximum. Returning true retries the request
  /// (after the handler freed something, say); false lets it fail. Like std::new_handler.
  void on_out_of_memory(std::function<bool(std::size_t)> handler) {
    on_out_of_memory_ = std::move(handler);
  }

  /// Throws std::bad_alloc when no chunk is large enough, OpenError for any other refusal.
  Meta allocate(std::size_t size, std::size_t align = kGranule) {
    const Result<Meta> r = try_allocate(size, align);
    if (!r) raise(r.error());
    return *r;
  }

  Errc deallocate(const Meta& m) noexcept {
    if (const Errc e = own(m); e != Errc::ok) return e;
    // A block asked for larger than any page's is never one: straight to the lock. (A handle
    // whose size lies only misses the page; the checks under the lock are the same.)
    if (m.size > PageConfig::kMaxRequest) return free_locked(base_ + m.offset);
    // The handle's offset is the block's, less the core heap's place in the region (an offset
    // below it wraps to one past the heap, which no page holds).
    if (const Errc r = heap().page_free_at(m.offset - meta_offset()); r != PageTable::kNotPage)
        [[likely]]
      return r;
    return free_locked(base_ + m.offset);
  }
  Errc deallocate(void* p) noexcept {
    // A page's block goes back to its page from any thread, without a lane or the lock.
    if (const Errc r = heap().page_free(p); r != PageTable::kNotPage) [[likely]]
      return r;
    return free_locked(p);
  }

  /// Allocation published atomically: word `word` of the live block `owner` receives the new
  /// block's offset in the same operation, so a process killed at any instant leaves either no
  /// block and the word unchanged, or the block and the word naming it. Nothing leaks. The word
  /// must hold the null offset (Rel's kNull, what deallocate_from leaves): any other value is
  /// refused with slot_occupied, nothing written. Grows the region like try_allocate.
  Result<Meta> try_allocate_into(const Meta& owner, std::size_t word, std::size_t size,
                                 std::size_t align = kGranule) noexcept {
    if (owner.base != base_) return Errc::foreign_pointer;
    if (const Errc e = align_error(align); e != Errc::ok) return e;
    const Result<void*> r = growing(size, align, [&](auto& core) -> Result<void*> {
      if (const Errc e = heap().refuse_cached(core, owner.ptr()); e != Errc::ok) return e;
      return heap().allocate_into(core, owner.ptr(), word, size, align, meta_offset());
    });
    if (!r) return r.error();
    return Meta{base_, offset_of(*r), size};
  }
  /// Frees the block that word `word` of `owner` names and nulls the word, atomically.
  Errc deallocate_from(const Meta& owner, std::size_t word) noexcept {
    if (owner.base != base_) return Errc::foreign_pointer;
    Errc r = Errc::corrupted;
    const Errc e = locked([&](auto& core) {
      r = named_cached(core, owner, word);
      if (r == Errc::ok)
        r = record_damage(heap().deallocate_from(core, owner.ptr(), word, meta_offset()));
    });
    return e != Errc::ok ? e : r;
  }

  /// Reallocation published atomically: the block word `word` of `owner` names is resized (in
  /// place or moved, see try_reallocate) and, when it moves, the word is rewritten in the same
  /// operation, so a death at any instant leaves the word naming the one live block.
  Result<Meta> try_reallocate_from(const Meta& owner, std::size_t word, std::size_t size,
                                   std::size_t align = kGranule) noexcept {
    if (owner.base != base_) return Errc::foreign_pointer;
    if (const Errc e = request_error(size, align); e != Errc::ok) return e;
    const Result<void*> r = growing(size, align, [&](auto& core) -> Result<void*> {
      if (const Errc e = named_cached(core, owner, word); e != Errc::ok) return e;
      return heap().reallocate_from(core, owner.ptr(), word, size, align, meta_offset());
    });
    if (!r) return r.error();
    return Meta{base_, offset_of(*r), size};
  }

  /// A T built in the heap with `args`; the block is returned if the constructor throws.
  template <class T, class... Args>
  T* construct(Args&&... args) {
    const Meta m = allocate(sizeof(T), alignof(T));
    try {
      return ::new (m.ptr()) T(std::forward<Args>(args)...);
    } catch (...) {
      deallocate(m);
      throw;
    }
  }
  template <class T>
  Errc destroy(T* p) noexcept {
    if (p == nullptr) return Errc::null_pointer;
    const Result<std::size_t> usable = usable_size(p);  // refuse before running a destructor
    if (!usable) return usable.error();
    p->~T();
    return deallocate(p);
  }

  /// This process's handle for a block another process sent: refused unless it names the start
  /// of a live block at least `r.size()` bytes long.
  Result<Meta> adopt(RelMeta r) noexcept {
    if (r.is_null()) return Errc::null_pointer;
    const std::uint64_t off = r.start().offset();
    if (off >= size_) return Errc::foreign_pointer;
    const Result<std::size_t> usable = usable_size(base_ + off);
    if (!usable) return usable.error();
    if (*usable < r.size()) return Errc::foreign_pointer;
    return Meta{base_, off, r.size()};
  }

  Result<std::size_t> usable_size(const void* p) noexcept {
    if (const std::optional<Result<std::size_t>> usable = heap().page_usable(p)) return *usable;
    Result<std::size_t> r = Errc::corrupted;
    const Errc e = locked([&](auto& core) {
      r = core.usable_size(p);
      if (r)
        if (const Errc c = heap().refuse_cached(core, p); c != Errc::ok) r = c;
    });
    return e != Errc::ok ? Result<std::size_t>(e) : r;
  }

  /// The full integrity check, under the lock.
  CheckReport check() {
    CheckReport rep;
    const Errc e = locked([&](auto& core) {
      try {
        rep = core.check();
        if (rep.ok()) rep = heap().check_lanes(core, true);
      } catch (const std::bad_alloc&) {
        rep = CheckReport{Errc::out_of_memory, 0, "not enough process memory to check"};
      }
    });
    if (e != Errc::ok)
      rep = CheckReport{e, e == Errc::lock_damaged ? meta_lock_offset() : 0, describe(e)};
    return rep;
  }
  Census census() {
    Census c;
    locked([&](auto& core) {
      c = core.census();
      heap().subtract_lanes(c);
    });
    return c;
  }
  /// Gives back to the heap the pages that hold no block, of the calling thread's lane and of
  /// lanes whose owners are gone, as a request that finds no memory does: for a thread that is
  /// done with small blocks for a while, or before looking at how free space lies (census()).
  Errc trim() noexcept {
    LaneOwner* o = heap().held_lane();
    return locked([&](auto& core) { (void)heap().release_pages(core, o); });
  }

  /// The heap's figures (HeapStats), read under the lock at the cost of a few words and the
  /// largest bin's list: cheap enough for a monitoring loop. try_stats says why when the lock
  /// could not be had; stats() then gives zeros.
  Result<HeapStats> try_stats() noexcept {
    HeapStats s;
    const Errc e = locked([&](auto& core) {
      s = core.stats();
      heap().subtract_lanes(s);
    });
    if (e != Errc::ok) return e;
    s.recoveries = recoveries();
    s.rollbacks = rollbacks();
    return s;
  }
  HeapStats stats() noexcept { return try_stats().value(); }
  /// The size the region may grow to, and the size it has now.
  std::uint64_t max_size() const noexcept { return header_->max_size(); }
  std::uint64_t current_size() noexcept {
    std::uint64_t n = 0;
    locked([&](auto& core) { n = meta_offset() + core.span(); });
    return n;
  }

  /// Runs f(TalcMeta&) under the heap's lock, with the same recovery and reporting as every
  /// operation: for reading several things in one consistent state. `f` must not throw.
  template <class F>
  Errc with_lock(F&& f) noexcept {
    return locked(std::forward<F>(f));
  }

  /// Called, in this process, after an operation of this process took the lock from a dead
  /// holder and repaired the heap. The counters in the region tell every process.
  void on_recovery(std::function<void()> handler) { on_recovery_ = std::move(handler); }

  std::uint64_t offset_of(const void* p) const noexcept {
    return static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - base_);
  }
  void* address_of(std::uint64_t off) const noexcept { return off < size_ ? base_ + off : nullptr; }

  /// One offset published for every process that opens the heap (a queue, a directory).
  std::uint64_t root() const noexcept { return header_->root(); }
  void set_root(std::uint64_t off) noexcept { header_->set_root(off); }
  bool exchange_root(std::uint64_t expected, std::uint64_t off) noexcept {
    return header_->exchange_root(expected, off);
  }

  /// Objects found by name in every process that opens the heap (named/directory.hpp has the
  /// details). Each returns Errc::not_found, type_mismatch, size_mismatch, empty_name,
  /// name_too_long...
  template <class T, class... Args>
  Result<T*> find_or_construct(std::string_view name, Args&&... args) {
    return names().template find_or_construct<T>(name, std::forward<Args>(args)...);
  }
  template <class T>
  Result<T*> find(std::string_view name) {
    return names().template find<T>(name);
  }
  template <class T>
  Errc destroy(std::string_view name) {
    return names().template destroy<T>(name);
  }
  /// Named blocks of raw bytes, for programs that share no C++ type with this one (the C API,
  /// the Python package): found or made `size` bytes long, zeroed by their maker; found whatever
  /// their size; freed with their name.
  Result<Meta> find_or_allocate_named(std::string_view name, std::size_t size,
                                      std::size_t align = kGranule) {
    return names().find_or_allocate_bytes(name, size, align);
  }
  Result<Meta> find_named(std::string_view name) { return names().find_bytes(name); }
  Errc destroy_named(std::string_view name) { return names().destroy_bytes(name); }
  auto named_objects() { return names().list(); }
  auto names() noexcept { return NamedDirectory<Bins>(*this); }

  /// How many times a process took the lock from a dead holder and found the heap consistent,
  /// and how many of those rolled back a half-done operation.
  std::uint64_t recoveries() const noexcept { return header_->body().recoveries(); }
  std::uint64_t rollbacks() const noexcept { return header_->body().rollbacks(); }
  bool corrupted() const noexcept {
    return header_->state() == InitState::corrupted || header_->body().corrupted();
  }

  /// Run under the lock after an operation answered `e`: when the heap's bytes were found
  /// damaged, from now on every process is refused, and every opener too. For the in-region
  /// Allocator as for Talc's own calls.
  static void mark_if_corrupted(HeaderType& h, Errc e) noexcept {
    if (e != Errc::corrupted) return;
    h.body().mark_corrupted();
    h.mark_corrupted();
  }

  /// The bound on waiting for a live holder of the heap's lock (OpenOptions::lock_wait).
  std::chrono::milliseconds lock_wait() const noexcept { return lock_wait_; }

  /// Re-initialises the region's locks, for a process that knows no other one uses the region
  /// (it is the first to open it since the machine booted, or the only one that has it open):
  /// whatever a lock word holds then (a holder of a previous boot, a copy's holder, damage) is
  /// not a live holder. Each held or damaged lock is left abandoned, the heap's is taken at once
  /// (rolling back and checking what its holder left), and the directory's on its next use.
  Errc fresh_start() {
    heap().lock().abandon();
    Errc lanes = Errc::ok;
    const Errc e = locked([&](auto& core) { lanes = record_damage(heap().reset_lanes(core)); });
    if (e != Errc::ok) return e;
    if (lanes != Errc::ok) return lanes;
    return names().fresh_start();
  }

  /// Makes sure the region's locks belong to this boot of the machine (region/boot.hpp): when
  /// they do not, one opener re-initialises them (fresh_start) while the others wait, at most
  /// `wait`, then fail with init_timeout.
  void follow_boot(std::chrono::milliseconds wait) {
    if (talc::follow_boot(*header_, wait, [this] { return fresh_start(); }) != Errc::ok)
      throw OpenError(Errc::init_timeout, "another process is re-initialising the heap's locks");
  }

  /// Whether this open built the heap (exactly one opener of a region does).
  bool built() const noexcept { return built_; }
  std::byte* base() const noexcept { return base_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t max_align() const noexcept { return max_align_; }
  Heap& heap() noexcept { return header_->body(); }
  HeaderType& header() noexcept { return *header_; }

 protected:
  template <class>
  friend class MapTalc;  // opens the header, then sets the reach of the mapping it made

  Talc(std::byte* base, std::size_t size, HeaderType* h, bool built)
      : base_(base),
        size_(size),
        header_(h),
        max_align_(alignment_of(base)),
        built_(built),
        open_heap_(&h->body(), &Heap::give_back) {}

  /// Gives back the lanes this process's threads hold here, when this is the last Talc on this
  /// mapping: before the mapping goes (MapTalc).
  void close_lanes() noexcept { open_heap_.reset(); }

  static Talc open_header(void* base, std::size_t len, OpenRole role, const OpenOptions& opts) {
    HeaderRequest request{.base = base,
                          .len = len,
                          .role = role,
                          .claim = opts.claim,
                          .wait = opts.wait,
                          .max_size = opts.max_size};
    request.claim.lanes = opts.lanes && opts.claim.lanes;
    const HeaderOpened<HeaderType> h = HeaderType::open(request);
    if (!h) throw OpenError(h.error, h.why.empty() ? describe(h.error) : h.why);
    const std::uint64_t ns = h.header->namespace_record(), mine = namespace_id();
    if (ns != 0 && mine != 0 && ns != mine)
      throw OpenError(Errc::namespace_mismatch,
                      "the heap was built in another PID or time namespace: its lock words would "
                      "name other processes here");
    Talc t(static_cast<std::byte*>(base), len, h.header, h.built);
    t.lock_wait_ = opts.lock_wait;
    return t;
  }

  /// How many bytes of address space this process maps for the region (its reach): every
  /// operation stays inside it, and it must cover the most the heap may grow to.
  void set_reach(std::size_t mapped) {
    if (header_->max_size() > mapped)
      throw OpenError(Errc::region_truncated, "this process maps " + std::to_string(mapped) +
                                                  " bytes of a heap that may grow to " +
                                                  std::to_string(header_->max_size()) +
                                                  ": map that much");
    size_ = mapped;
  }

 private:
  static std::size_t alignment_of(const std::byte* base) noexcept {
    const auto a = reinterpret_cast<std::uintptr_t>(base);
    const std::size_t natural = a == 0 ? kRegionAlign : std::size_t{1} << std::countr_zero(a);
    return natural < kRegionAlign ? natural : kRegionAlign;
  }

  /// Alignments are checked against this mapping's base too: one above it could not hold in
  /// every process.
  Errc align_error(std::size_t align) const noexcept {
    if (!is_power_of_two(align)) return Errc::bad_alignment;
    return align > max_align_ ? Errc::alignment_too_large : Errc::ok;
  }
  /// align_error, then a size no block can have: the core's checks, in its order, made before a
  /// block is looked at, so that a heap with lanes, whose pages look at it first, answers as
  /// one without them.
  Errc request_error(std::size_t size, std::size_t align) const noexcept {
    if (const Errc e = align_error(align); e != Errc::ok) return e;
    return size > TalcMeta<Bins>::kMaxRequest ? Errc::size_overflow : Errc::ok;
  }

  Errc own(const Meta& m) const noexcept {
    if (m.base != base_) return m.base == nullptr ? Errc::null_pointer : Errc::foreign_pointer;
    if (m.offset >= size_) return Errc::foreign_pointer;
    return Errc::ok;
  }

  /// The slow path (face/talc_slow.hpp): the lock, growth, out of memory, damage.
  template <class F>
  Errc resize_in_place(Meta& m, std::size_t size, F&& f) noexcept;
  Result<Meta> reallocate_page(const Meta& m, Result<std::size_t> usable, std::size_t size,
                               std::size_t align) noexcept;
  std::optional<Result<Meta>> allocate_aligned_page(const LaneOwner& o, std::size_t size,
                                                    std::size_t align) noexcept;
  [[gnu::noinline]] Result<Meta> allocate_slow(std::size_t size, std::size_t align) noexcept;

  /// Runs `op` (a core request giving Result<void*>) under the lock; when it fails for want of
  /// memory, grows the region (still under the lock, so one process grows it at a time) and
  /// runs it again; when that fails too, asks the out-of-memory handler, outside the lock.
  /// Before growing, the empty pages go back (LaneHeap::retry_after_release); not for a
  /// request no size of the region could hold, which the core alone refuses.
  template <class Op>
  Result<void*> growing(std::size_t size, std::size_t align, Op&& op) noexcept;

  /// A free under the lock (LaneHeap::free_locked), out of line: a block no page holds.
  [[gnu::noinline]] Errc free_locked(void* p) noexcept;

  /// Under the lock, before a core call on the block word `word` of `owner` names: not_allocated
  /// when the owner or that block is a page's block not handed out (LaneHeap::refuse_cached);
  /// foreign_pointer when the owner is the heap's own (LaneHeap::heaps_own). Anything else wrong
  /// with the word is left to the core call, which refuses it the same way with lanes or without.
  Errc named_cached(TalcMeta<Bins>& core, const Meta& owner, std::size_t word) noexcept;

  /// Where the heap's lock word lies in the region.
  static constexpr std::uint64_t meta_lock_offset() noexcept {
    return HeaderType::kBodyOffset + Heap::kSyncOffset;
  }
  /// Where the core heap lies in the region: its offsets plus this are the region's offsets.
  static constexpr std::uint64_t meta_offset() noexcept {
    return HeaderType::kBodyOffset + Heap::kMetaOffset;
  }

  template <class R>
  R record_damage(R r) noexcept;

  /// Every locked call: damage found is recorded in the header for every opener, and a
  /// recovery is reported to this process's handler.
  ///
  /// The heap's span is read from the region: another process may have grown it past what this
  /// process maps (one that opened the region without reserving its maximum). Then nothing runs,
  /// and the call is refused with region_truncated instead of touching unmapped bytes.
  template <class F>
  Errc locked(F&& f) noexcept;

  [[noreturn]] static void raise(Errc e);

  std::byte* base_;
  std::size_t size_;
  HeaderType* header_;
  std::size_t max_align_;
  bool built_;
  std::chrono::milliseconds lock_wait_ = kDefaultLockWait;
  std::function<void()> on_recovery_;
  std::function<bool(std::size_t)> on_out_of_memory_;
  lanes_local::OpenHeap open_heap_;
};

}  // namespace talc

// The slow path's definitions, which need the class complete.
#define TALC_INSIDE_TALC
#include "talc/face/talc_slow.hpp"
#undef TALC_INSIDE_TALC
