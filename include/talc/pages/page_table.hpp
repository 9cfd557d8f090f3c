// Layer 5b — the page table: every page of a heap, and which lane's lists each one is on.
//
// The table is one block of the core heap, made with the heap: a header, then one entry per page
// (the page's user offset, or the null offset), then for each lane a list head and a current
// page per size class. Pages are made and given back under the heap's lock, each through one of
// the core's journalled slot operations on the page's entry (allocate_into, deallocate_from), so
// the chunk and the entry that names it move together. Everything else happens without the lock:
//   - a lane's owner hands out blocks from its current page of a class, and when that one is
//     full moves to another page of its list that a free marked (PageHeader::hint);
//   - anyone gives a block back with one fetch_or in its page (page.hpp), found from the block's
//     word in O(1): no lane, no lock, no system call.
//
// The lists change only under the lock: a page is pushed on its owner's list when made, and
// unlinked before it is given back. Between those steps a death leaves a page in the table that
// no list names (an orphan); the next holder of the lock, which rolls back the death's
// operation, gives orphans back too (sweep). A lane's pages stay on its lists when its thread
// ends or its process dies: the lane's next owner serves from them, and a request that finds no
// memory first gives back every page without a held block, of its own lane and of lanes nobody
// owns.
//
// Every offset and index read from the table, a list or a page is another process's data and
// is checked before it becomes an address: an entry lies in the heap, a page names its own index
// and class, a list ends within the table's size. A page or list that fails this is not served
// from: the request goes to the lock, whose check reports the damage.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <vector>

#include "talc/core/errors.hpp"
#include "talc/core/rel.hpp"
#include "talc/core/talc_meta.hpp"
#include "talc/pages/page.hpp"

namespace talc {

// A lane's pages, in words its owner's lane keeps (lanes/lane.hpp): for each class the first
// page of its list and the page it serves from, each as index + 1 (0: none). Only the lane's
// owner writes them, `first` under the lock.
struct PageLists {
  std::uint64_t* first;  // kClasses words
  std::uint32_t* cur;    // kClasses words
  // The owner's caches, one per class (page.hpp), in its thread's memory: given whenever the
  // owner itself calls, so that each of its hand-outs reseeds them; null for anyone else.
  PageFront* front = nullptr;

  PageFront* front_of(std::uint64_t cls) const noexcept {
    return front != nullptr ? front + cls : nullptr;
  }
};

struct PageTable {
  static constexpr std::uint64_t kNull = Rel<std::byte>::kNull;
  // The table's header words: a hint of where a free entry may be, and the record of a slot call
  // on a page's block (replace): the block (nonzero while the call is under way), the slot, its
  // value before and after, the block's word before, and the slot of a block it moved to.
  static constexpr std::uint64_t kHeadWords = 8;
  static constexpr std::uint64_t kHint = 0, kArmed = 1, kSlot = 2, kOld = 3, kNew = 4,
                                 kWordBefore = 5, kMoved = 6;

  std::uint64_t table = kNull;  // user offset of the table's block, from the core heap's base
  std::uint64_t cap = 0;        // entries
  std::uint64_t shift = 0;      // the largest pages' chunk bytes are 1 << shift (page.hpp)

  bool present() const noexcept { return table != kNull; }
  /// The chunk bytes of the heap's largest pages, the large classes'.
  std::uint64_t max_bytes() const noexcept { return std::uint64_t{1} << shift; }
  PageGeometry geometry() const noexcept { return PageGeometry{shift}; }
  /// The table's block size for `cap` entries.
  static std::uint64_t block_bytes(std::uint64_t cap) noexcept {
    return (kHeadWords + cap) * kWord;
  }

  /// Makes the table in `core`: false (nothing made) when the heap is too small to spare it.
  template <class Core>
  bool build(Core& core) noexcept {
    const PageGeometry g = PageGeometry::for_capacity(core.capacity());
    // An entry for each of the smallest pages the heap could hold.
    const std::uint64_t n = std::min(PageConfig::kMaxPages, core.capacity() >> g.shift_of(0));
    if (n < 2) return false;
    const std::uint64_t size = block_bytes(n);
    const Result<void*> r = core.allocate(size);
    if (!r) return false;
    std::memset(*r, 0, size);
    auto* words = static_cast<std::uint64_t*>(*r);
    words[kMoved] = kNull;
    for (std::uint64_t i = 0; i < n; ++i) words[kHeadWords + i] = kNull;
    table = core.offset_of(*r);
    cap = n;
    shift = g.shift;
    return true;
  }

