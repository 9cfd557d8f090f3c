// A heap with lanes against a model that knows which blocks the lanes cache. The property test
// (lane_property_test.cpp) and the lane fuzzer (fuzz/talc_lane_fuzz.cpp) drive it, one call at
// a time; each call answers what went wrong, or an empty string.
//
// The model holds the live blocks (handed to the user and not returned, each filled with its
// pattern) and reads the lanes' stacks around every call: the calling thread's lane, and the
// lane of one other thread, which caches a few blocks and stays still until the end. It demands:
//  - a small request whose class stack holds a block gets the block on top (an aligned request:
//    the first aligned one among the top LaneOwner::kAlignDepth), and the stack loses it;
//  - a small free into a lane with room puts the block on top of its class stack;
//  - every block handed out is aligned, inside the heap, disjoint from every live block and on
//    no stack; a live block keeps its bytes;
//  - a free, usable_size or reallocation of a block on a stack (this thread's or the other
//    thread's) is refused with not_allocated, and a stale free of a block back in the heap with
//    some refusal; either changes nothing: not the stacks, not the statistics;
//  - the statistics: live blocks are the model's, cached blocks and bytes the stacks', and
//    every byte of the span is live, free, cached or overhead; check() passes;
//  - trim() empties this thread's lane; at the end, every block freed and both lanes given back,
//    one free chunk is left.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/pattern.hpp"
#include "support/stack_heap.hpp"
#include "talc/talc.hpp"

namespace talc_test {

class LaneModel {
 public:
  static constexpr std::uint64_t kNull = talc::Rel<std::byte>::kNull;

  // A heap of `bytes` with lanes; the other thread caches up to `other_blocks` blocks.
  LaneModel(std::size_t bytes, std::size_t other_blocks)
      : heap_(talc_test::StackHeap(bytes)), other_([this, other_blocks] {
          std::vector<talc::Meta> v;
          for (std::size_t i = 0; i < other_blocks; ++i)
            if (const auto r = heap_.try_allocate(16 + 48 * (i % 8))) v.push_back(*r);
          for (const talc::Meta& m : v) (void)heap_.deallocate(m);
          std::unique_lock<std::mutex> g(mu_);
          if (const talc::LaneOwner* o = heap_.heap().held_lane()) other_lane_ = *o;
          ready_ = true;
          cv_.notify_all();
          cv_.wait(g, [this] { return done_; });
        }) {
    std::unique_lock<std::mutex> g(mu_);
    cv_.wait(g, [this] { return ready_; });
    (void)heap_.heap().thread_lane();  // this thread's lane, claimed before any call is judged
  }
  ~LaneModel() { StopOther(); }
  LaneModel(const LaneModel&) = delete;
  LaneModel& operator=(const LaneModel&) = delete;

  std::size_t live() const noexcept { return keys_.size(); }
  talc::MapTalc<>& heap() noexcept { return heap_; }

  std::string Allocate(std::size_t size, std::size_t align) {
    const std::uint64_t expected = OnTop(size, align);
    const talc::Result<talc::Meta> r = heap_.try_allocate(size, align);
    if (!r) {
      if (expected != kNull) return "refused a request its lane held a block for";
      return r.error() == talc::Errc::out_of_memory ? "" : Say("allocate", r.error());
    }
    if (expected != kNull && r->offset != expected) return "allocate: not the block on top";
    if (std::string e = Fresh(*r, size, align); !e.empty()) return e;
    FillPattern(r->ptr(), size, next_id_);
    Add(r->offset, size, next_id_++);
    return "";
  }

  std::string Free(std::uint64_t pick) {
    if (keys_.empty()) return "";
    const std::uint64_t off = keys_[pick % keys_.size()];
    const Block b = live_.at(off);
    if (FirstMismatch(heap_.address_of(off), b.size, b.id) != b.size)
      return "a live block lost its bytes";
    const talc::LaneOwner* mine = heap_.heap().held_lane();
    const std::uint64_t chunk = Chunk(off);
    // Into the lane, when it has room, and when the block's word 1 is the user's: a block of
    // fewer than 16 bytes may still hold a lane's mark from an earlier life there, which sends
    // its free to the lock, where a block above a free chunk merges into the heap instead.
    const bool room =
        mine != nullptr && b.size >= 16 && chunk <= talc::LaneConfig::kMaxChunk &&
        talc::lane_load(mine->lane->count[Class(chunk)]) < talc::LaneConfig::kClassCap &&
        talc::lane_load(mine->lane->bytes) + chunk <= mine->bound;
    if (const talc::Errc e = heap_.deallocate(talc::Meta{heap_.base(), off, b.size});
        e != talc::Errc::ok)
      return Say("free", e);
    Remove(off);
    if (room) {
      const std::vector<std::uint64_t> top = Stack(*mine, Class(chunk));
      if (top.empty() || top.front() != off) return "free: not on top of its stack";
    }
    freed_.push_back(off);
    if (freed_.size() > 64) freed_.erase(freed_.begin());
    return "";
  }

