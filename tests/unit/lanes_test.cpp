// Lanes (lane_heap.hpp): each thread's share of the pages, and everything it promises:
// ownership and its end (thread exit, process death, fork, a fresh start), exact refusals,
// accounting, check(), memory that is not stranded, the containers, and the choice to go
// without. The pages themselves have tests of their own (pages_test.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "support/heap_checks.hpp"
#include "support/process.hpp"
#include "talc/allocator.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc::MapTalc;
using talc_test::ExpectAccounted;
using talc_test::HoldTheLock;

constexpr std::size_t kHeap = 4 << 20;

MapTalc<> Anonymous(std::size_t size = kHeap, talc::OpenOptions o = {}) {
  return MapTalc<>::anonymous(size, o);
}

// The class of the pages that serve a request of `size` bytes.
std::uint64_t ClassOf(std::size_t size) {
  return talc::PageConfig::class_of(talc::chunk_size_for(size));
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
  EXPECT_GE(s.cached_blocks, 1u) << "the freed block stays in its page, on the lane's list";
  ExpectAccounted(heap);
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

// A block another thread freed into its page, which that thread's lane serves from: a second
// free from this thread is refused, its lane alive or not.
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

// The atomic calls keep their promise: a slot naming a freed block is refused, slot unchanged.
TEST(Lanes, DeallocateFromASlotNamingACachedBlockIsRefused) {
  auto heap = Anonymous();
  const talc::Meta owner = heap.allocate(64);
  std::memset(owner.ptr(), 0xff, 64);  // null slots
  const talc::Result<talc::Meta> held = heap.try_allocate_into(owner, 0, 48);
  ASSERT_TRUE(held.ok());
  const talc::Meta block = *held;
  ASSERT_EQ(heap.deallocate(block), Errc::ok);  // freed behind the slot's back
  EXPECT_EQ(heap.deallocate_from(owner, 0), Errc::not_allocated);
  EXPECT_EQ(heap.try_reallocate_from(owner, 0, 500).error(), Errc::not_allocated);
  std::uint64_t slot;
  std::memcpy(&slot, owner.ptr(), sizeof slot);
  EXPECT_EQ(slot, block.offset);
  ExpectAccounted(heap);
}

// A thread's end gives its lane back, and with it every page that holds no block.
TEST(Lanes, AThreadThatEndsGivesItsLaneBack) {
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
// time, as a lock's holder), and its empty pages go back to the heap: by trim(), by a request
// short of memory. check() frees the lane.
TEST(Lanes, ALaneOfADeadProcessIsReclaimed) {
  const std::string name = talc_test::UniqueShmName("lanes");
  auto heap = MapTalc<>::create_shm(name, kHeap);
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
  // Another that dies holding blocks: its pages stay on its lane, which check() frees.
  const pid_t holder = talc_test::Spawn([&] {
    auto mine = MapTalc<>::open_shm(name);
    for (int i = 0; i < 20; ++i)
      if (!mine.try_allocate(200)) return 1;
    ::_exit(0);
  });
  ASSERT_EQ(talc_test::Wait(holder), 0);
  EXPECT_EQ(heap.stats().lanes_owned, 1u);
  ExpectAccounted(heap);
  s = heap.stats();
  EXPECT_EQ(s.lanes_owned, 0u);
  EXPECT_EQ(s.live_allocations, 20u) << "the dead process's blocks are live: nobody freed them";
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
  EXPECT_GT(heap.stats().cached_blocks, 0u) << "a live owner's lane is left alone";
  EXPECT_NE(talc::lane_load(lane.first[ClassOf(64)]), 0u) << "its page with it";
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
  const std::uint64_t first = talc::lane_load(parents->first[ClassOf(64)]);
  const std::uint32_t cur = talc::lane_load(parents->cur[ClassOf(64)]);
  const pid_t child = talc_test::Spawn([&] {
    if (heap.heap().held_lane() != nullptr) return 1;  // the record is its parent's
    const talc::Meta m = heap.allocate(64);
    const talc::LaneOwner* mine = heap.heap().held_lane();
    if (mine == nullptr || mine->lane == parents) return 2;
    if (heap.deallocate(m) != Errc::ok) return 3;
    ::_exit(0);
  });
  EXPECT_EQ(talc_test::Wait(child), 0);
  EXPECT_EQ(talc::lane_load(parents->first[ClassOf(64)]), first)
      << "the parent's lane is as it left it";
  EXPECT_EQ(talc::lane_load(parents->cur[ClassOf(64)]), cur);
  EXPECT_EQ(heap.heap().held_lane()->lane, parents);
  ExpectAccounted(heap);
}

// A request that finds no room gives back the empty pages of the thread's own lane and retries
// before it fails.
TEST(Lanes, EmptyPagesAreGivenBackBeforeARequestFails) {
  auto heap = Anonymous(256 << 10);
  std::vector<talc::Meta> v;
  for (;;) {
    const talc::Result<talc::Meta> m = heap.try_allocate(64);
    if (!m) break;
    v.push_back(*m);
  }
  for (const talc::Meta& m : v) ASSERT_EQ(heap.deallocate(m), Errc::ok);
  ASSERT_GT(heap.stats().cached_bytes, 0u);
  const talc::HeapStats before = heap.stats();
  const std::size_t most = before.free_bytes + before.cached_bytes - 4096;
  const talc::Result<talc::Meta> big = heap.try_allocate(most);
  ASSERT_TRUE(big.ok()) << talc::describe(big.error());
  EXPECT_EQ(heap.stats().failures, before.failures) << "the pages answered it: no refusal";
  EXPECT_EQ(heap.deallocate(*big), Errc::ok);
  ExpectAccounted(heap);
}

// A request no size of the region could hold is refused without giving back a page: the core
// alone refuses it (and counts it), with the error it gives, and nothing cached moves.
TEST(Lanes, AHopelessRequestIsRefusedWithoutGivingBackAnything) {
  auto heap = Anonymous(256 << 10);
  for (int i = 0; i < 64; ++i) heap.deallocate(heap.allocate(64 + 16 * (i % 8)));
  const talc::Meta small = heap.allocate(8192);  // above the pages: resized under the lock
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
  EXPECT_EQ(after.deallocations, before.deallocations) << "a page given back is a free";
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
  auto on = MapTalc<>::create_shm(name, kHeap);
  auto off = MapTalc<>::open_shm(name, talc::OpenOptions{.lanes = false});
  EXPECT_GT(off.stats().lanes, 0u);
  EXPECT_TRUE(off.heap().pages().present()) << "lanes come with pages";
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
  EXPECT_TRUE(heap.heap().page_usable(p.get()).has_value()) << "a page's block";
  EXPECT_EQ(heap.stats().live_allocations, 0u);
  EXPECT_GE(heap.stats().cached_blocks, 1u);
  ExpectAccounted(heap);
}

// check() proves the lanes: an owner word no process writes is damage.
TEST(Lanes, CheckFindsADamagedLane) {
  auto heap = Anonymous();
  heap.deallocate(heap.allocate(64));
  ASSERT_TRUE(heap.check().ok());
  auto& lane = const_cast<talc::Lane&>(heap.heap().lane(heap.heap().lane_count() - 1));
  talc::lane_store(lane.owner, talc::RegionLock::kWaiters | 1);
  const talc::CheckReport rep = heap.check();
  EXPECT_EQ(rep.code, Errc::corrupted);
  EXPECT_STREQ(rep.what, "a lane's owner word names nobody");
  talc::lane_store(lane.owner, std::uint64_t{0});
  EXPECT_TRUE(heap.check().ok());
}

// Many threads, each in its own lane, exchanging blocks: each free goes to the block's page.
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

// A stale owner handle whose block went back to its page: the atomic calls would write into a
// free block. Refused (not_allocated), nothing written, and the heap stays sound.
TEST(Lanes, AllocateIntoAStaleOwnerIsRefused) {
  auto heap = Anonymous();
  const talc::Meta owner = heap.allocate(64);
  ASSERT_EQ(heap.deallocate(owner), Errc::ok);
  EXPECT_EQ(heap.deallocate_from(owner, 0), Errc::not_allocated);
  EXPECT_EQ(heap.try_reallocate_from(owner, 0, 100).error(), Errc::not_allocated);
  const talc::Result<talc::Meta> r = heap.try_allocate_into(owner, 0, 48);
  EXPECT_EQ(r.error(), Errc::not_allocated) << "a freed owner is free to its user";
  ExpectAccounted(heap);
  EXPECT_FALSE(heap.heap().corrupted()) << "the heap got marked corrupted";
}

// try_allocate refuses a bad alignment, also for a request a lane's pages would serve, and also
// once the thread's cache of the class's page is ready (the inlined path once took any
// alignment of at most 16 for a power of two), and the refusal hands nothing out.
TEST(Lanes, ABadAlignmentIsRefused) {
  auto heap = Anonymous();
  EXPECT_EQ(heap.try_allocate(8, 3).error(), Errc::bad_alignment);
  EXPECT_EQ(heap.try_allocate(8, 0).error(), Errc::bad_alignment);
  for (const std::size_t size : {8, 64, 1000}) {
    const talc::Meta warm = heap.allocate(size);  // the class's page and its cache, ready
    const talc::HeapStats before = heap.stats();
    for (const std::size_t align : {0, 3, 5, 6, 7, 9, 12, 15, 24, 48})
      EXPECT_EQ(heap.try_allocate(size, align).error(), Errc::bad_alignment)
          << size << " bytes aligned to " << align;
    EXPECT_EQ(heap.stats().cached_blocks, before.cached_blocks) << "a refusal handed a block out";
    ASSERT_EQ(heap.deallocate(warm), Errc::ok);
  }
  ExpectAccounted(heap);
}

// Every request gets the same answer from a heap with lanes, asked cold (the thread's first
// request of the class) and warm (its cache of the class's page ready), as from one without:
// the same refusal, or a block as aligned and as large as asked, freed again. The inlined path
// once accepted alignments the core refuses.
TEST(Lanes, EveryRequestGetsTheSameAnswerWithAndWithoutLanes) {
  constexpr std::size_t kMax = SIZE_MAX;
  const std::size_t sizes[] = {0,    1,        8,        15,   16,      17,
                               1032, 1033,     4104,     4105, 1 << 20, std::size_t{1} << 40,
                               kMax, kMax - 8, kMax - 15};
  const std::size_t aligns[] = {0,
                                1,
                                2,
                                3,
                                4,
                                8,
                                12,
                                16,
                                24,
                                32,
                                48,
                                64,
                                128,
                                256,
                                512,
                                4096,
                                std::size_t{1} << 20,
                                std::size_t{1} << 30,
                                std::size_t{1} << 31,
                                kMax};
  auto answer = [](MapTalc<>& heap, std::size_t size, std::size_t align) {
    const talc::Result<talc::Meta> r = heap.try_allocate(size, align);
    if (!r) return r.error();
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(r->ptr()) % (align == 0 ? 1 : align), 0u)
        << size << " bytes aligned to " << align;
    const talc::Result<std::size_t> usable = heap.usable_size(r->ptr());
    EXPECT_TRUE(usable && *usable >= size) << size << " bytes aligned to " << align;
    EXPECT_EQ(heap.deallocate(*r), Errc::ok);
    return Errc::ok;
  };
  auto plain = Anonymous(kHeap, talc::OpenOptions{.lanes = false});
  for (const std::size_t size : sizes)
    for (const std::size_t align : aligns) {
      auto cold = Anonymous();
      auto warm = Anonymous();
      // The class's page, and the thread's cache of it, made ready.
      const talc::Result<talc::Meta> keep = warm.try_allocate(size, 16);
      const Errc want = answer(plain, size, align);
      EXPECT_EQ(answer(cold, size, align), want) << "cold: " << size << " aligned to " << align;
      EXPECT_EQ(answer(warm, size, align), want) << "warm: " << size << " aligned to " << align;
      if (keep) {
        EXPECT_EQ(warm.deallocate(*keep), Errc::ok);
      }
      ExpectAccounted(warm);
    }
  ExpectAccounted(plain);
}

// A size no block can ever have is size_overflow, the core's answer, whatever path holds the
// block and whatever is wrong with the handle: a page's block, a core block, a freed one and an
// interior pointer get the same answer from a heap with lanes as from one without.
TEST(Lanes, AnImpossibleSizeGetsTheCoresAnswerWhateverTheBlock) {
  for (const bool lanes : {true, false}) {
    auto heap = Anonymous(kHeap, talc::OpenOptions{.lanes = lanes});
    const talc::Meta owner = heap.allocate(64);
    for (const std::size_t size : {64, 4105}) {
      talc::Meta live = heap.allocate(size);
      const talc::Meta freed = heap.allocate(size);
      ASSERT_EQ(heap.deallocate(freed), Errc::ok);
      const talc::Meta inside{live.base, live.offset + 16, 8};
      static_cast<std::uint64_t*>(owner.ptr())[0] = freed.offset;
      for (const std::size_t huge : {SIZE_MAX, SIZE_MAX - 8}) {
        for (const talc::Meta& m : {live, freed, inside}) {
          EXPECT_EQ(heap.try_reallocate(m, huge).error(), Errc::size_overflow)
              << "lanes " << lanes << ", " << size << " bytes";
          talc::Meta g = m;
          EXPECT_EQ(heap.try_grow(g, huge), Errc::size_overflow)
              << "lanes " << lanes << ", " << size << " bytes";
        }
        EXPECT_EQ(heap.try_reallocate_from(owner, 0, huge).error(), Errc::size_overflow)
            << "lanes " << lanes << ", " << size << " bytes";
      }
      static_cast<std::uint64_t*>(owner.ptr())[0] = 0;
      ASSERT_EQ(heap.deallocate(live), Errc::ok);
    }
    ASSERT_EQ(heap.deallocate(owner), Errc::ok);
    ExpectAccounted(heap);
  }
}

// A heap without lanes has no pages: its aligned and small requests are the core's, and the fast
// path reads no page geometry for them (its page table is empty; the sanitizer builds catch a
// read of the geometry's tables with that table's zero page size).
TEST(Lanes, AHeapWithoutLanesServesAlignedAndSmallRequestsFromTheCore) {
  auto heap = Anonymous(kHeap, talc::OpenOptions{.lanes = false});
  for (std::size_t align : {8, 16, 32, 64, 128, 256})
    for (std::size_t size : {1, 64, 1000, 4000}) {
      const talc::Result<talc::Meta> m = heap.try_allocate(size, align);
      ASSERT_TRUE(m.ok()) << size << " " << align << ": " << talc::describe(m.error());
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m->ptr()) % align, 0u) << size << " " << align;
      EXPECT_EQ(heap.deallocate(*m), Errc::ok);
    }
  EXPECT_EQ(heap.census().free_chunks, 1u) << "every block went back to the core";
}