  /// Whether the table's fields and words lie where they must in a heap ending at `end`.
  bool sane(std::uint64_t heap_start, std::uint64_t end) const noexcept {
    if (!present()) return true;
    return shift >= PageGeometry::kMinShift && shift <= PageGeometry::kMaxShift && cap != 0 &&
           cap <= PageConfig::kMaxPages && table % kGranule == 0 &&
           table >= heap_start + kTagSize && table < end && end - table >= block_bytes(cap);
  }

  // ---- without the lock -----------------------------------------------------------------------

  std::atomic_ref<std::uint64_t> entry(std::byte* core, std::uint64_t i) const noexcept {
    return page_word(core, table + (kHeadWords + i) * kWord);
  }
  static std::atomic_ref<std::uint32_t> slot(std::uint32_t& w) noexcept {
    return std::atomic_ref<std::uint32_t>(w);
  }
  static std::atomic_ref<std::uint64_t> slot(std::uint64_t& w) noexcept {
    return std::atomic_ref<std::uint64_t>(w);
  }

  /// Page `i`, when the table names a whole page there whose header names it back: the page's
  /// user offset, or kNull. `end` is the heap's end as last seen (it only grows).
  [[gnu::always_inline]] std::uint64_t page_at(std::byte* core, std::uint64_t end,
                                               std::uint64_t i) const noexcept {
    if (i >= cap) return kNull;
    const std::uint64_t u = entry(core, i).load(std::memory_order_acquire);
    // Room for a header and maps, whatever the class: owned() checks the class's whole page.
    if (u % kGranule != 0 || u > end || end - u < PageConfig::kMinBytes - kTagSize) return kNull;
    if (page_word(core, u).load(std::memory_order_acquire) != (PageConfig::kIdent | i))
      return kNull;
    return u;
  }

  /// A block of class `cls` from lane `l`'s pages, for its owner: its user offset, or kNull when
  /// the lane's pages have none to hand out without the lock. First from the owner's cache of
  /// its current page (PageFront), which reads no page.
  [[gnu::always_inline]] std::uint64_t allocate(std::byte* core, std::uint64_t end, PageLists pl,
                                                std::uint64_t l, std::uint64_t cls) const noexcept {
    const std::uint64_t u = from_front(core, pl.front, pl.cur, cls);
    return u != kNull ? u : allocate_from_pages(core, end, pl, l, cls);
  }

  /// A block from the owner's cache of its current page of class `cls`, or kNull when it has
  /// none (`front` null, the cache dry, or the current page another).
  [[gnu::always_inline]] static std::uint64_t from_front(std::byte* core, PageFront* front,
                                                         std::uint32_t* cur,
                                                         std::uint64_t cls) noexcept {
    if (front == nullptr || front[cls].avail == 0 || !front_current(front[cls], cur, cls))
      return kNull;
    return front[cls].take(core);
  }
  /// Whether cache `f` of class `cls` is still of the lane's current page (`cur`).
  [[gnu::always_inline]] static bool front_current(const PageFront& f, std::uint32_t* cur,
                                                   std::uint64_t cls) noexcept {
    return f.cur == slot(cur[cls]).load(std::memory_order_relaxed);
  }

  /// allocate(), past the cache: the current page, read again (its given-back blocks collected),
  /// then the others.
  [[gnu::noinline]] std::uint64_t allocate_from_pages(std::byte* core, std::uint64_t end,
                                                      PageLists pl, std::uint64_t l,
                                                      std::uint64_t cls) const noexcept {
    const std::uint32_t c = slot(pl.cur[cls]).load(std::memory_order_relaxed);
    if (c != 0) {
      const std::uint64_t u = owned(core, end, c - 1, l, cls);
      if (u != kNull) {
        const std::uint64_t b = Page{core, u, geometry().layout(cls)}.take(c - 1, pl.front_of(cls));
        if (b != kNull) return b;
      }
    }
    return allocate_elsewhere(core, end, pl, l, cls);
  }

