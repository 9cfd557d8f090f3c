// Lanes (lane_heap.hpp): small blocks without the heap's lock, and everything they promise:
// ownership and its end (thread exit, process death, fork), exact refusals, accounting,
// check(), memory that is not stranded, the containers, and the choice to go without.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "support/process.hpp"
#include "talc/allocator.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc::MapTalc;

constexpr std::size_t kHeap = 4 << 20;

// The lanes' stacks (pages, the default, have tests of their own: pages_test.cpp).
MapTalc<> Anonymous(std::size_t size = kHeap, talc::OpenOptions o = {}) {
  o.pages = false;
  return MapTalc<>::anonymous(size, o);
}

// Every byte of the span is live, free, cached or overhead, and check() agrees.
void ExpectAccounted(MapTalc<>& heap) {
  const talc::HeapStats s = heap.stats();
  EXPECT_EQ(s.live_bytes + s.free_bytes + s.cached_bytes + s.overhead_bytes, s.span_bytes);
  const talc::CheckReport rep = heap.check();
  EXPECT_TRUE(rep.ok()) << rep.what << " at " << rep.offset;
}

TEST(Lanes, AreOnByDefaultAndServeSmallBlocksFromTheThreadsLane) {
  auto heap = Anonymous();
  EXPECT_GT(heap.stats().lanes, 0u);
  const talc::Meta a = heap.allocate(64);
  ASSERT_NE(heap.heap().held_lane(), nullptr) << "the first small request claims a lane";
  EXPECT_EQ(heap.stats().lanes_owned, 1u);
  EXPECT_EQ(heap.deallocate(a), Errc::ok);
  const talc::HeapStats s = heap.stats();
  EXPECT_EQ(s.live_allocations, 0u);
  EXPECT_GE(s.cached_blocks, 1u) << "the freed block stays in the lane";
  const talc::Meta b = heap.allocate(64);
  EXPECT_EQ(b.offset, a.offset) << "and is the next one handed out";
  EXPECT_EQ(heap.deallocate(b), Errc::ok);
  ExpectAccounted(heap);
}

// Another process that takes the heap's lock, says so through `holding`, and keeps the lock
// until `done`.
pid_t HoldTheLock(MapTalc<>& heap, talc_test::Signal& holding, talc_test::Signal& done) {
  return talc_test::Spawn([&] {
    if (heap.heap().lock().lock() != talc::LockOutcome::acquired) return 1;
    holding.Notify();
    done.Await();
    heap.heap().lock().unlock();
    return 0;
  });
}

// The proof that the fast path takes no lock: another process holds it all along.
TEST(Lanes, SmallBlocksComeAndGoWhileAnotherProcessHoldsTheLock) {
  auto heap = Anonymous(kHeap, talc::OpenOptions{.lock_wait = std::chrono::milliseconds(200)});
  std::vector<talc::Meta> warm;
  for (int i = 0; i < 8; ++i) warm.push_back(heap.allocate(64));
  for (const talc::Meta& m : warm) ASSERT_EQ(heap.deallocate(m), Errc::ok);
  talc_test::Signal holding, done;
  const pid_t holder = HoldTheLock(heap, holding, done);
  ASSERT_TRUE(holding.Await());
  for (int round = 0; round < 1000; ++round) {
    const talc::Result<talc::Meta> m = heap.try_allocate(64);
    ASSERT_TRUE(m.ok()) << talc::describe(m.error());
    ASSERT_EQ(heap.deallocate(*m), Errc::ok);
  }
  EXPECT_EQ(heap.try_allocate(4096).error(), Errc::lock_timeout) << "a large one needs the lock";
  done.Notify();
  EXPECT_EQ(talc_test::Wait(holder), 0);
  ExpectAccounted(heap);
}

