// The one heap behind the preloaded C allocation API (face_malloc.cpp): a Talc on a private
// anonymous region, built at the first call, rebuilt as its own in a fork's child, and counted.
#pragma once

#include <atomic>
#include <cstdint>

#include "side_arena.hpp"
#include "talc/talc.hpp"

namespace talc_preload {

using Heap = talc::Talc<>;

// What serves the calls the heap cannot (side_arena.hpp).
extern constinit SideArena arena;

// The heap, built on first use. Null to the thread that has it aside (below; building it is
// one way), which then uses the arena; any other thread waits until it is back.
Heap* heap() noexcept;

// Sets the built heap aside for the calling thread while it lives: its allocations come from the
// arena, and the other threads wait in heap(). For calls that allocate under the heap's lock
// (check()), which would otherwise wait for that lock themselves.
class Aside {
 public:
  Aside() noexcept;
  ~Aside();
  Aside(const Aside&) = delete;
  Aside& operator=(const Aside&) = delete;
};

// Writes "talc-face: <message>" to stderr and aborts: what the harness does with a call it
// cannot serve honestly (a pointer that is not from the heap, a heap found damaged).
[[noreturn]] void die(const char* fmt, ...) noexcept __attribute__((format(printf, 1, 2)));

// Calls served by the heap, and how many of them took a region lock (RegionLock's count for the
// calling thread moved): process-wide, for the report at exit.
extern constinit std::atomic<std::uint64_t> calls_served;
extern constinit std::atomic<std::uint64_t> calls_locked;

// Counts one call to the heap: construct before it, destroy after.
class CallScope {
 public:
  CallScope() noexcept : locks_(talc::RegionLock::taken_by_this_thread()) {}
  ~CallScope() {
    calls_served.fetch_add(1, std::memory_order_relaxed);
    if (talc::RegionLock::taken_by_this_thread() != locks_)
      calls_locked.fetch_add(1, std::memory_order_relaxed);
  }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

 private:
  std::uint64_t locks_;
};

// Registered (atexit) by the build: the report line of face_report.cpp.
void report_at_exit() noexcept;

}  // namespace talc_preload