  /// What a free found at user offset `u`.
  enum class Found : std::uint8_t { block, not_page, foreign };
  struct Block {
    Found found = Found::not_page;
    std::uint64_t page = 0, index = 0, cls = 0, b = 0;
    PageLayout c{};  // the class's, once `cls` is known to be one

    Page at(std::byte* core) const noexcept { return Page{core, page, c}; }
  };
  /// The page block whose user offset is `u`, proved from its word, the table and the page's
  /// header: an O(1) look. not_page when the word is no block's (a core chunk, say); foreign
  /// when it is one's but names no page block starting at `u`.
  [[gnu::always_inline]] Block find(std::byte* core, std::uint64_t heap_start, std::uint64_t end,
                                    std::uint64_t u) const noexcept {
    if (u % kGranule != 0 || u < heap_start + kTagSize || u >= end) return {};
    const std::uint64_t w = page_word(core, u - kTagSize).load(std::memory_order_relaxed);
    if ((w & Tag::kFlagMask) != PageConfig::kBlockFlag) return {};
    Block k{Found::foreign};
    k.index = PageConfig::index_of(w);
    k.b = (w >> PageConfig::kBlockShift) &
          ((std::uint64_t{1} << (PageConfig::kIndexShift - PageConfig::kBlockShift)) - 1);
    k.page = page_at(core, end, k.index);
    if (k.page == kNull) return k;
    k.cls = page_word(core, k.page + offsetof(PageHeader, cls)).load(std::memory_order_relaxed);
    if (k.cls >= PageConfig::kClasses) return k;
    k.c = geometry().layout(k.cls);
    if (k.b >= k.c.blocks() || k.at(core).user_of(k.b) != u) return k;
    k.found = Found::block;
    return k;
  }

  /// What free() answers for a block that is no page's: a value of no error any call returns.
  /// (Not a std::optional<Errc>, whose flag byte costs the free's inlined path six instructions.)
  static constexpr Errc kNotPage = static_cast<Errc>(0xff);
  static_assert(
      [] {
#define TALC_ERRC_NOT_PAGE(name, NAME, value, text) \
  if (value == static_cast<int>(kNotPage)) return false;
        TALC_ERRORS(TALC_ERRC_NOT_PAGE)
#undef TALC_ERRC_NOT_PAGE
        return true;
      }(),
      "kNotPage is no error's value");

  /// Gives the block at user offset `u` back, whoever calls: ok; not_allocated when it is not
  /// handed out (a double free, nothing changed); foreign_pointer when its word names no block
  /// at `u`; kNotPage, nothing done, when it is no page's block (a core chunk's, say).
  [[gnu::always_inline]] Errc free(std::byte* core, std::uint64_t heap_start, std::uint64_t end,
                                   std::uint64_t u) const noexcept {
    const Block k = find(core, heap_start, end, u);
    if (k.found == Found::not_page) [[unlikely]]
      return kNotPage;
    if (k.found == Found::foreign) [[unlikely]]
      return Errc::foreign_pointer;
    return k.at(core).give_back(k.b);
  }

  /// The usable bytes of the page block find() found, or why not: handed out, not given back.
  Result<std::size_t> usable(std::byte* core, const Block& k) const noexcept {
    if (k.found != Found::block) return Errc::foreign_pointer;
    const Page p = k.at(core);
    const std::uint64_t bit = std::uint64_t{1} << (k.b % 64);
    if ((p.live(k.b / 64).load() & bit) == 0 || (p.freed(k.b / 64).load() & bit) != 0)
      return Errc::not_allocated;
    return k.c.chunk() - kTagSize;
  }

  // ---- under the heap's lock ------------------------------------------------------------------