// Also without the lock: a request aligned to 32 or 64 bytes that a block on top of its stack
// can serve, and the free of a block whose neighbour below is a free chunk of the heap.
TEST(Lanes, AlignedRequestsAndBlocksAboveAFreeChunkGoThroughTheLane) {
  auto heap = Anonymous(kHeap, talc::OpenOptions{.lock_wait = std::chrono::milliseconds(200)});
  std::vector<talc::Meta> v;
  for (int i = 0; i < 8; ++i) v.push_back(heap.allocate(64));  // one refill: adjacent chunks
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.offset < b.offset; });
  ASSERT_EQ(v[2].offset, v[1].offset + 80);
  // v[1] goes back to the heap, between two live blocks: v[2] now lies above a free chunk.
  ASSERT_EQ(heap.deallocate(v[1]), Errc::ok);
  ASSERT_EQ(heap.trim(), Errc::ok);
  const talc::Meta above = v[2];
  v.erase(v.begin() + 1, v.begin() + 3);
  for (const talc::Meta& m : v) ASSERT_EQ(heap.deallocate(m), Errc::ok);  // six cached
  const talc::HeapStats before = heap.stats();
  talc_test::Signal holding, done;
  const pid_t holder = HoldTheLock(heap, holding, done);
  ASSERT_TRUE(holding.Await());
  for (const std::size_t align : {32, 64}) {  // each block goes back where it came from
    const talc::Result<talc::Meta> m = heap.try_allocate(64, align);
    ASSERT_TRUE(m.ok()) << align << ": " << talc::describe(m.error());
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m->ptr()) % align, 0u);
    EXPECT_EQ(heap.deallocate(*m), Errc::ok);
  }
  EXPECT_EQ(heap.deallocate(above), Errc::ok);
  done.Notify();
  EXPECT_EQ(talc_test::Wait(holder), 0);
  EXPECT_EQ(heap.stats().cached_blocks, before.cached_blocks + 1) << "into the lane";
  EXPECT_EQ(heap.deallocate(above), Errc::not_allocated) << "it is cached: a double free";
  ExpectAccounted(heap);
}

TEST(Lanes, ADoubleFreeOfACachedBlockIsRefusedAndChangesNothing) {
  auto heap = Anonymous();
  const talc::Meta m = heap.allocate(100);
  ASSERT_EQ(heap.deallocate(m), Errc::ok);
  const talc::HeapStats before = heap.stats();
  EXPECT_EQ(heap.deallocate(m), Errc::not_allocated);
  EXPECT_EQ(heap.stats().cached_blocks, before.cached_blocks);
  // Every other call on the stale handle is refused the same way.
  EXPECT_EQ(heap.adopt(m.rel()).error(), Errc::not_allocated);
  EXPECT_EQ(heap.usable_size(m.ptr()).error(), Errc::not_allocated);
  EXPECT_EQ(heap.try_reallocate(m, 200).error(), Errc::not_allocated);
  talc::Meta grown = m;
  EXPECT_EQ(heap.try_grow(grown, 110), Errc::not_allocated);
  ExpectAccounted(heap);
}

// A block cached in a lane that another thread holds: that thread is alive, so its lane is
// made still while it is looked at, and the free is refused.
TEST(Lanes, AFreeOfABlockAnotherThreadsLaneHoldsIsRefused) {
  auto heap = Anonymous();
  std::atomic<int> stage{0};
  talc::Meta cached;
  std::thread other([&] {
    cached = heap.allocate(64);
    EXPECT_EQ(heap.deallocate(cached), Errc::ok);
    stage = 1;
    while (stage.load() != 2) std::this_thread::yield();
  });
  while (stage.load() != 1) std::this_thread::yield();
  (void)heap.allocate(32);  // this thread has a lane of its own
  EXPECT_EQ(heap.deallocate(cached), Errc::not_allocated);
  EXPECT_EQ(heap.adopt(cached.rel()).error(), Errc::not_allocated);
  stage = 2;
  other.join();
  ExpectAccounted(heap);
}

// The atomic calls keep their promise: a slot naming a cached block is refused, slot unchanged.
TEST(Lanes, DeallocateFromASlotNamingACachedBlockIsRefused) {
  auto heap = Anonymous();
  const talc::Meta owner = heap.allocate(64);
  std::memset(owner.ptr(), 0xff, 64);  // null slots
  const talc::Result<talc::Meta> held = heap.try_allocate_into(owner, 0, 48);
  ASSERT_TRUE(held.ok());
  const talc::Meta block = *held;
  ASSERT_EQ(heap.deallocate(block), Errc::ok);  // freed behind the slot's back: now cached
  EXPECT_EQ(heap.deallocate_from(owner, 0), Errc::not_allocated);
  EXPECT_EQ(heap.try_reallocate_from(owner, 0, 500).error(), Errc::not_allocated);
  std::uint64_t slot;
  std::memcpy(&slot, owner.ptr(), sizeof slot);
  EXPECT_EQ(slot, block.offset);
  ExpectAccounted(heap);
}

