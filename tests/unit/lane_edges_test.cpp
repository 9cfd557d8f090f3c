// Lanes at their edges: the cases a first design got wrong, each kept as a test. A stale owner
// handle, a bad alignment, a callback that uses another heap, a pause left behind, a double
// free racing the owner, whole chunks taken by a refill, accounting, and a fresh start.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "support/stack_heap.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc::MapTalc;

// (A) A stale *owner* handle whose block sits in a lane: the atomic calls would write into the
// cached block's link word. Without lanes the core refuses (not_allocated).
TEST(LaneEdges, AllocateIntoAStaleOwnerThatIsCachedIsRefused) {
  auto heap = talc_test::StackHeap(4 << 20);
  const talc::Meta owner = heap.allocate(64);
  ASSERT_EQ(heap.deallocate(owner), Errc::ok);  // cached now: its words are the lane's
  ASSERT_GE(heap.stats().cached_blocks, 1u);
  EXPECT_EQ(heap.deallocate_from(owner, 0), Errc::not_allocated);
  EXPECT_EQ(heap.try_reallocate_from(owner, 0, 100).error(), Errc::not_allocated);
  const talc::Result<talc::Meta> r = heap.try_allocate_into(owner, 0, 48);
  EXPECT_EQ(r.error(), Errc::not_allocated) << "a cached owner is free to its user";
  const talc::CheckReport rep = heap.check();
  EXPECT_TRUE(rep.ok()) << rep.what << " at " << rep.offset;
  // The lane's stack now links to whatever the slot was given: two more pops.
  const talc::Result<talc::Meta> a = heap.try_allocate(64);
  const talc::Result<talc::Meta> b = heap.try_allocate(64);
  EXPECT_TRUE(a.ok()) << talc::describe(a.error());
  EXPECT_TRUE(b.ok()) << talc::describe(b.error());
  EXPECT_FALSE(heap.heap().corrupted()) << "the heap got marked corrupted";
}

// (B) try_allocate no longer refuses a bad alignment when the request fits a lane.
TEST(LaneEdges, ABadAlignmentIsStillRefused) {
  auto heap = talc_test::StackHeap(4 << 20);
  EXPECT_EQ(heap.try_allocate(8, 3).error(), Errc::bad_alignment);
  EXPECT_EQ(heap.try_allocate(8, 0).error(), Errc::bad_alignment);
}

// (C) try_allocate keeps a pointer into the thread's TLS records across the out-of-memory
// handler; a handler that uses another heap moves that heap's record into the slot, and the
// retry works the other heap's lane with this heap's core.
TEST(LaneEdges, AnOutOfMemoryHandlerThatUsesAnotherHeapDoesNotSwapLanes) {
  auto h1 = talc_test::StackHeap(256 << 10);
  auto h2 = talc_test::StackHeap(256 << 10);
  std::vector<talc::Meta> mine;
  // h2's lane holds 80-byte blocks.
  h2.deallocate(h2.allocate(64));
  // Fill h1 with blocks that bypass lanes, then small ones until a small one fails.
  for (std::size_t sz : {4096u, 2048u, 1100u}) {
    for (;;) {
      const talc::Result<talc::Meta> m = h1.try_allocate(sz);
      if (!m) break;
      mine.push_back(*m);
    }
  }
  for (;;) {
    const talc::Result<talc::Meta> m = h1.try_allocate(64);
    if (!m) break;
    mine.push_back(*m);
  }
  ASSERT_EQ(h1.try_allocate(64).error(), Errc::out_of_memory);
  const std::uint64_t h2_cached = h2.stats().cached_blocks;
  int calls = 0;
  h1.on_out_of_memory([&](std::size_t) {
    // Some other work of this thread: on another heap.
    h2.deallocate(h2.allocate(64));
    return ++calls == 1;
  });
  const talc::Result<talc::Meta> r = h1.try_allocate(64);
  EXPECT_EQ(r.error(), Errc::out_of_memory) << "h1 is full; got offset " << (r ? r->offset : 0);
  EXPECT_EQ(h2.stats().cached_blocks, h2_cached) << "h2's lane lost a block to h1's request";
  const talc::CheckReport rep2 = h2.check();
  EXPECT_TRUE(rep2.ok()) << rep2.what;
  if (r) {
    bool inside = false;
    for (const talc::Meta& m : mine)
      inside |= r->offset >= m.offset && r->offset < m.offset + m.size;
    EXPECT_FALSE(inside) << "h1 handed out memory inside a block that is live";
  }
}

// (D) A lane left paused (e.g. check()'s walk throwing bad_alloc after freezing every lane)
// makes the owner's next refill_pop answer corrupted, and the heap is marked corrupted.
TEST(LaneEdges, APauseLeftBehindIsNotTakenForDamage) {
  auto heap = talc_test::StackHeap(4 << 20);
  heap.deallocate(heap.allocate(64));
  auto* lane = const_cast<talc::Lane*>(heap.heap().held_lane()->lane);
  talc::lane_store(lane->pause, std::uint64_t{1});  // what check_lanes leaves on bad_alloc
  const talc::Result<talc::Meta> m = heap.try_allocate(64);
  EXPECT_TRUE(m.ok()) << talc::describe(m.error());
  EXPECT_FALSE(heap.heap().corrupted());
}