  /// The slot at offset `slot` from the core's base names the handed-out page block at `x` (its
  /// value is `old`): the slot takes `value` and the block goes back to its page, as one
  /// operation. `value` is the null offset (deallocate_from), or a block that the kMoved word
  /// names (reallocate_from moved the bytes there, allocate_into made it). The record is written
  /// first and armed last; a death at any instant is finished or undone by the next holder of
  /// the lock (finish).
  template <class Core>
  Errc replace(Core& core, std::uint64_t slot, std::uint64_t x, std::uint64_t old,
               std::uint64_t value) noexcept {
    std::byte* base = bytes_of(core);
    head(base, kSlot).store(slot);
    head(base, kOld).store(old);
    head(base, kNew).store(value);
    head(base, kWordBefore).store(page_word(base, x - kTagSize).load());
    head(base, kArmed).store(x, std::memory_order_release);
    TALC_FAULT_POINT();
    page_word(base, slot).store(value, std::memory_order_release);
    TALC_FAULT_POINT();
    const Errc e = free(base, core.heap_start(), core.heap_end(), x);
    TALC_FAULT_POINT();
    head(base, kMoved).store(kNull);  // the block moved to is the slot's now
    TALC_FAULT_POINT();
    head(base, kArmed).store(0, std::memory_order_release);
    return e == kNotPage ? Errc::corrupted : e;
  }

  /// After a holder of the lock died (and the core rolled its operation back): finishes or undoes
  /// the replace() it left. The slot not yet rewritten: undone, the moved-to block freed. The
  /// slot rewritten: the block goes back unless it already did; its word tells a block handed
  /// out again since (whose owner must keep it) from one the call had not yet given back.
  template <class Core>
  void finish(Core& core) noexcept {
    std::byte* base = bytes_of(core);
    const std::uint64_t x = head(base, kArmed).load(std::memory_order_acquire);
    const std::uint64_t slot = head(base, kSlot).load();
    const bool in_heap = x % kGranule == 0 && x >= core.heap_start() + kTagSize &&
                         x < core.heap_end() && slot % kWord == 0 && slot >= core.heap_start() &&
                         slot < core.heap_end();
    if (x != 0 && in_heap && page_word(base, slot).load() != head(base, kOld).load()) {
      if (page_word(base, x - kTagSize).load() == head(base, kWordBefore).load())
        (void)free(base, core.heap_start(), core.heap_end(), x);  // not_allocated: it went back
      head(base, kMoved).store(kNull);
    } else if (head(base, kMoved).load() != kNull) {
      (void)core.deallocate_from(base + table, kMoved);
    }
    head(base, kArmed).store(0, std::memory_order_release);
  }

  /// For lane `l`'s owner, when allocate() found nothing: a block from any page of its list for
  /// `cls` (collecting every page's given-back blocks), or kNull when none has one.
  template <class Core>
  Result<std::uint64_t> take_listed(Core& core, PageLists pl, std::uint64_t l,
                                    std::uint64_t cls) noexcept {
    std::byte* base = bytes_of(core);
    const std::uint64_t end = core.heap_end();
    const PageLayout c = geometry().layout(cls);
    std::uint64_t steps = 0;
    for (std::uint64_t i = slot(pl.first[cls]).load(); i != 0 && steps++ < cap;) {
      const std::uint64_t u = owned(base, end, i - 1, l, cls);
      if (u == kNull) return Errc::corrupted;
      const std::uint64_t b = Page{base, u, c}.take(i - 1, pl.front_of(cls));
      if (b != kNull) {
        slot(pl.cur[cls]).store(static_cast<std::uint32_t>(i));
        return b;
      }
      i = page_word(base, u + offsetof(PageHeader, next)).load();
    }
    if (steps > cap) return Errc::corrupted;
    return kNull;
  }

  /// For lane `l`'s owner: a block from a new page of class `cls`. out_of_memory when the heap
  /// has no room for a page; the table full also answers out_of_memory.
  template <class Core>
  Result<std::uint64_t> take_new(Core& core, PageLists pl, std::uint64_t l,
                                 std::uint64_t cls) noexcept {
    std::byte* base = bytes_of(core);
    const Result<std::uint64_t> i = make(core, pl, l, cls);
    if (!i) return i.error();
    const std::uint64_t b =
        Page{base, entry(base, *i).load(), geometry().layout(cls)}.take(*i, pl.front_of(cls));
    return b != kNull ? Result<std::uint64_t>(b) : Result<std::uint64_t>(Errc::corrupted);
  }

