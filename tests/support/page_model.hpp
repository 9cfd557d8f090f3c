// A heap with pages (pages/page_table.hpp) against a model that predicts every answer. The
// property test (property/lane_property_test.cpp) and the page fuzzer (fuzz/talc_page_fuzz.cpp)
// drive it one call at a time; each call answers what went wrong, or an empty string.
//
// A few threads work the heap, each with a lane of its own: a call runs on the thread it names
// while the others wait, so every answer can be foretold, except in Race, where all of them
// free and allocate at once. The model holds the live blocks (each filled with its pattern) and
// demands:
//  - a request of at most PageConfig::kMaxRequest bytes, aligned to at most what a page aligns,
//    gets a page's block of the class that fits it (usable bytes: that class's chunk less its
//    word), unless the heap has no room left for a page; every other request a core block;
//  - every block handed out is aligned, inside the heap, disjoint from every live block, and
//    keeps its bytes while live, whichever thread allocated or frees it;
//  - a free from any thread is ok, and leaves a page block given back (its freed bit set);
//  - a block just freed, from any thread: a free, usable_size, adopt and reallocation are
//    refused with not_allocated; a block freed earlier whose page still stands, the same; one
//    whose page went back to the core, some refusal; none of these changes the statistics;
//  - a pointer into a live block: 8 bytes in, foreign_pointer; 16 bytes in with the word below
//    it zero, not_allocated; with a word that looks like a page block's, foreign_pointer;
//  - adopt with the block's size is the block, with one byte more than it holds foreign_pointer;
//  - a reallocation of a page block within its usable bytes stays in place;
//  - of two threads that free one page block at once, exactly one is answered ok;
//  - trim() on a thread leaves no page without a held block on its lane or on a lane nobody
//    owns; a thread's end, none on its lane;
//  - the statistics: live blocks and live bytes are the model's, every byte of the span is live,
//    free, cached or overhead, and check() passes.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "support/pattern.hpp"
#include "talc/talc.hpp"