// check() waits for a lane's owner inside an operation no longer than the heap's lock_wait: the
// owner here is this live thread, left with an odd `seq` as if stopped mid-operation.
TEST(LaneEdges, CheckWaitsForABusyOwnerNoLongerThanLockWait) {
  auto heap = talc_test::StackHeap(4 << 20, {.lock_wait = std::chrono::milliseconds(200)});
  heap.deallocate(heap.allocate(64));
  auto* lane = const_cast<talc::Lane*>(heap.heap().held_lane()->lane);
  const std::uint64_t seq = talc::lane_load(lane->seq);
  talc::lane_store(lane->seq, seq + 1);
  const auto t0 = std::chrono::steady_clock::now();
  const talc::CheckReport rep = heap.check();
  const auto waited = std::chrono::steady_clock::now() - t0;
  talc::lane_store(lane->seq, seq);
  EXPECT_EQ(rep.code, Errc::lock_timeout);
  EXPECT_GE(waited, std::chrono::milliseconds(200));
  EXPECT_LT(waited, std::chrono::seconds(5));
  EXPECT_TRUE(heap.check().ok());
}

// (E) The pause/seq handshake: the owner reads `pause` before it makes `seq` odd and never
// again, so a freezer that saw `seq` even can walk a stack the owner is changing. Stress: one
// thread pops and pushes above a cached block u, scribbling on each popped block's link word;
// another frees u again and again (a double free that must always be refused).
TEST(LaneEdges, ADoubleFreeRacingTheOwnerIsAlwaysRefused) {
  auto heap = talc_test::StackHeap(16 << 20);
  std::atomic<int> stage{0};
  std::atomic<std::uint64_t> u_off{0};
  std::atomic<bool> stop{false};
  std::atomic<long> accepted{0}, rounds{0};
  std::thread owner([&] {
    const talc::Meta u = heap.allocate(64);
    talc::Meta w1 = heap.allocate(64), w2 = heap.allocate(64);
    // Stack (top first) after these: w2, w1, u, (rest of the refill).
    heap.deallocate(u);
    heap.deallocate(w1);
    heap.deallocate(w2);
    u_off = u.offset;
    stage = 1;
    while (!stop.load(std::memory_order_relaxed)) {
      w2 = heap.allocate(64);
      std::memset(w2.ptr(), 0x11, 16);  // the user's bytes: word 0 = garbage
      w1 = heap.allocate(64);
      std::memset(w1.ptr(), 0x11, 16);
      heap.deallocate(w1);
      heap.deallocate(w2);
    }
  });
  while (stage.load() != 1) std::this_thread::yield();
  const talc::Meta stale{heap.base(), u_off.load(), 64};
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < until && accepted.load() == 0) {
    if (heap.deallocate(stale) == Errc::ok) ++accepted;
    ++rounds;
  }
  stop = true;
  owner.join();
  EXPECT_EQ(accepted.load(), 0) << "a double free of a cached block was accepted after "
                                << rounds.load() << " tries";
}

// Under the lock: every free chunk allocated, largest requests first.
template <class M>
void Exhaust(M& m) {
  for (std::size_t size = std::size_t{1} << 22; size > 0; size /= 2)
    while (m.allocate(size)) {
    }
}

// (F) A refill that finds a free chunk only 16 bytes larger than its class takes it whole; such
// a block never enters the lane of the smaller class (a double free of it could then be looked
// for in the wrong stack): it goes to the request itself, and once freed it is cached in its
// own class, where a second free finds it.
TEST(LaneEdges, AWholeChunkTakenByARefillIsCachedInItsOwnClass) {
  auto heap = talc_test::StackHeap(4 << 20);
  heap.deallocate(heap.allocate(500));  // claim the lane; the 80-byte class stays empty
  void* x = nullptr;
  heap.with_lock([&](auto& m) {
    (void)*m.allocate(2000);
    x = *m.allocate(88);  // a 96-byte chunk between two fences
    (void)*m.allocate(2000);
    Exhaust(m);             // no other free chunk: the refill takes blocks one by one
    (void)m.deallocate(x);  // the user frees it: a 96-byte hole
  });
  const talc::Meta a = heap.allocate(64);
  EXPECT_EQ(a.ptr(), x) << "the hole serves the request itself";
  ASSERT_TRUE(heap.check().ok());
  ASSERT_EQ(heap.deallocate(a), Errc::ok);
  const talc::HeapStats before = heap.stats();
  EXPECT_EQ(heap.deallocate(a), Errc::not_allocated) << "x again: it is cached";
  EXPECT_EQ(heap.stats().cached_blocks, before.cached_blocks);
  const talc::CheckReport rep = heap.check();
  EXPECT_TRUE(rep.ok()) << rep.what << " at " << rep.offset;
}