  /// Gives back lane `l`'s pages with no block held (all classes), but the current page of each
  /// class when `keep_current`. The caller owns the lane (or took it from a gone owner). How many
  /// pages went back.
  template <class Core>
  std::uint64_t release_empty(Core& core, PageLists pl, std::uint64_t l,
                              bool keep_current) noexcept {
    std::byte* base = bytes_of(core);
    const std::uint64_t end = core.heap_end();
    std::uint64_t released = 0;
    for (std::uint64_t cls = 0; cls < PageConfig::kClasses; ++cls) {
      const PageLayout c = geometry().layout(cls);
      std::uint64_t above = kNull;  // the page whose `next` names page i; kNull: `first` does
      std::uint64_t i = slot(pl.first[cls]).load();
      for (std::uint64_t steps = 0; i != 0 && steps < cap; ++steps) {
        const std::uint64_t u = owned(base, end, i - 1, l, cls);
        if (u == kNull) break;  // damage: check() reports it
        const std::uint64_t next = page_word(base, u + offsetof(PageHeader, next)).load();
        const bool current = slot(pl.cur[cls]).load() == i;
        if ((keep_current && current) || Page{base, u, c}.held() != 0) {
          above = u;
          i = next;
          continue;
        }
        // No longer current, then off the list with one store, then given back: a death between
        // the last two leaves an orphan, which the next recovery gives back (sweep). In this
        // order, since a current page off its list would fail every list's check, and the
        // sweep with it, leaving the orphan for good.
        if (current) {
          slot(pl.cur[cls]).store(0);
          TALC_FAULT_POINT();
        }
        if (above == kNull)
          slot(pl.first[cls]).store(next);
        else
          page_word(base, above + offsetof(PageHeader, next)).store(next);
        TALC_FAULT_POINT();
        if (give_back_page(core, i - 1) == Errc::ok) ++released;
        i = next;
      }
    }
    return released;
  }

  /// After a holder of the lock died: gives back every page no list names (it died making or
  /// giving back one). How many.
  template <class Core, class Lists>
  std::uint64_t sweep(Core& core, std::uint64_t lanes, Lists&& lists) noexcept {
    std::vector<std::uint8_t> listed;
    try {
      listed.assign(cap, 0);
    } catch (...) {
      return 0;  // no process memory: the orphans wait for the next recovery
    }
    // A list found damaged leaves the pages it would have named unmarked: give back nothing.
    if (!mark_listed(bytes_of(core), core.heap_end(), lanes, lists, listed).ok()) return 0;
    std::uint64_t n = 0;
    for (std::uint64_t i = 0; i < cap; ++i)
      if (!listed[i] && entry(bytes_of(core), i).load() != kNull &&
          give_back_page(core, i) == Errc::ok)
        ++n;
    return n;
  }

  /// What the pages hold, read without stopping their owners: exact when they are still.
  struct Counts {
    std::uint64_t pages = 0, chunk_bytes = 0, held = 0, held_bytes = 0, free = 0, free_bytes = 0;
  };
  Counts counts(const std::byte* core, std::uint64_t end) const noexcept {
    Counts c;
    auto* base = const_cast<std::byte*>(core);
    for (std::uint64_t i = 0; i < cap; ++i) {
      const std::uint64_t u = page_at(base, end, i);
      if (u == kNull) continue;
      const std::uint64_t cls = page_word(base, u + offsetof(PageHeader, cls)).load();
      if (cls >= PageConfig::kClasses) continue;
      const Page p{base, u, geometry().layout(cls)};
      const std::uint64_t held = p.held(), n = p.c.blocks();
      ++c.pages;
      c.chunk_bytes += Tag{page_word(base, u - kTagSize).load()}.size();
      c.held += held;
      c.held_bytes += held * (p.c.chunk() - kTagSize);
      c.free += n - held;
      c.free_bytes += (n - held) * p.c.chunk();
    }
    return c;
  }