  // A free, usable_size and reallocation of a block no user holds: one this thread freed lately,
  // or one the other thread's lane caches.
  std::string Stale(std::uint64_t pick, bool others) {
    std::vector<std::uint64_t> from;
    if (others && other_lane_.lane != nullptr)
      for (std::uint64_t c = 0; c < talc::LaneConfig::kClasses; ++c)
        for (std::uint64_t u : Stack(other_lane_, c)) from.push_back(u);
    else
      for (std::uint64_t off : freed_)
        if (live_.count(off) == 0) from.push_back(off);
    if (from.empty()) return "";
    const std::uint64_t off = from[pick % from.size()];
    const bool cached = Cached(off);
    const Snapshot before = Snap();
    void* p = heap_.address_of(off);
    const talc::Meta m{heap_.base(), off, 16};
    const talc::Errc freed = heap_.deallocate(m);
    const talc::Errc sized = heap_.usable_size(p).error();
    const talc::Errc moved = heap_.try_reallocate(m, 32).error();
    for (const talc::Errc e : {freed, sized, moved}) {
      if (e == talc::Errc::ok) return "a block no user holds was taken for a live one";
      if (cached && e != talc::Errc::not_allocated) return Say("a cached block's refusal", e);
    }
    if (!(Snap() == before)) return "a refusal changed the lanes or the statistics";
    return "";
  }

  std::string Reallocate(std::uint64_t pick, std::size_t size) {
    if (keys_.empty()) return "";
    const std::uint64_t off = keys_[pick % keys_.size()];
    const Block b = live_.at(off);
    const talc::Result<talc::Meta> r =
        heap_.try_reallocate(talc::Meta{heap_.base(), off, b.size}, size);
    if (!r) return r.error() == talc::Errc::out_of_memory ? "" : Say("reallocate", r.error());
    const std::size_t kept = std::min(b.size, size);
    if (FirstMismatch(r->ptr(), kept, b.id) != kept) return "reallocate lost the block's bytes";
    Remove(off);
    if (std::string e = Fresh(*r, size, talc::kGranule); !e.empty()) return e;
    FillPattern(r->ptr(), size, next_id_);
    Add(r->offset, size, next_id_++);
    return "";
  }

  std::string Trim() {
    if (const talc::Errc e = heap_.trim(); e != talc::Errc::ok) return Say("trim", e);
    if (const talc::LaneOwner* mine = heap_.heap().held_lane())
      if (talc::lane_load(mine->lane->bytes) != 0) return "trim left blocks in the lane";
    return "";
  }

  std::string Check() {
    const talc::CheckReport rep = heap_.check();
    if (!rep.ok()) return std::string("check: ") + rep.what;
    const talc::HeapStats s = heap_.stats();
    std::uint64_t blocks = 0, bytes = 0, usable = 0;
    for (const talc::LaneOwner* o : Lanes())
      for (std::uint64_t c = 0; c < talc::LaneConfig::kClasses; ++c) {
        const std::size_t n = Stack(*o, c).size();
        blocks += n;
        bytes += n * talc::LaneConfig::chunk_of(c);
      }
    for (const auto& [off, b] : live_) usable += Chunk(off) - talc::kTagSize;
    if (s.live_allocations != live_.size()) return "the statistics miscount live blocks";
    if (s.live_bytes != usable) return "the statistics miscount live bytes";
    if (s.cached_blocks != blocks || s.cached_bytes != bytes)
      return "the statistics miscount cached blocks";
    if (s.live_bytes + s.free_bytes + s.cached_bytes + s.overhead_bytes != s.span_bytes)
      return "a byte of the span is neither live, free, cached nor overhead";
    return "";
  }

  // Every block freed, both lanes given back: one free chunk.
  std::string Finish() {
    while (!keys_.empty())
      if (std::string e = Free(0); !e.empty()) return e;
    StopOther();
    if (std::string e = Trim(); !e.empty()) return e;
    if (std::string e = Check(); !e.empty()) return e;
    const talc::Census c = heap_.census();
    if (c.live_chunks != 0 || c.free_chunks != 1 || c.cached_chunks != 0)
      return "the heap is not back to one free chunk";
    return "";
  }

 private:
  struct Block {
    std::size_t size;
    std::uint64_t id;
    std::size_t slot;  // index in keys_
  };
  struct Snapshot {
    std::vector<std::uint64_t> stacks;
    std::uint64_t live, free, cached;
    bool operator==(const Snapshot&) const = default;
  };

  static std::uint64_t Class(std::uint64_t chunk) { return talc::LaneConfig::class_of(chunk); }
  static std::string Say(const char* what, talc::Errc e) {
    return std::string(what) + ": " + talc::describe(e);
  }