TEST(Lanes, AThreadThatEndsGivesItsLaneBackDrained) {
  auto heap = Anonymous();
  std::thread t([&] {
    std::vector<talc::Meta> v;
    for (int i = 0; i < 50; ++i) v.push_back(heap.allocate(16 + 16 * (i % 10)));
    for (const talc::Meta& m : v) EXPECT_EQ(heap.deallocate(m), Errc::ok);
    EXPECT_GT(heap.stats().cached_blocks, 0u);
  });
  t.join();
  const talc::HeapStats s = heap.stats();
  EXPECT_EQ(s.lanes_owned, 0u);
  EXPECT_EQ(s.cached_blocks, 0u);
  EXPECT_EQ(heap.census().free_chunks, 1u);
  ExpectAccounted(heap);
}

// A process that dies owning a lane gives nothing back; its lane is found dead (pid and start
// time, as a lock's holder) and reclaimed: by trim(), by a request short of memory, by check().
TEST(Lanes, ALaneOfADeadProcessIsReclaimed) {
  const std::string name = talc_test::UniqueShmName("lanes");
  auto heap = MapTalc<>::create_shm(name, kHeap, talc::OpenOptions{.pages = false});
  const pid_t child = talc_test::Spawn([&] {
    auto mine = MapTalc<>::open_shm(name);
    std::vector<talc::Meta> v;
    for (int i = 0; i < 20; ++i) v.push_back(mine.allocate(200));
    for (const talc::Meta& m : v)
      if (mine.deallocate(m) != Errc::ok) return 1;
    ::_exit(0);  // no destructor, no thread-exit hook: the lane stays the dead process's
  });
  ASSERT_EQ(talc_test::Wait(child), 0);
  talc::HeapStats s = heap.stats();
  EXPECT_EQ(s.lanes_owned, 1u);
  EXPECT_GT(s.cached_blocks, 0u);
  EXPECT_EQ(heap.trim(), Errc::ok);
  s = heap.stats();
  EXPECT_EQ(s.lanes_owned, 0u);
  EXPECT_EQ(s.cached_blocks, 0u);
  EXPECT_EQ(heap.census().free_chunks, 1u);
  ExpectAccounted(heap);
  MapTalc<>::remove_shm(name);
}

// A lane whose owner word names this pid with another start time is a previous process that
// had this pid: dead, and reclaimed. One naming a live process is left alone.
TEST(Lanes, AReusedPidIsNotTakenForTheOwner) {
  auto heap = Anonymous();
  const pid_t dead = talc_test::Spawn([&] {
    const talc::Meta m = heap.allocate(64);
    if (heap.deallocate(m) != Errc::ok) return 1;
    ::_exit(0);
  });
  ASSERT_EQ(talc_test::Wait(dead), 0);
  const talc::Lane* found = nullptr;
  for (std::uint64_t i = 0; i < heap.heap().lane_count(); ++i)
    if ((talc::lane_load(heap.heap().lane(i).owner) & talc::RegionLock::kPidMask) ==
        static_cast<std::uint64_t>(dead))
      found = &heap.heap().lane(i);
  ASSERT_NE(found, nullptr);
  auto& lane = const_cast<talc::Lane&>(*found);
  talc_test::Signal up, done;
  const pid_t live = talc_test::Spawn([&] {
    up.Notify();
    done.Await();
    return 0;
  });
  ASSERT_TRUE(up.Await());
  // A live process, named by its pid and start time: its lane is left alone.
  talc::lane_store(lane.owner,
                   (std::uint64_t{talc::process_tag(static_cast<std::uint32_t>(live))} << 32) |
                       static_cast<std::uint64_t>(live));
  EXPECT_EQ(heap.trim(), Errc::ok);
  EXPECT_EQ(heap.stats().cached_blocks,
            talc::lane_load(lane.count[talc::LaneConfig::class_of(80)]));
  EXPECT_GT(heap.stats().cached_blocks, 0u) << "a live owner's lane is left alone";
  // This process's pid with another start time: a previous process that had the pid.
  const std::uint64_t me = talc::RegionLock::self();
  talc::lane_store(lane.owner, std::uint64_t{(me & 0xffffffffULL) | (((me >> 32) ^ 0x5a5a) << 32)});
  EXPECT_EQ(heap.trim(), Errc::ok);
  EXPECT_EQ(heap.stats().cached_blocks, 0u);
  EXPECT_EQ(talc::lane_load(lane.owner), 0u);
  done.Notify();
  EXPECT_EQ(talc_test::Wait(live), 0);
  ExpectAccounted(heap);
}