  /// P1-P3 of page.hpp over every page, each page on exactly one list (its owner's, for its
  /// class) and each list ending within the table, after the core's check passed.
  template <class Core, class Lists>
  CheckReport check(const Core& core, std::uint64_t lanes, Lists&& lists) const {
    auto* base = const_cast<std::byte*>(reinterpret_cast<const std::byte*>(&core));
    const std::uint64_t end = core.heap_end();
    if (!sane(core.heap_start(), end))
      return CheckReport{Errc::corrupted, table, "the page table lies outside the heap"};
    const Result<Chunk> t = core.live_chunk(base + table);
    if (!t || t->end() < table + block_bytes(cap) - kTagSize)
      return CheckReport{Errc::corrupted, table, "the page table is not a live block"};
    std::vector<std::uint8_t> listed(cap, 0);
    if (const CheckReport r = mark_listed(base, end, lanes, lists, listed); !r.ok()) return r;
    for (std::uint64_t i = 0; i < cap; ++i) {
      const std::uint64_t u = entry(base, i).load();
      if (u == kNull) continue;
      if (!listed[i]) return CheckReport{Errc::corrupted, u, "a page no lane lists", i};
      // A listed page is one of its list's class (mark_listed): a class below kClasses.
      const std::uint64_t cls = page_word(base, u + offsetof(PageHeader, cls)).load();
      const Result<Chunk> c = core.live_chunk(base + u);
      if (!c || c->size < geometry().bytes_of(cls) || c->user() != u)
        return CheckReport{Errc::corrupted, u, "a page is not a live block of its class's size", i};
      const Page p{base, u, geometry().layout(cls)};
      const std::uint64_t n = p.c.blocks(), words = geometry().shape_of(cls).words;
      for (std::uint64_t w = 0; w < words; ++w) {
        const std::uint64_t outside = ~(w * 64 < n ? PageGeometry::mask(n, w) : 0);
        if (((p.live(w).load() | p.freed(w).load()) & outside) != 0)
          return CheckReport{Errc::corrupted, u, "a page marks a block it does not have", w};
      }
    }
    return {};
  }

  /// Gives page `i` back to the core heap: its header stops naming it, then one journalled
  /// operation frees its chunk and nulls its entry. The caller unlinked it from every list.
  template <class Core>
  Errc give_back_page(Core& core, std::uint64_t i) noexcept {
    std::byte* base = bytes_of(core);
    const std::uint64_t u = entry(base, i).load();
    if (u % kGranule == 0 && u < core.heap_end() && core.heap_end() - u >= PageConfig::kHeader)
      page_word(base, u).store(0, std::memory_order_release);
    TALC_FAULT_POINT();
    return core.deallocate_from(base + table, kHeadWords + i);
  }

 private:
  template <class Core>
  static std::byte* bytes_of(Core& core) noexcept {
    return reinterpret_cast<std::byte*>(&core);
  }
  std::atomic_ref<std::uint64_t> head(std::byte* core, std::uint64_t w) const noexcept {
    return page_word(core, table + w * kWord);
  }

  /// Page `i` when it is one of lane `l`'s pages of class `cls`; else kNull.
  [[gnu::always_inline]] std::uint64_t owned(std::byte* core, std::uint64_t end, std::uint64_t i,
                                             std::uint64_t l, std::uint64_t cls) const noexcept {
    const std::uint64_t u = page_at(core, end, i);
    if (u == kNull || end - u < geometry().bytes_of(cls) - kTagSize) return kNull;
    const PageHeader& h = *reinterpret_cast<const PageHeader*>(core + u);
    if (std::atomic_ref<const std::uint64_t>(h.cls).load(std::memory_order_relaxed) != cls ||
        std::atomic_ref<const std::uint64_t>(h.lane).load(std::memory_order_relaxed) != l + 1)
      return kNull;
    return u;
  }