  void StopOther() {
    if (!other_.joinable()) return;
    {
      std::lock_guard<std::mutex> g(mu_);
      done_ = true;
    }
    cv_.notify_all();
    other_.join();
    other_lane_ = {};
  }

  std::vector<const talc::LaneOwner*> Lanes() {
    std::vector<const talc::LaneOwner*> v;
    if (const talc::LaneOwner* mine = heap_.heap().held_lane()) v.push_back(mine);
    if (other_lane_.lane != nullptr) v.push_back(&other_lane_);
    return v;
  }
  // Stack `cls` of lane `o`, top first, as region offsets.
  std::vector<std::uint64_t> Stack(const talc::LaneOwner& o, std::uint64_t cls) const {
    std::vector<std::uint64_t> v;
    for (std::uint64_t u = talc::lane_load(o.lane->head[cls]);
         u != kNull && v.size() <= talc::LaneConfig::kClassCap; u = talc::load_word(o.core, u))
      v.push_back(heap_.offset_of(o.core + u));
    return v;
  }
  bool Cached(std::uint64_t off) {
    for (const talc::LaneOwner* o : Lanes())
      for (std::uint64_t c = 0; c < talc::LaneConfig::kClasses; ++c) {
        const std::vector<std::uint64_t> s = Stack(*o, c);
        if (std::find(s.begin(), s.end(), off) != s.end()) return true;
      }
    return false;
  }
  Snapshot Snap() {
    Snapshot s;
    for (const talc::LaneOwner* o : Lanes())
      for (std::uint64_t c = 0; c < talc::LaneConfig::kClasses; ++c) {
        const std::vector<std::uint64_t> v = Stack(*o, c);
        s.stacks.insert(s.stacks.end(), v.begin(), v.end());
        s.stacks.push_back(kNull);
      }
    const talc::HeapStats h = heap_.stats();
    s.live = h.live_allocations;
    s.free = h.free_bytes;
    s.cached = h.cached_bytes;
    return s;
  }

  // The chunk bytes of live block `off`, from its tag.
  std::uint64_t Chunk(std::uint64_t off) const {
    const auto* user = static_cast<const std::byte*>(heap_.address_of(off));
    return talc::Tag{talc::load_word(user - talc::kTagSize, 0)}.size();
  }

  // What a request of `size` at `align` must get: the region offset of the block its lane
  // gives, or kNull when the lane has none to give (the heap then decides).
  std::uint64_t OnTop(std::size_t size, std::size_t align) {
    const talc::LaneOwner* mine = heap_.heap().held_lane();
    if (mine == nullptr || align == 0 || size > talc::LaneConfig::kMaxRequest ||
        align > talc::LaneConfig::kMaxAlign || (align & (align - 1)) != 0)
      return kNull;
    const std::vector<std::uint64_t> s = Stack(*mine, Class(talc::chunk_size_for(size)));
    for (std::size_t i = 0; i < s.size() && i < talc::LaneOwner::kAlignDepth; ++i) {
      if (reinterpret_cast<std::uintptr_t>(heap_.address_of(s[i])) % align == 0) return s[i];
      if (align <= talc::kGranule) break;
    }
    return kNull;
  }

  // A block just handed out: aligned, in the heap, big enough, on no stack, overlapping no live
  // block.
  std::string Fresh(const talc::Meta& m, std::size_t size, std::size_t align) {
    if (reinterpret_cast<std::uintptr_t>(m.ptr()) % align != 0) return "a block is misaligned";
    const talc::Result<std::size_t> usable = heap_.usable_size(m.ptr());
    if (!usable || *usable < size) return "a block smaller than asked, or not live";
    if (Cached(m.offset)) return "a block handed out is still on a stack";
    const auto next = live_.lower_bound(m.offset);
    if (next != live_.end() && next->first < m.offset + *usable) return "blocks overlap";
    if (next != live_.begin()) {
      const auto prev = std::prev(next);
      if (prev->first + Chunk(prev->first) - talc::kTagSize > m.offset) return "blocks overlap";
    }
    return "";
  }

  void Add(std::uint64_t off, std::size_t size, std::uint64_t id) {
    live_[off] = Block{size, id, keys_.size()};
    keys_.push_back(off);
  }
  void Remove(std::uint64_t off) {
    const std::size_t slot = live_.at(off).slot;
    keys_[slot] = keys_.back();
    live_.at(keys_[slot]).slot = slot;
    keys_.pop_back();
    live_.erase(off);
  }

  talc::MapTalc<> heap_;
  std::map<std::uint64_t, Block> live_;  // by region offset
  std::vector<std::uint64_t> keys_;      // live_'s keys, for a pick in constant time
  std::vector<std::uint64_t> freed_;     // offsets freed lately, oldest first
  std::uint64_t next_id_ = 1;

  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false, done_ = false;
  talc::LaneOwner other_lane_{};
  std::thread other_;
};

}  // namespace talc_test
