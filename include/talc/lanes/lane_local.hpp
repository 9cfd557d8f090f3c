// Layer 5b — the process-local side of lanes: which lane each thread holds in each heap, and
// which heaps this process has open.
//
// A thread keeps, in thread-local storage, one record per heap whose lane it holds (up to
// kHeld heaps at once; beyond that it goes through the lock). The first record is the one the
// fast path looks at: the heap's address in this process, the lock word of the process that
// took the lane (a fork's child sees another RegionLock::self() and drops the record without
// touching the lane, which is its parent's), and the lane as its owner works it.
//
// A lane is given back, drained, when its thread ends (a thread-exit hook) or when the process
// closes the heap (the last Talc on that mapping goes), whichever comes first; a process that
// dies gives nothing back, and its lanes are reclaimed by the others (lane_heap.hpp). The
// registry of open heaps is what keeps a thread's exit from reaching into a mapping that is
// gone. Its mutex is taken before the heap's lock, never after.
#pragma once

#include <cstdint>

#include "talc/lanes/lane.hpp"

namespace talc::lanes_local {

struct Held {
  const void* key = nullptr;  // the heap (its LaneHeap) in this process; null: unused
  std::uint64_t self = 0;     // RegionLock::self() of the process that took the lane
  std::uint64_t index = 0;
  LaneOwner owner;          // owner.lane null: no lane to be had lately
  std::uint32_t retry = 0;  // calls before such a thread asks again
};

inline constexpr int kHeld = 4;

struct ThreadLanes {
  Held held[kHeld];
};

// Constant-initialised and trivially destructible: the fast path reads it with no guard.
extern thread_local constinit ThreadLanes tls;

using GiveBack = void (*)(void* heap, std::uint64_t index) noexcept;

// What acquire() needs of a heap, without knowing its type.
struct LaneSource {
  void* heap;
  std::uint64_t lanes;
  bool (*own_lane)(void* heap, std::uint64_t index, bool dead_ok) noexcept;
  LaneOwner (*view)(void* heap, std::uint64_t index) noexcept;
  GiveBack give_back;
};

// A Talc on the heap at `heap` exists in this process (counted: copies and several opens).
void open(void* heap, GiveBack give_back);
// One fewer; the last gives back every lane this process's threads hold there.
void close(const void* heap) noexcept;

// The slow path of a thread with no usable record for the heap: finds or claims its lane and
// puts the record first. Null when the heap is not open here, or no lane is free.
LaneOwner* acquire(const LaneSource& src) noexcept;

// Keeps a heap open in this process for as long as it lives (Talc holds one).
class OpenHeap {
 public:
  OpenHeap() noexcept = default;
  OpenHeap(void* heap, GiveBack give_back) : heap_(heap), give_back_(give_back) {
    if (heap_ != nullptr) open(heap_, give_back_);
  }
  OpenHeap(const OpenHeap& o) : OpenHeap(o.heap_, o.give_back_) {}
  OpenHeap(OpenHeap&& o) noexcept : heap_(o.heap_), give_back_(o.give_back_) { o.heap_ = nullptr; }
  OpenHeap& operator=(OpenHeap o) noexcept {
    reset();
    heap_ = o.heap_;
    give_back_ = o.give_back_;
    o.heap_ = nullptr;
    return *this;
  }
  ~OpenHeap() { reset(); }
  void reset() noexcept {
    if (heap_ != nullptr) close(heap_);
    heap_ = nullptr;
  }

 private:
  void* heap_ = nullptr;
  GiveBack give_back_ = nullptr;
};

}  // namespace talc::lanes_local