namespace talc_test {

// A thread that runs what it is given, one call at a time, and keeps its lane meanwhile.
class Worker {
 public:
  Worker() : thread_([this] { Loop(); }) {}
  ~Worker() {
    {
      std::lock_guard<std::mutex> g(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void Start(std::function<void()> f) {
    std::lock_guard<std::mutex> g(mu_);
    job_ = std::move(f);
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> g(mu_);
    cv_.wait(g, [this] { return !job_; });
  }
  void Run(std::function<void()> f) {
    Start(std::move(f));
    Wait();
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> g(mu_);
    for (;;) {
      cv_.wait(g, [this] { return quit_ || static_cast<bool>(job_); });
      if (!job_) return;
      g.unlock();
      job_();
      g.lock();
      job_ = nullptr;
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool quit_ = false;
  std::thread thread_;  // last: it starts once the rest is built
};

class PageModel {
 public:
  PageModel(std::size_t bytes, std::size_t threads) : heap_(talc::MapTalc<>::anonymous(bytes)) {
    for (std::size_t i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>());
  }
  PageModel(const PageModel&) = delete;
  PageModel& operator=(const PageModel&) = delete;

  bool has_pages() noexcept { return heap_.heap().has_lanes(); }
  std::size_t live() const noexcept { return keys_.size(); }
  std::size_t threads() const noexcept { return workers_.size(); }
  talc::MapTalc<>& heap() noexcept { return heap_; }
  std::uint64_t out_of_memory() const noexcept { return oom_; }
  /// Requests pages serve that the core served, for want of room for a page.
  std::uint64_t fallbacks() const noexcept { return fallbacks_; }

  std::string Allocate(std::size_t t, std::size_t size, std::size_t align) {
    talc::Result<talc::Meta> r = talc::Errc::corrupted;
    On(t, [&] { r = heap_.try_allocate(size, align); });
    if (!r) return Refused(r.error());
    if (std::string e = Fresh(*r, size, align); !e.empty()) return e;
    return Add(*r, size, align);
  }

  std::string Free(std::size_t t, std::uint64_t pick) {
    if (keys_.empty()) return "";
    const std::uint64_t off = keys_[pick % keys_.size()];
    const Block b = live_.at(off);
    if (FirstMismatch(heap_.address_of(off), b.size, b.id) != b.size)
      return "a live block lost its bytes";
    talc::Errc e = talc::Errc::corrupted;
    On(t, [&] { e = heap_.deallocate(talc::Meta{heap_.base(), off, b.size}); });
    if (e != talc::Errc::ok) return Say("free", e);
    Remove(off);
    if (b.page && Bits(off) != 3) return "a page block given back has not its freed bit set";
    return "";
  }

  // A block freed on thread t, then refused on thread u: every call says not_allocated.
  std::string FreeTwice(std::size_t t, std::size_t u, std::uint64_t pick) {
    if (keys_.empty()) return "";
    const std::uint64_t off = keys_[pick % keys_.size()];
    const bool page = live_.at(off).page;
    if (std::string e = Free(t, pick); !e.empty()) return e;
    const Snapshot before = Snap();
    const Answers a = Ask(u, off, 16);
    if (!(Snap() == before)) return "a refusal changed the statistics";
    // A core block just freed may have merged with a free chunk below it; its old tag is then
    // no tag the core reads, and it says foreign_pointer as well.
    return a.All(talc::Errc::not_allocated) ||
                   (!page && a.All(talc::Errc::not_allocated, talc::Errc::foreign_pointer))
               ? ""
               : "a block just freed: " + a.Say();
  }

  // A block freed some calls ago, asked about again from thread t.
  std::string Stale(std::size_t t, std::uint64_t pick) {
    std::vector<std::uint64_t> from;
    for (std::uint64_t off : freed_)
      if (live_.count(off) == 0) from.push_back(off);
    if (from.empty()) return "";
    const std::uint64_t off = from[pick % from.size()];
    const unsigned bits = Bits(off);
    if (bits == 1 || bits == 2) return "a page block no user holds is live, or half collected";
    const bool standing = bits != 4;  // a page still holds it, given back or collected
    const Snapshot before = Snap();
    const Answers a = Ask(t, off, 16);
    if (!(Snap() == before)) return "a refusal changed the statistics";
    if (standing && !a.All(talc::Errc::not_allocated))
      return "a freed block of a standing page: " + a.Say();
    if (a.Any(talc::Errc::ok)) return "a block no user holds was taken for a live one";
    return "";
  }

  // A pointer into live block `pick`: 8 bytes in, or 16 with the word below it zero, or 16 with
  // the word below it made to look like a block's of a page the heap does not have.
  std::string Interior(std::size_t t, std::uint64_t pick, unsigned how) {
    if (keys_.empty()) return "";
    const std::uint64_t off = keys_[pick % keys_.size()];
    const Block b = live_.at(off);
    how %= 3;
    const std::uint64_t in = how == 0 ? 8 : 16;
    auto* word = static_cast<std::byte*>(heap_.address_of(off + in - talc::kTagSize));
    if (how != 0) {
      const std::uint64_t w =
          how == 1 ? 0 : talc::PageConfig::block_word(heap_.heap().pages().cap, 0);
      std::memcpy(word, &w, sizeof w);
    }
    const Snapshot before = Snap();
    const Answers a = Ask(t, off + in, 1);
    const bool same = Snap() == before;
    FillPattern(heap_.address_of(off), b.size, b.id);
    if (!same) return "a refusal changed the statistics";
    const talc::Errc want = how == 1 ? talc::Errc::not_allocated : talc::Errc::foreign_pointer;
    if (!a.All(want)) return "a pointer " + std::to_string(in) + " bytes in: " + a.Say();
    return "";
  }

  // usable_size and adopt of live block `pick` on thread t.
  std::string Look(std::size_t t, std::uint64_t pick) {
    if (keys_.empty()) return "";
    const std::uint64_t off = keys_[pick % keys_.size()];
    const Block b = live_.at(off);
    talc::Result<std::size_t> usable = talc::Errc::corrupted;
    talc::Result<talc::Meta> whole = talc::Errc::corrupted, more = talc::Errc::corrupted;
    On(t, [&] {
      usable = heap_.usable_size(heap_.address_of(off));
      whole = heap_.adopt(talc::RelMeta(talc::Rel<std::byte>::from_offset(off), b.size));
      more = heap_.adopt(talc::RelMeta(talc::Rel<std::byte>::from_offset(off), b.usable + 1));
    });
    if (!usable) return Say("usable_size", usable.error());
    if (*usable != b.usable) return "usable_size is not what the block held";
    if (!whole) return Say("adopt", whole.error());
    if (whole->offset != off || whole->size != b.size) return "adopt: another block";
    if (more.ok() || more.error() != talc::Errc::foreign_pointer)
      return "adopt of more than the block holds: " +
             std::string(more.ok() ? "ok" : talc::describe(more.error()));
    return "";
  }

  std::string Reallocate(std::size_t t, std::uint64_t pick, std::size_t size) {
    if (keys_.empty()) return "";
    const std::uint64_t off = keys_[pick % keys_.size()];
    const Block b = live_.at(off);
    talc::Result<talc::Meta> r = talc::Errc::corrupted;
    On(t, [&] { r = heap_.try_reallocate(talc::Meta{heap_.base(), off, b.size}, size); });
    if (!r) return Refused(r.error());
    const std::size_t kept = std::min(b.size, size);
    if (FirstMismatch(r->ptr(), kept, b.id) != kept) return "reallocate lost the block's bytes";
    if (b.page && size != 0 && size <= b.usable && r->offset != off)
      return "a page block moved for a size it holds";
    Remove(off);
    if (r->offset != off) {
      if (b.page && Bits(off) != 3) return "a page block moved from is not given back";
      if (std::string e = Fresh(*r, size, talc::kGranule); !e.empty()) return e;
    }
    // A core block stays one, whatever its new size; a page block that moved is a new request.
    if (!b.page && r->offset != off && IsPageBlock(r->offset))
      return "a core block moved to a page";
    if (b.page && r->offset == off) {
      // Resized to no bytes, a page block moves to a new one of the smallest class, as a request
      // for no bytes gets.
      if (size == 0) return "a page block resized to nothing stayed in place";
      return AddAs(*r, size, b.usable, true);
    }
    if (!b.page) {
      const std::size_t usable = CoreUsable(r->offset);
      if (usable < size) return "a block smaller than asked";
      if (std::string e = Overlaps(r->offset, usable); !e.empty()) return e;
      return AddAs(*r, size, usable, false);
    }
    return Add(*r, size, talc::kGranule);
  }

  std::string Trim(std::size_t t) {
    talc::Errc e = talc::Errc::corrupted;
    std::uint64_t lane = kNone;
    On(t, [&] {
      e = heap_.trim();
      if (const talc::LaneOwner* o = heap_.heap().held_lane()) lane = o->index;
    });
    if (e != talc::Errc::ok) return Say("trim", e);
    const Pages p = Survey();
    for (const PageInfo& i : p.pages)
      if (i.held == 0 && (i.lane == lane || !Owned(i.lane)))
        return "trim left a page without a held block";
    return "";
  }

  // Thread t ends (its lane goes back, and its pages without a held block) and another takes
  // its place.
  std::string Retire(std::size_t t) {
    std::uint64_t lane = kNone;
    On(t, [&] {
      if (const talc::LaneOwner* o = heap_.heap().held_lane()) lane = o->index;
    });
    workers_[t] = std::make_unique<Worker>();
    if (lane == kNone) return "";
    if (Owned(lane)) return "a thread's end left its lane owned";
    for (const PageInfo& i : Survey().pages)
      if (i.lane == lane && i.held == 0) return "a thread's end left a page without a held block";
    return "";
  }

  // Every thread at once: each frees its share of up to `n` live blocks and all but thread 0
  // allocate as many. Page blocks of thread 0's pages may be given to two threads, of which
  // exactly one must be answered ok: thread 0 allocates nothing meanwhile, so no block of its
  // pages is handed out again between the two frees.
  std::string Race(std::uint64_t seed, std::size_t n) {
    if (workers_.size() < 2) return "";
    std::uint64_t first = kNone;
    On(0, [&] {
      if (const talc::LaneOwner* o = heap_.heap().held_lane()) first = o->index;
    });
    std::vector<std::vector<std::uint64_t>> frees(workers_.size());
    std::vector<std::uint64_t> picked;
    for (std::size_t i = 0; i < n && !keys_.empty(); ++i) {
      const std::uint64_t off = keys_[(seed + i * 7919) % keys_.size()];
      if (std::find(picked.begin(), picked.end(), off) != picked.end()) continue;
      const Block& b = live_.at(off);
      if (FirstMismatch(heap_.address_of(off), b.size, b.id) != b.size)
        return "a live block lost its bytes";
      picked.push_back(off);
      const std::size_t t = (seed + i) % workers_.size();
      frees[t].push_back(off);
      if (first != kNone && b.page && LaneOf(off) == first && (seed >> (i % 32)) % 2 == 0)
        frees[(t + 1) % workers_.size()].push_back(off);
    }
    struct Made {
      talc::Result<talc::Meta> r;
      std::size_t size;
    };
    std::vector<std::vector<talc::Errc>> answers(workers_.size());
    std::vector<std::vector<Made>> made(workers_.size());
    std::atomic<std::size_t> ready{0};
    for (std::size_t t = 0; t < workers_.size(); ++t) {
      for (std::size_t i = 0; t != 0 && i < n / (workers_.size() - 1) + 1; ++i)
        made[t].push_back(Made{talc::Errc::corrupted, 1 + (seed * (t + 3) + i * 131) % 1100});
      workers_[t]->Start([&, t] {
        ready.fetch_add(1);
        while (ready.load() < workers_.size()) std::this_thread::yield();
        std::size_t k = 0;
        for (std::uint64_t off : frees[t]) {
          answers[t].push_back(heap_.deallocate(talc::Meta{heap_.base(), off, 16}));
          if (k < made[t].size()) {
            made[t][k].r = heap_.try_allocate(made[t][k].size);
            ++k;
          }
        }
        for (; k < made[t].size(); ++k) made[t][k].r = heap_.try_allocate(made[t][k].size);
      });
    }
    for (auto& w : workers_) w->Wait();
    std::map<std::uint64_t, int> ok;
    for (std::size_t t = 0; t < workers_.size(); ++t)
      for (std::size_t i = 0; i < frees[t].size(); ++i) {
        const talc::Errc e = answers[t][i];
        if (e == talc::Errc::ok)
          ++ok[frees[t][i]];
        else if (e != talc::Errc::not_allocated)
          return Say("a racing free", e);
      }
    for (std::uint64_t off : picked) {
      if (ok[off] != 1)
        return "a block freed by two threads at once was freed " + std::to_string(ok[off]) +
               " times";
      Remove(off);
    }
    for (auto& per : made)
      for (Made& m : per) {
        if (!m.r) {
          if (std::string e = Refused(m.r.error()); !e.empty()) return e;
          continue;
        }
        if (std::string e = Fresh(*m.r, m.size, talc::kGranule); !e.empty()) return e;
        if (std::string e = Add(*m.r, m.size, talc::kGranule, true); !e.empty()) return e;
      }
    return "";
  }

  std::string Check() {
    const talc::CheckReport rep = heap_.check();
    if (!rep.ok()) return std::string("check: ") + rep.what;
    const talc::HeapStats s = heap_.stats();
    std::uint64_t usable = 0;
    for (const auto& [off, b] : live_) usable += b.usable;
    if (s.live_allocations != live_.size()) return "the statistics miscount live blocks";
    if (s.live_bytes != usable) return "the statistics miscount live bytes";
    if (s.live_bytes + s.free_bytes + s.cached_bytes + s.overhead_bytes != s.span_bytes)
      return "a byte of the span is neither live, free, cached nor overhead";
    const Pages p = Survey();
    std::uint64_t held = 0;
    for (const PageInfo& i : p.pages) held += i.held;
    std::uint64_t in_pages = 0;
    for (const auto& [off, b] : live_) in_pages += b.page;
    if (held != in_pages) return "the pages hold other blocks than the model's";
    return "";
  }

  // Every block freed, every thread ended, trimmed: one free chunk.
  std::string Finish() {
    while (!keys_.empty())
      if (std::string e = Free(0, 0); !e.empty()) return e;
    for (std::size_t t = 0; t < workers_.size(); ++t)
      if (std::string e = Retire(t); !e.empty()) return e;
    workers_.clear();
    if (const talc::Errc e = heap_.trim(); e != talc::Errc::ok) return Say("trim", e);
    if (std::string e = Check(); !e.empty()) return e;
    const talc::Census c = heap_.census();
    if (c.live_chunks != 0 || c.free_chunks != 1 || c.cached_chunks != 0)
      return "the heap is not back to one free chunk";
    return "";
  }

 private:
  static constexpr std::uint64_t kNone = ~std::uint64_t{0};

  struct Block {
    std::size_t size;
    std::size_t usable;
    std::uint64_t id;
    bool page;
    std::size_t slot;  // index in keys_
  };
  struct Snapshot {
    std::uint64_t live, live_bytes, free, cached;
    bool operator==(const Snapshot&) const = default;
  };
  // A free, usable_size, adopt and reallocation of the same pointer.
  struct Answers {
    talc::Errc freed, sized, adopted, moved;
    bool All(talc::Errc a, talc::Errc b = talc::Errc::ok) const {
      for (const talc::Errc e : {freed, sized, adopted, moved})
        if (e != a && (b == talc::Errc::ok || e != b)) return false;
      return true;
    }
    bool Any(talc::Errc a) const { return freed == a || sized == a || adopted == a || moved == a; }
    std::string Say() const {
      return std::string("free ") + talc::describe(freed) + ", usable_size " +
             talc::describe(sized) + ", adopt " + talc::describe(adopted) + ", reallocate " +
             talc::describe(moved);
    }
  };
  struct PageInfo {
    std::uint64_t lane, cls, held;
  };
  struct Pages {
    std::vector<PageInfo> pages;
  };

  static std::string Say(const char* what, talc::Errc e) {
    return std::string(what) + ": " + talc::describe(e);
  }

  template <class F>
  void On(std::size_t t, F&& f) {
    workers_[t % workers_.size()]->Run(std::forward<F>(f));
  }

  std::string Refused(talc::Errc e) {
    if (e != talc::Errc::out_of_memory) return Say("a request", e);
    ++oom_;
    return "";
  }

  Answers Ask(std::size_t t, std::uint64_t off, std::size_t size) {
    Answers a{};
    void* p = heap_.address_of(off);
    const talc::Meta m{heap_.base(), off, size};
    On(t, [&] {
      a.freed = heap_.deallocate(m);
      a.sized = heap_.usable_size(p).error();
      a.adopted = heap_.adopt(talc::RelMeta(talc::Rel<std::byte>::from_offset(off), size)).error();
      a.moved = heap_.try_reallocate(m, 32).error();
    });
    return a;
  }

  Snapshot Snap() {
    const talc::HeapStats h = heap_.stats();
    return Snapshot{h.live_allocations, h.live_bytes, h.free_bytes, h.cached_bytes};
  }

  std::byte* Core() { return reinterpret_cast<std::byte*>(&heap_.heap().meta()); }
  // From the core heap's base, as the pages count.
  std::uint64_t CoreOffset(std::uint64_t off) {
    return off - static_cast<std::uint64_t>(Core() - heap_.base());
  }

  bool IsPageBlock(std::uint64_t off) {
    const talc::PageTable& pt = heap_.heap().pages();
    const auto& core = heap_.heap().meta();
    return pt.find(Core(), core.heap_start(), core.heap_end_unlocked(), CoreOffset(off)).found ==
           talc::PageTable::Found::block;
  }
  // A page block's live and freed bits (1 and 2), or 4 when `off` is no page's block.
  unsigned Bits(std::uint64_t off) {
    const talc::PageTable& pt = heap_.heap().pages();
    const auto& core = heap_.heap().meta();
    const talc::PageTable::Block k =
        pt.find(Core(), core.heap_start(), core.heap_end_unlocked(), CoreOffset(off));
    if (k.found != talc::PageTable::Found::block) return 4;
    const talc::Page p = k.at(Core());
    const std::uint64_t bit = std::uint64_t{1} << (k.b % 64);
    return ((p.live(k.b / 64).load() & bit) != 0 ? 1u : 0u) |
           ((p.freed(k.b / 64).load() & bit) != 0 ? 2u : 0u);
  }
  // The lane whose page holds block `off`, or kNone.
  std::uint64_t LaneOf(std::uint64_t off) {
    const talc::PageTable& pt = heap_.heap().pages();
    const auto& core = heap_.heap().meta();
    const talc::PageTable::Block k =
        pt.find(Core(), core.heap_start(), core.heap_end_unlocked(), CoreOffset(off));
    if (k.found != talc::PageTable::Found::block) return kNone;
    return k.at(Core()).header().lane - 1;
  }
  Pages Survey() {
    Pages out;
    const talc::PageTable& pt = heap_.heap().pages();
    const std::uint64_t end = heap_.heap().meta().heap_end_unlocked();
    for (std::uint64_t i = 0; i < pt.cap; ++i) {
      const std::uint64_t u = pt.page_at(Core(), end, i);
      if (u == talc::PageTable::kNull) continue;
      const std::uint64_t cls = talc::page_word(Core(), u + offsetof(talc::PageHeader, cls)).load();
      if (cls >= talc::PageConfig::kClasses) continue;
      const talc::Page p{Core(), u, pt.geometry().layout(cls)};
      out.pages.push_back(PageInfo{p.header().lane - 1, cls, p.held()});
    }
    return out;
  }
  bool Owned(std::uint64_t lane) {
    return lane < heap_.heap().lane_count() && talc::lane_load(heap_.heap().lane(lane).owner) != 0;
  }

  // The chunk bytes of core block `off`, less its tag.
  std::size_t CoreUsable(std::uint64_t off) {
    const auto* user = static_cast<const std::byte*>(heap_.address_of(off));
    return talc::Tag{talc::load_word(user - talc::kTagSize, 0)}.size() - talc::kTagSize;
  }

  // The usable bytes a page block for `size` at `align` has, or 0 when pages do not serve it:
  // its class's chunk (the smallest class that holds it), less the word, when the heap's pages
  // hold enough of that class's blocks.
  std::size_t PageUsable(std::size_t size, std::size_t align) {
    if (size > talc::PageConfig::kMaxRequest) return 0;
    std::size_t s = size;
    if (align > talc::kGranule && (s = heap_.heap().page_request(size, align)) == 0) return 0;
    const std::uint64_t cls = talc::PageConfig::class_of(talc::chunk_size_for(s));
    if (!heap_.heap().pages().geometry().serves(cls)) return 0;
    return talc::PageConfig::chunk_of(cls) - talc::kTagSize;
  }

  // Whether the heap is full enough that a request pages serve may take a hole of the core
  // instead of a new page (LaneHeap::refill_allocate): so it is after the request if it was before.
  bool Tight() {
    const auto& core = heap_.heap().meta();
    using Heap = std::remove_reference_t<decltype(heap_.heap())>;
    return core.capacity() - core.counters().live_bytes < core.capacity() / Heap::kTightShare;
  }

  // A block just handed out: aligned and in the heap (Add proves it overlaps no live block).
  std::string Fresh(const talc::Meta& m, std::size_t size, std::size_t align) {
    if (reinterpret_cast<std::uintptr_t>(m.ptr()) % align != 0) return "a block is misaligned";
    if (m.offset < heap_.offset_of(Core()) || m.offset + size > heap_.size())
      return "a block outside the heap";
    return "";
  }

  // Records a block a request of `size` at `align` got: a page's, of the predicted class, or the
  // core's when pages do not serve the request or the heap has no room for a page.
  std::string Add(const talc::Meta& m, std::size_t size, std::size_t align, bool raced = false) {
    const std::size_t want = PageUsable(size, align);
    const bool page = IsPageBlock(m.offset);
    if (page && want == 0) return "a page served a request pages do not serve";
    // After a race the room there was is unknown: another thread's request may have given back
    // pages since.
    if (!page && want != 0) ++fallbacks_;
    if (!page && want != 0 && !raced && !Tight()) {
      // The page it would have come from could not be made: the core had no chunk for one.
      const talc::HeapStats s = heap_.stats();
      // A page is a chunk aligned as its blocks are, and a gap below it is a free chunk or none.
      const talc::PageGeometry g = heap_.heap().pages().geometry();
      const std::uint64_t cls = talc::PageConfig::class_of(talc::chunk_size_for(
          align > talc::kGranule ? heap_.heap().page_request(size, align) : size));
      if (s.largest_free >=
          g.bytes_of(cls) + g.shape_of(cls).align + talc::kMinChunk + talc::chunk_size_for(size))
        return "a core block for a request pages serve (" + std::to_string(size) + " at " +
               std::to_string(align) + "), in a heap with room for a page (largest free " +
               std::to_string(s.largest_free) + ")";
    }
    if (page && Bits(m.offset) != 1) return "a page block handed out is not live";
    const std::size_t usable = page ? want : CoreUsable(m.offset);
    if (usable < size) return "a block smaller than asked";
    if (const std::string e = Overlaps(m.offset, usable); !e.empty()) return e;
    return AddAs(m, size, usable, page);
  }
  std::string Overlaps(std::uint64_t off, std::size_t usable) {
    const auto next = live_.lower_bound(off);
    if (next != live_.end() && next->first < off + usable) return "blocks overlap";
    if (next != live_.begin()) {
      const auto prev = std::prev(next);
      if (prev->first + prev->second.usable > off) return "blocks overlap";
    }
    return "";
  }
  std::string AddAs(const talc::Meta& m, std::size_t size, std::size_t usable, bool page) {
    FillPattern(m.ptr(), size, next_id_);
    live_[m.offset] = Block{size, usable, next_id_++, page, keys_.size()};
    keys_.push_back(m.offset);
    return "";
  }
  void Remove(std::uint64_t off) {
    const std::size_t slot = live_.at(off).slot;
    keys_[slot] = keys_.back();
    live_.at(keys_[slot]).slot = slot;
    keys_.pop_back();
    live_.erase(off);
    freed_.push_back(off);
    if (freed_.size() > 64) freed_.erase(freed_.begin());
  }

  talc::MapTalc<> heap_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::map<std::uint64_t, Block> live_;  // by region offset
  std::vector<std::uint64_t> keys_;      // live_'s keys, for a pick in constant time
  std::vector<std::uint64_t> freed_;     // offsets freed lately, oldest first
  std::uint64_t next_id_ = 1;
  std::uint64_t oom_ = 0, fallbacks_ = 0;
};

}  // namespace talc_test