TEST(Lanes, AForkedChildNeverUsesItsParentsLane) {
  auto heap = Anonymous();
  std::vector<talc::Meta> v;
  for (int i = 0; i < 5; ++i) v.push_back(heap.allocate(64));
  for (const talc::Meta& m : v) ASSERT_EQ(heap.deallocate(m), Errc::ok);
  const talc::Lane* parents = heap.heap().held_lane()->lane;
  const std::uint32_t cached = talc::lane_load(parents->count[talc::LaneConfig::class_of(80)]);
  const pid_t child = talc_test::Spawn([&] {
    if (heap.heap().held_lane() != nullptr) return 1;  // the record is its parent's
    const talc::Meta m = heap.allocate(64);
    const talc::LaneOwner* mine = heap.heap().held_lane();
    if (mine == nullptr || mine->lane == parents) return 2;
    if (heap.deallocate(m) != Errc::ok) return 3;
    ::_exit(0);
  });
  EXPECT_EQ(talc_test::Wait(child), 0);
  EXPECT_EQ(talc::lane_load(parents->count[talc::LaneConfig::class_of(80)]), cached)
      << "the parent's lane is as it left it";
  EXPECT_EQ(heap.heap().held_lane()->lane, parents);
  ExpectAccounted(heap);
}

// A request that finds no room drains the thread's own lane and retries before it fails.
TEST(Lanes, CachedBlocksAreGivenBackBeforeARequestFails) {
  auto heap = Anonymous(256 << 10);
  std::vector<talc::Meta> v;
  for (;;) {
    const talc::Result<talc::Meta> m = heap.try_allocate(512);
    if (!m) break;
    v.push_back(*m);
  }
  for (const talc::Meta& m : v) ASSERT_EQ(heap.deallocate(m), Errc::ok);
  ASSERT_GT(heap.stats().cached_bytes, 0u);
  const talc::HeapStats before = heap.stats();
  const std::size_t most = before.free_bytes + before.cached_bytes - 4096;
  const talc::Result<talc::Meta> big = heap.try_allocate(most);
  ASSERT_TRUE(big.ok()) << talc::describe(big.error());
  EXPECT_EQ(heap.stats().failures, before.failures) << "the drain answered it: no refusal";
  EXPECT_EQ(heap.deallocate(*big), Errc::ok);
  ExpectAccounted(heap);
}

// A request no size of the region could hold is refused without draining a lane: the core
// alone refuses it (and counts it), with the error it gives, and nothing cached moves.
TEST(Lanes, AHopelessRequestIsRefusedWithoutDrainingAnything) {
  auto heap = Anonymous(256 << 10);
  for (int i = 0; i < 64; ++i) heap.deallocate(heap.allocate(64 + 16 * (i % 8)));
  const talc::Meta small = heap.allocate(2048);  // above the lanes: resized under the lock
  const talc::HeapStats before = heap.stats();
  ASSERT_GT(before.cached_blocks, 0u);
  for (const std::size_t size : {heap.size(), 2 * heap.size(), std::size_t{1} << 62}) {
    const Errc e = size > heap.size() * 2 ? Errc::size_overflow : Errc::out_of_memory;
    EXPECT_EQ(heap.try_allocate(size).error(), e);
    EXPECT_EQ(heap.try_reallocate(small, size).error(), e);
  }
  const talc::HeapStats after = heap.stats();
  EXPECT_EQ(after.cached_blocks, before.cached_blocks);
  EXPECT_EQ(after.cached_bytes, before.cached_bytes);
  EXPECT_EQ(after.deallocations, before.deallocations) << "a drain frees blocks into the heap";
  EXPECT_EQ(after.free_chunks, before.free_chunks);
  EXPECT_EQ(heap.deallocate(small), Errc::ok);
}