// (G) The same at the top class: a 1056-byte chunk is larger than any lane's block, so it goes
// to the request, and back to the heap when freed.
TEST(LaneEdges, AWholeChunkAboveTheTopClassNeverEntersALane) {
  auto heap = talc_test::StackHeap(4 << 20);
  heap.deallocate(heap.allocate(64));
  void* x = nullptr;
  heap.with_lock([&](auto& m) {
    (void)*m.allocate(2000);
    x = *m.allocate(1048);  // a 1056-byte chunk
    (void)*m.allocate(2000);
    Exhaust(m);
    (void)m.deallocate(x);
  });
  const talc::Meta a = heap.allocate(1032);
  EXPECT_EQ(a.ptr(), x);
  ASSERT_EQ(heap.deallocate(a), Errc::ok);
  EXPECT_EQ(heap.deallocate(a), Errc::not_allocated);
  const talc::CheckReport rep = heap.check();
  EXPECT_TRUE(rep.ok()) << rep.what << " at " << rep.offset;
}

// (G2) A refill carves its blocks side by side in one operation (allocate_run). When the only
// free chunk is 16 bytes more than the blocks asked for, a remainder of 16 bytes cannot stand
// alone: it carves one block less, and every block it caches is exactly of its class.
TEST(LaneEdges, ARefillCarvesOneBlockLessRatherThanA16ByteRemainder) {
  auto heap = talc_test::StackHeap(4 << 20);
  heap.deallocate(heap.allocate(500));  // claim the lane; the 80-byte class stays empty
  void* x = nullptr;
  heap.with_lock([&](auto& m) {
    (void)*m.allocate(2000);
    x = *m.allocate(talc::LaneConfig::kRefill * 80 + 16 - talc::kTagSize);
    (void)*m.allocate(2000);
    Exhaust(m);
    (void)m.deallocate(x);
  });
  const talc::HeapStats before = heap.stats();
  const talc::Meta a = heap.allocate(64);
  EXPECT_EQ(static_cast<std::byte*>(a.ptr()),
            static_cast<std::byte*>(x) + (talc::LaneConfig::kRefill - 2) * 80)
      << "the top block of the run";
  const talc::HeapStats after = heap.stats();
  EXPECT_EQ(after.cached_blocks, before.cached_blocks + talc::LaneConfig::kRefill - 2)
      << "one block less than a refill, one of them handed out";
  const talc::Census c = heap.census();
  EXPECT_EQ(c.free_chunks, 1u);
  EXPECT_EQ(c.largest_free, 80u + 16) << "what is left of the hole: a chunk of its own";
  const talc::CheckReport rep = heap.check();
  EXPECT_TRUE(rep.ok()) << rep.what << " at " << rep.offset;
  EXPECT_EQ(heap.deallocate(a), Errc::ok);
}

// (H) Accounting: a refill cut short by a full heap counts no failure: the request succeeded.
TEST(LaneEdges, APartialRefillIsNoFailure) {
  auto heap = talc_test::StackHeap(4 << 20);
  const talc::HeapStats fresh = heap.stats();
  EXPECT_EQ(fresh.live_bytes, 0u);
  std::vector<talc::Meta> v;
  for (;;) {
    const talc::Result<talc::Meta> m = heap.try_allocate(4000);
    if (!m) break;
    v.push_back(*m);
  }
  heap.deallocate(heap.allocate(500));  // claim a lane
  // Room for less than a whole refill of 64-byte blocks: one big block back, then a core block
  // under the lock takes all of it but about 400 bytes.
  ASSERT_EQ(heap.deallocate(v.back()), Errc::ok);
  const talc::HeapStats s = heap.stats();
  heap.with_lock([&](auto& m) { ASSERT_TRUE(m.allocate(s.largest_free - 400).ok()); });
  const talc::HeapStats full = heap.stats();
  ASSERT_LT(full.free_bytes, 8 * 80u) << "room for a whole refill; adjust";
  ASSERT_GE(full.free_bytes, 2 * 80u);
  const std::uint64_t failures = heap.stats().failures;
  ASSERT_TRUE(heap.try_allocate(64).ok());
  EXPECT_EQ(heap.stats().failures, failures) << "the request succeeded";
}

// (I) fresh_start() (reset_lanes, Reclaim::any) frees every lane, including the ones this
// process's own threads hold and keep using through their records: two threads then work one
// lane without the lock.
TEST(LaneEdges, FreshStartLeavesNoLaneWithTwoOwners) {
  auto heap = talc_test::StackHeap(4 << 20);
  heap.deallocate(heap.allocate(64));
  const talc::Lane* mine = heap.heap().held_lane()->lane;
  ASSERT_EQ(heap.fresh_start(), Errc::ok);
  const talc::Lane* other = nullptr;
  std::thread t([&] {
    heap.deallocate(heap.allocate(64));
    other = heap.heap().held_lane()->lane;
  });
  t.join();
  EXPECT_EQ(heap.heap().held_lane() == nullptr ? nullptr : heap.heap().held_lane()->lane, mine);
  EXPECT_NE(other, mine) << "two threads of one process hold the same lane";
}

}  // namespace
