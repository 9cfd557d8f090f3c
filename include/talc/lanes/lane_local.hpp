// Layer 5b — the process-local side of lanes: which lane each thread holds in each heap, and
// which heaps this process has open.
//
// A thread keeps, in thread-local storage, one record per heap whose lane it holds (up to
// kHeld heaps at once; beyond that it goes through the lock). The first record is the one the
// fast path looks at: the heap's address in this process, the stamp under which it was made,
// and the lane as its owner works it. That storage is only a cache. What a thread holds is
// written in the process's registry, in a claim record the registry owns (never in the
// thread's own memory), so closing a heap, forking and unloading never read memory of a thread
// that may have ended.
//
// The stamp is a process-wide number that changes when a fork's child starts and when a heap
// is closed: a cached record of another stamp is checked against the registry before it is
// used again. So a heap closed and another mapped at the same address is never taken for the
// first, and a fork's child never works its parent's lanes, without any thread writing into
// another's storage.
//
// When a thread gives back what it holds. Its end may run user code that calls the heap long
// after its last ordinary call: thread_local destructors first, then pthread key destructors
// (glibc repeats their passes while values are set again), then the C library's own clean-up.
// A thread_local destructor would run too early for the later ones, and would never run for a
// thread whose first call comes after the thread_local pass. So a claim sets a pthread key
// whose destructor gives every lane back; a claim made during the key passes sets it again, and
// glibc runs the destructor in a later pass. Once it has run, the thread is marked ending in
// trivially destructible storage: its later calls go through the heap's lock and claim
// nothing. A free never makes a thread's first claim: after the key passes the C library frees
// what it kept for threads (a detached thread trims the cache of stacks), often from a thread
// that never called the heap. What no destructor sees (a thread's very first claim made in the
// last key pass, PTHREAD_DESTRUCTOR_ITERATIONS) is given back when lanes run short or the
// process exits: the registry keeps each claiming thread's id, and the kernel tells one that
// names no thread any more.
//
// A lane is also given back when the process closes the heap (the last Talc on that mapping
// goes), whichever comes first; a process that dies gives nothing back, and its lanes are
// taken over by the others (lane_heap.hpp). A library holding this code that is unloaded
// (dlclose) deletes the key first, so no thread calls into code that is gone; heaps it left
// open keep their lanes until the process ends. The registry's mutex is taken before the
// heap's lock, never after.
#pragma once

#include <atomic>
#include <cstdint>

#include "talc/lanes/lane.hpp"

namespace talc::lanes_local {

struct Held {
  const void* key = nullptr;  // the heap (its LaneHeap) in this process; null: unused
  std::uint64_t stamp = 0;    // stamp() when the record was made or last confirmed
  std::uint64_t index = 0;
  LaneOwner owner;          // owner.lane null: no lane to be had lately
  std::uint32_t retry = 0;  // calls before such a thread asks again
  std::uint32_t front = 0;  // which of the thread's page caches is this record's

  /// An unused record that keeps page cache `f`.
  static constexpr Held unused(std::uint32_t f) noexcept {
    Held h;
    h.front = f;
    return h;
  }
};

inline constexpr int kHeld = 4;

// A record's caches of its lane's current pages (PageFront), one per class. They stay where they
// are while the records move (the fast path looks only at the first), and each is emptied when
// its record is made for another heap or lane.
struct PageFronts {
  PageFront cls[PageConfig::kClasses];
};

struct ThreadLanes {
  Held held[kHeld] = {Held::unused(0), Held::unused(1), Held::unused(2), Held::unused(3)};
  PageFronts fronts[kHeld];
  bool ending = false;  // the thread's end gave its lanes back: claim nothing more
  bool busy = false;    // inside the registry: a call made on the way claims nothing
};
static_assert(kHeld == 4, "one page cache per record");

// Constant-initialised and trivially destructible: the fast path reads it with no guard, and it
// stays readable during every destructor pass of the thread's end.
extern thread_local constinit ThreadLanes tls;

// See above; read with no lock on the fast path.
extern std::atomic<std::uint64_t> stamp_now;
[[gnu::always_inline]] inline std::uint64_t stamp() noexcept {
  return stamp_now.load(std::memory_order_relaxed);
}

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
// False when the registry finds no memory for it: the heap then serves this process without
// lanes, and this open is not counted (nor closed).
bool open(void* heap, GiveBack give_back) noexcept;
// One fewer; the last gives back every lane this process's threads hold there.
void close(const void* heap) noexcept;

// The slow path of an allocation by a thread with no usable record for the heap: finds or claims
// its lane and puts the record first. Null when the heap is not open here, no lane is free, or
// the thread is ending.
LaneOwner* acquire(const LaneSource& src) noexcept;

// The lane the calling thread holds in the heap, as its claim record says (its cached record
// may be of another stamp, or gone); null when it holds none. Claims nothing and takes no mutex:
// for frees, and for callers that hold the heap's lock, which is taken after the registry's
// mutex, never before.
LaneOwner* confirm(const LaneSource& src) noexcept;

// Keeps a heap open in this process for as long as it lives (Talc holds one).
class OpenHeap {
 public:
  OpenHeap() noexcept = default;
  OpenHeap(void* heap, GiveBack give_back) noexcept : heap_(heap), give_back_(give_back) {
    if (heap_ != nullptr && !open(heap_, give_back_)) heap_ = nullptr;
  }
  OpenHeap(const OpenHeap& o) noexcept : OpenHeap(o.heap_, o.give_back_) {}
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