TEST(Lanes, CanBeTurnedOffAndEveryProcessFollowsTheHeap) {
  const std::string name = talc_test::UniqueShmName("lanes");
  auto heap = MapTalc<>::create_shm(name, kHeap, talc::OpenOptions{.lanes = false});
  EXPECT_EQ(heap.stats().lanes, 0u);
  const talc::Meta m = heap.allocate(64);
  EXPECT_EQ(heap.heap().held_lane(), nullptr);
  EXPECT_EQ(heap.deallocate(m), Errc::ok);
  EXPECT_EQ(heap.census().free_chunks, 1u) << "straight back to the heap";
  // The heap records the choice: an opener that asks for lanes follows it, and the other way.
  auto other = MapTalc<>::open_shm(name);
  EXPECT_EQ(other.stats().lanes, 0u);
  MapTalc<>::remove_shm(name);
  auto on = MapTalc<>::create_shm(name, kHeap, talc::OpenOptions{.pages = false});
  auto off = MapTalc<>::open_shm(name, talc::OpenOptions{.lanes = false});
  EXPECT_GT(off.stats().lanes, 0u);
  MapTalc<>::remove_shm(name);
  // A checked heap (every free proven by a walk under the lock) has none either.
  auto checked = Anonymous(kHeap, talc::OpenOptions{.claim = {.checked = true}});
  EXPECT_EQ(checked.stats().lanes, 0u);
}

TEST(Lanes, TheContainersAllocatorGoesThroughTheLane) {
  auto heap = Anonymous();
  talc::Allocator<int> a(heap);
  talc::OffsetPtr<int> p = a.allocate(10);
  ASSERT_NE(heap.heap().held_lane(), nullptr);
  a.deallocate(p, 10);
  EXPECT_GE(heap.stats().cached_blocks, 1u);
  talc::OffsetPtr<int> q = a.allocate(10);
  EXPECT_EQ(q.get(), p.get()) << "the cached block comes back";
  a.deallocate(q, 10);
  ExpectAccounted(heap);
}

// check() proves the lanes: a stack that loops, or a cached block without its lane's mark.
TEST(Lanes, CheckFindsADamagedLane) {
  auto heap = Anonymous();
  std::vector<talc::Meta> v;
  for (int i = 0; i < 3; ++i) v.push_back(heap.allocate(64));
  for (const talc::Meta& m : v) ASSERT_EQ(heap.deallocate(m), Errc::ok);
  ASSERT_TRUE(heap.check().ok());
  auto* top = static_cast<std::uint64_t*>(v.back().ptr());  // the head of its stack
  const std::uint64_t link = top[0], mark = top[1];
  top[1] = 0;
  talc::CheckReport rep = heap.check();
  EXPECT_EQ(rep.code, Errc::corrupted);
  EXPECT_STREQ(rep.what, "a cached block lacks its lane's mark");
  top[1] = mark;
  top[0] = heap.heap().meta().offset_of(top);  // names itself: the stack never ends
  rep = heap.check();
  EXPECT_EQ(rep.code, Errc::corrupted);
  EXPECT_STREQ(rep.what, "a lane's stack does not end");
  top[0] = link;
  EXPECT_TRUE(heap.check().ok());
}

// Many threads, each in its own lane, exchanging blocks: each free goes to the freer's lane.
TEST(Lanes, ThreadsExchangingBlocksKeepAnExactAccount) {
  auto heap = Anonymous(16 << 20);
  constexpr int kThreads = 4, kRounds = 20000;
  std::vector<std::atomic<std::uint64_t>> box(kThreads);
  for (auto& b : box) b = talc::Rel<std::byte>::kNull;
  std::atomic<int> refused{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const talc::Meta m = heap.allocate(8 + (i * 7 + t) % 700);
        std::memset(m.ptr(), t, 8);
        const std::uint64_t old = box[(t + 1) % kThreads].exchange(m.offset);
        if (old == talc::Rel<std::byte>::kNull) continue;
        const talc::Result<talc::Meta> got =
            heap.adopt(talc::RelMeta(talc::Rel<std::byte>::from_offset(old), 8));
        if (!got || heap.deallocate(*got) != Errc::ok) ++refused;
      }
    });
  for (std::thread& t : ts) t.join();
  EXPECT_EQ(refused.load(), 0);
  for (auto& b : box) {
    if (b == talc::Rel<std::byte>::kNull) continue;
    const talc::Result<talc::Meta> got =
        heap.adopt(talc::RelMeta(talc::Rel<std::byte>::from_offset(b), 8));
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(heap.deallocate(*got), Errc::ok);
  }
  EXPECT_EQ(heap.stats().live_allocations, 0u);
  ExpectAccounted(heap);
  EXPECT_EQ(heap.trim(), Errc::ok);
  EXPECT_EQ(heap.census().free_chunks, 1u);
}

}  // namespace