  /// allocate(), when the current page had nothing: the first page of the list that a free
  /// marked since the owner last looked becomes the current one. Still without the lock.
  std::uint64_t allocate_elsewhere(std::byte* core, std::uint64_t end, PageLists pl,
                                   std::uint64_t l, std::uint64_t cls) const noexcept {
    const PageLayout c = geometry().layout(cls);
    std::uint64_t steps = 0;
    for (std::uint64_t i = slot(pl.first[cls]).load(std::memory_order_acquire);
         i != 0 && steps++ < cap;) {
      const std::uint64_t u = owned(core, end, i - 1, l, cls);
      if (u == kNull) return kNull;
      const Page p{core, u, c};
      if (p.field(p.header().hint).load(std::memory_order_relaxed) != 0) {
        // Cleared before the maps are read: a free after this look marks the page again.
        p.field(p.header().hint).store(0, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        const std::uint64_t b = p.take(i - 1, pl.front_of(cls));
        if (b != kNull) {
          slot(pl.cur[cls]).store(static_cast<std::uint32_t>(i), std::memory_order_relaxed);
          return b;
        }
      }
      i = p.field(p.header().next).load(std::memory_order_relaxed);
    }
    return kNull;
  }

  /// Under the lock: a new page of class `cls` for lane `l`, on its list and current. Its index.
  template <class Core>
  Result<std::uint64_t> make(Core& core, PageLists pl, std::uint64_t l,
                             std::uint64_t cls) noexcept {
    std::byte* base = bytes_of(core);
    std::uint64_t i = head(base, kHint).load();
    if (i >= cap) i = 0;
    std::uint64_t tried = 0;
    while (tried < cap && entry(base, i).load() != kNull) {
      ++tried;
      i = i + 1 == cap ? 0 : i + 1;
    }
    if (tried == cap) return Errc::out_of_memory;
    const PageShape& g = geometry().shape_of(cls);
    const Result<void*> r = core.allocate_into(base + table, kHeadWords + i,
                                               geometry().bytes_of(cls) - kTagSize, g.align);
    if (!r) return r.error();
    head(base, kHint).store(i + 1);
    const std::uint64_t u = core.offset_of(*r);
    // The maps and header first; the index last, which makes the page one (page_at).
    std::memset(base + u + PageConfig::kHeader, 0, 2 * g.map_bytes);
    page_word(base, u + offsetof(PageHeader, cls)).store(cls);
    page_word(base, u + offsetof(PageHeader, lane)).store(l + 1);
    page_word(base, u + offsetof(PageHeader, next)).store(slot(pl.first[cls]).load());
    page_word(base, u + offsetof(PageHeader, cursor)).store(0);
    page_word(base, u + offsetof(PageHeader, hint)).store(0);
    TALC_FAULT_POINT();
    page_word(base, u).store(PageConfig::kIdent | i, std::memory_order_release);
    TALC_FAULT_POINT();
    slot(pl.first[cls]).store(i + 1, std::memory_order_release);
    TALC_FAULT_POINT();
    slot(pl.cur[cls]).store(static_cast<std::uint32_t>(i + 1));
    return i;
  }

  /// Marks in `listed` each page some lane's list names; corrupted when a list names something
  /// that is no page of that lane and class, names one twice, or does not end.
  template <class Lists>
  CheckReport mark_listed(std::byte* core, std::uint64_t end, std::uint64_t lanes, Lists& lists,
                          std::vector<std::uint8_t>& listed) const {
    for (std::uint64_t l = 0; l < lanes; ++l) {
      const PageLists pl = lists(l);
      for (std::uint64_t cls = 0; cls < PageConfig::kClasses; ++cls) {
        bool current = false;
        const std::uint32_t cur =
            std::atomic_ref<const std::uint32_t>(pl.cur[cls]).load(std::memory_order_relaxed);
        for (std::uint64_t i = slot(pl.first[cls]).load(); i != 0;) {
          const std::uint64_t u = owned(core, end, i - 1, l, cls);
          if (u == kNull)
            return CheckReport{Errc::corrupted, l, "a lane's page list names no page of its own",
                               i - 1};
          if (listed[i - 1]++ != 0)
            return CheckReport{Errc::corrupted, u, "a page is listed twice", i - 1};
          current |= i == cur;
          i = page_word(core, u + offsetof(PageHeader, next)).load();
        }
        if (cur != 0 && !current)
          return CheckReport{Errc::corrupted, l, "a lane's current page is not on its list", cls};
      }
    }
    return {};
  }
};

}  // namespace talc