// The page table of a heap without lanes is read by every free without the lock: a region whose
// heap has no lanes but whose table names pages (a size, a page size) is refused when opened.
TEST(Lanes, AHeapWithoutLanesWhosePageTableIsNotEmptyIsRefused) {
  const std::string name = talc_test::UniqueShmName("lanes");
  {
    auto heap = MapTalc<>::create_shm(name, kHeap, talc::OpenOptions{.lanes = false});
    auto& pages = const_cast<talc::PageTable&>(heap.heap().pages());
    ASSERT_FALSE(pages.present());
    pages.cap = 1;
    pages.shift = 16;
  }
  try {
    MapTalc<>::open_shm(name);
    ADD_FAILURE() << "opened";
  } catch (const talc::OpenError& e) {
    EXPECT_EQ(e.code(), talc::make_error_code(Errc::corrupted)) << e.what();
  }
  MapTalc<>::remove_shm(name);
}

// try_allocate keeps a copy of the thread's lane across the out-of-memory handler; a handler
// that uses another heap moves that heap's record into the first slot, and a retry that read the
// slot again would work the other heap's lane with this heap's core.
TEST(Lanes, AnOutOfMemoryHandlerThatUsesAnotherHeapDoesNotSwapLanes) {
  auto h1 = Anonymous(256 << 10);
  auto h2 = Anonymous(256 << 10);
  std::vector<talc::Meta> mine;
  h2.deallocate(h2.allocate(64));  // h2's lane has a page of the class
  // Fill h1 with blocks that bypass the pages, then small ones until a small one fails.
  for (std::size_t sz : {16384u, 8192u, 4096u}) {
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
  const talc::HeapStats h2_before = h2.stats();
  int calls = 0;
  h1.on_out_of_memory([&](std::size_t) {
    // Some other work of this thread: on another heap.
    h2.deallocate(h2.allocate(64));
    return ++calls == 1;
  });
  const talc::Result<talc::Meta> r = h1.try_allocate(64);
  EXPECT_EQ(r.error(), Errc::out_of_memory) << "h1 is full; got offset " << (r ? r->offset : 0);
  EXPECT_EQ(h2.stats().live_allocations, h2_before.live_allocations)
      << "h2's pages lost a block to h1's request";
  EXPECT_EQ(h2.stats().cached_blocks, h2_before.cached_blocks);
  const talc::CheckReport rep2 = h2.check();
  EXPECT_TRUE(rep2.ok()) << rep2.what;
  if (r) {
    bool inside = false;
    for (const talc::Meta& m : mine)
      inside |= r->offset >= m.offset && r->offset < m.offset + m.size;
    EXPECT_FALSE(inside) << "h1 handed out memory inside a block that is live";
  }
}

// fresh_start() (reset_lanes) frees every lane but the ones this process's own threads hold and
// keep using through their records: else two threads would then work one lane without the lock.
TEST(Lanes, FreshStartLeavesNoLaneWithTwoOwners) {
  auto heap = Anonymous();
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
