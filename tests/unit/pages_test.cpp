// Pages (pages/page_table.hpp): small blocks a lane serves from pages and any thread or process
// gives back without the heap's lock; exact refusals through every path, hostile bytes refused,
// accounting, check(), and memory that is not stranded.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "support/heap_checks.hpp"
#include "support/process.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc::MapTalc;
using talc_test::ExpectAccounted;
using talc_test::HoldTheLock;

constexpr std::size_t kHeap = 4 << 20;

MapTalc<> Paged(std::size_t size = kHeap, talc::OpenOptions o = {}) {
  return MapTalc<>::anonymous(size, o);
}

TEST(Pages, ServeSmallBlocksAndCountThemExactly) {
  auto heap = Paged();
  ASSERT_TRUE(heap.heap().has_lanes());
  std::vector<talc::Meta> held;
  for (int i = 0; i < 1000; ++i) held.push_back(heap.allocate(40));
  talc::HeapStats s = heap.stats();
  EXPECT_EQ(s.live_allocations, 1000u);
  EXPECT_EQ(s.live_bytes, 1000u * 40u) << "a 40-byte request gets a 48-byte block: 40 usable";
  std::set<std::uint64_t> offsets;
  for (const talc::Meta& m : held) {
    EXPECT_EQ(m.offset % 16, 0u);
    EXPECT_TRUE(offsets.insert(m.offset).second) << "handed out twice";
    std::memset(m.ptr(), 0xab, m.size);
  }
  ExpectAccounted(heap);
  for (const talc::Meta& m : held) ASSERT_EQ(heap.deallocate(m), Errc::ok);
  s = heap.stats();
  EXPECT_EQ(s.live_allocations, 0u);
  EXPECT_EQ(s.live_bytes, 0u);
  EXPECT_GE(s.cached_blocks, 1000u) << "the blocks stay in their pages, free";
  ExpectAccounted(heap);
}

// The proof that neither a block's owner nor anyone who gives a block back takes the lock:
// another process holds it all along, and a third gives back what this one allocated.
TEST(Pages, BlocksComeAndGoAcrossProcessesWhileAnotherHoldsTheLock) {
  auto heap = Paged(kHeap, talc::OpenOptions{.lock_wait = std::chrono::milliseconds(200)});
  std::vector<talc::Meta> warm;
  for (int i = 0; i < 8; ++i) warm.push_back(heap.allocate(64));
  for (const talc::Meta& m : warm) ASSERT_EQ(heap.deallocate(m), Errc::ok);
  talc_test::Signal holding, done;
  const pid_t holder = HoldTheLock(heap, holding, done);
  ASSERT_TRUE(holding.Await());
  for (int round = 0; round < 20; ++round) {
    std::vector<talc::Meta> batch;
    for (int i = 0; i < 50; ++i) {
      const talc::Result<talc::Meta> m = heap.try_allocate(64);
      ASSERT_TRUE(m.ok()) << "round " << round << ": " << talc::describe(m.error());
      batch.push_back(*m);
    }
    const pid_t freer = talc_test::Spawn([&] {
      for (const talc::Meta& m : batch)
        if (heap.deallocate(m) != Errc::ok) return 1;
      return 0;
    });
    ASSERT_EQ(talc_test::Wait(freer), 0) << "another process gives the blocks back";
  }
  EXPECT_EQ(heap.try_allocate(4096).error(), Errc::lock_timeout) << "a large one needs the lock";
  done.Notify();
  EXPECT_EQ(talc_test::Wait(holder), 0);
  EXPECT_EQ(heap.stats().live_allocations, 0u);
  ExpectAccounted(heap);
}

// An aligned request takes a block of a class whose chunks are multiples of the alignment: every
// block of such a class is aligned, so it needs no lock either.
TEST(Pages, ServeAlignedBlocksWithoutTheLock) {
  auto heap = Paged(kHeap, talc::OpenOptions{.lock_wait = std::chrono::milliseconds(200)});
  std::vector<talc::Meta> warm;
  for (std::size_t align : {32, 64, 128, 256}) warm.push_back(heap.allocate(100, align));
  for (const talc::Meta& m : warm) ASSERT_EQ(heap.deallocate(m), Errc::ok);
  talc_test::Signal holding, done;
  const pid_t holder = HoldTheLock(heap, holding, done);
  ASSERT_TRUE(holding.Await());
  for (int round = 0; round < 100; ++round)
    for (std::size_t align : {32, 64, 128, 256}) {
      const talc::Result<talc::Meta> m = heap.try_allocate(100, align);
      ASSERT_TRUE(m.ok()) << align << ": " << talc::describe(m.error());
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m->ptr()) % align, 0u) << align;
      ASSERT_EQ(heap.deallocate(*m), Errc::ok);
    }
  done.Notify();
  EXPECT_EQ(talc_test::Wait(holder), 0);
  ExpectAccounted(heap);
}

// A page's blocks are aligned only as far as the address this process maps the heap at: where
// that is less aligned than a request, the request is the core's (through the lock), and its
// block is still aligned; past the mapping's own alignment, every path refuses it alike. The
// fast path checks both before it takes a page's block.
TEST(Pages, AnAlignedRequestStaysAlignedWhereTheHeapIsMappedLessAligned) {
  for (std::size_t shift : {64, 128, 192}) {
    void* map =
        ::mmap(nullptr, kHeap + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(map, MAP_FAILED);
    {
      auto heap =
          talc::Talc<>::open(static_cast<std::byte*>(map) + shift, kHeap, talc::OpenRole::create);
      for (int round = 0; round < 50; ++round)
        for (std::size_t align : {32, 64, 128, 256}) {
          const talc::Result<talc::Meta> m = heap.try_allocate(100, align);
          if (align > heap.max_align()) {
            EXPECT_EQ(m.error(), Errc::alignment_too_large) << shift << " " << align;
            continue;
          }
          ASSERT_TRUE(m.ok()) << shift << " " << align << ": " << talc::describe(m.error());
          EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m->ptr()) % align, 0u)
              << shift << " " << align;
          ASSERT_EQ(heap.deallocate(*m), Errc::ok);
        }
      EXPECT_EQ(heap.stats().live_allocations, 0u);
    }
    ::munmap(map, kHeap + 4096);
  }
}

// What the README promises: a region larger than 4 MiB serves requests of up to 4104 bytes (a
// 4 KiB message and its header) from pages; one of 4 MiB, whose pages are smaller, up to 3592,
// one of 1 MiB up to 984.
TEST(Pages, ServeRequestsUpToTheLargestClassTheirHeapsPagesHold) {
  for (const auto& [region, largest] :
       {std::pair<std::size_t, std::size_t>{(4 << 20) + (64 << 10), 4104},
        // The README's bound: from 4099 KiB a heap can hand out 4 MiB, and has 64 KiB pages.
        {4099 << 10, 4104},
        {4098 << 10, 3592},
        {4 << 20, 3592},
        {1 << 20, 984}}) {
    auto heap = Paged(region);
    EXPECT_EQ(heap.heap().pages().geometry().max_request(), largest) << region;
    const talc::Meta in = heap.allocate(largest), out = heap.allocate(largest + 1);
    EXPECT_TRUE(heap.heap().page_usable(in.ptr()).has_value()) << region << ": a page's";
    EXPECT_FALSE(heap.heap().page_usable(out.ptr()).has_value()) << region << ": the core's";
    ASSERT_EQ(heap.deallocate(in), Errc::ok);
    ASSERT_EQ(heap.deallocate(out), Errc::ok);
    ExpectAccounted(heap);
  }
}

TEST(Pages, RefuseADoubleFreeAnInteriorPointerAndAHeaderWithNothingChanged) {
  auto heap = Paged();
  const talc::Meta a = heap.allocate(64), b = heap.allocate(64);
  std::memset(a.ptr(), 0, a.size);
  const talc::HeapStats before = heap.stats();
  // Inside a block the word below a pointer is the user's: the answer is the core's own for the
  // same bytes, and nothing changes.
  EXPECT_EQ(heap.deallocate(heap.base() + a.offset + 8), Errc::foreign_pointer) << "misaligned";
  for (const std::uint64_t in : {16u, 32u})
    EXPECT_EQ(heap.deallocate(heap.base() + a.offset + in), Errc::not_allocated) << in;
  std::memcpy(static_cast<char*>(a.ptr()) + 8, "\x07\x01\x00\x00\x00\x00\x00\x00",
              8);  // a flag no tag has
  EXPECT_EQ(heap.deallocate(heap.base() + a.offset + 16), Errc::foreign_pointer);
  EXPECT_EQ(heap.stats().live_allocations, before.live_allocations);
  ASSERT_EQ(heap.deallocate(a), Errc::ok);
  EXPECT_EQ(heap.deallocate(a), Errc::not_allocated) << "the same answer as the core's";
  std::thread other([&] { EXPECT_EQ(heap.deallocate(a), Errc::not_allocated); });
  other.join();
  EXPECT_EQ(heap.usable_size(a.ptr()).error(), Errc::not_allocated);
  EXPECT_EQ(heap.adopt(a.rel()).error(), Errc::not_allocated);
  EXPECT_EQ(heap.usable_size(b.ptr()).value(), 72u);
  ASSERT_EQ(heap.deallocate(b), Errc::ok);
  ExpectAccounted(heap);
}

TEST(Pages, OfTwoRacingFreesOfOneBlockExactlyOneSucceeds) {
  auto heap = Paged();
  for (int round = 0; round < 2000; ++round) {
    const talc::Meta m = heap.allocate(32);
    std::atomic<int> go{0}, ok{0};
    auto race = [&] {
      go.fetch_add(1);
      while (go.load() < 2) {
      }
      if (heap.deallocate(m.ptr()) == Errc::ok) ok.fetch_add(1);
    };
    std::thread t1(race), t2(race);
    t1.join();
    t2.join();
    ASSERT_EQ(ok.load(), 1) << "round " << round;
  }
  ExpectAccounted(heap);
}

TEST(Pages, ResizeInPlaceUpToTheClassAndMoveBeyondIt) {
  auto heap = Paged();
  talc::Meta m = heap.allocate(20);  // a 32-byte block: 24 usable
  std::memcpy(m.ptr(), "0123456789abcdefghijklm", 24);
  EXPECT_EQ(heap.try_grow(m, 24), Errc::ok);
  EXPECT_EQ(m.size, 24u);
  EXPECT_EQ(heap.try_grow(m, 25), Errc::out_of_memory);
  EXPECT_EQ(heap.try_shrink(m, 8), Errc::ok);
  const talc::Meta same = heap.reallocate(m, 16);
  EXPECT_EQ(same.offset, m.offset);
  const talc::Meta moved = heap.reallocate(same, 5000);
  EXPECT_NE(moved.offset, m.offset);
  EXPECT_EQ(std::memcmp(moved.ptr(), "0123456789abcdefghijklm", 24), 0);
  EXPECT_EQ(heap.deallocate(m), Errc::not_allocated) << "the old block went back";
  const talc::Meta small = heap.reallocate(moved, 100);
  EXPECT_EQ(std::memcmp(small.ptr(), "0123456789abcdefghijklm", 24), 0);
  ASSERT_EQ(heap.deallocate(small), Errc::ok);
  EXPECT_EQ(heap.stats().live_allocations, 0u);
  ExpectAccounted(heap);
}

// The atomic calls: a page's block may own the slot, and a slot may name a page's block; either
// way the slot and the block change together, and a refusal changes neither.
TEST(Pages, SlotCallsTakePageBlocksAsOwnersAndAsTheBlocksTheyName) {
  auto heap = Paged();
  const talc::Meta owner = heap.allocate(64);  // a page's block, 8 slots
  auto* slots = static_cast<std::uint64_t*>(owner.ptr());
  for (int i = 0; i < 8; ++i) slots[i] = talc::Rel<std::byte>::kNull;
  const talc::Meta a = heap.try_allocate_into(owner, 0, 500).value();
  EXPECT_EQ(slots[0], a.offset);
  EXPECT_EQ(heap.try_allocate_into(owner, 9, 16).error(), Errc::foreign_pointer) << "past it";
  EXPECT_EQ(heap.try_allocate_into(owner, 0, 16).error(), Errc::slot_occupied);
  // A slot that names a page's block, put there by hand.
  const talc::Meta small = heap.allocate(100);
  std::memcpy(small.ptr(), "payload", 8);
  slots[1] = small.offset;
  EXPECT_EQ(heap.try_reallocate_from(owner, 1, 90)->offset, small.offset) << "in place";
  const talc::Meta moved = heap.try_reallocate_from(owner, 1, 3000).value();
  EXPECT_NE(moved.offset, small.offset);
  EXPECT_EQ(slots[1], moved.offset);
  EXPECT_STREQ(static_cast<const char*>(moved.ptr()), "payload");
  EXPECT_EQ(heap.deallocate(small), Errc::not_allocated) << "the old block went back";
  const talc::Meta other = heap.allocate(48);
  slots[2] = other.offset;
  EXPECT_EQ(heap.deallocate_from(owner, 2), Errc::ok);
  EXPECT_EQ(slots[2], talc::Rel<std::byte>::kNull);
  EXPECT_EQ(heap.deallocate(other), Errc::not_allocated);
  // Refusals: a slot naming a block already given back, a slot inside the block it names.
  slots[3] = other.offset;
  EXPECT_EQ(heap.deallocate_from(owner, 3), Errc::not_allocated);
  EXPECT_EQ(slots[3], other.offset) << "a refusal changes nothing";
  slots[3] = owner.offset;
  EXPECT_EQ(heap.deallocate_from(owner, 3), Errc::foreign_pointer);
  slots[3] = talc::Rel<std::byte>::kNull;
  EXPECT_EQ(heap.deallocate_from(owner, 0), Errc::ok);
  EXPECT_EQ(heap.deallocate_from(owner, 1), Errc::ok);
  EXPECT_EQ(heap.deallocate(owner), Errc::ok);
  EXPECT_EQ(heap.stats().live_allocations, 0u);
  ExpectAccounted(heap);
}

// A page is one chunk of the core heap; the core, handed one of its blocks, refuses it as not
// one of its chunks, and the atomic calls do the same rather than misread it.
TEST(Pages, BlocksAreRefusedByTheCoresOwnCallsNotMisread) {
  auto heap = Paged();
  const talc::Meta m = heap.allocate(64);
  Errc e = Errc::ok;
  heap.with_lock([&](auto& core) { e = core.deallocate(m.ptr()); });
  EXPECT_EQ(e, Errc::foreign_pointer);
  ASSERT_EQ(heap.deallocate(m), Errc::ok);
  ExpectAccounted(heap);
}

// A handle that names a page, the page table or the lane table names no user's block: every call
// refuses it with nothing changed. Freed, a page would go back to the core under its blocks.
TEST(Pages, HandlesToTheHeapsOwnBlocksAreRefused) {
  auto heap = Paged();
  const talc::Meta a = heap.allocate(64);
  std::memset(a.ptr(), 0x11, a.size);
  auto* core = reinterpret_cast<std::byte*>(&heap.heap().meta());
  const std::uint64_t word = reinterpret_cast<std::uint64_t*>(a.ptr())[-1];
  const std::uint64_t page =
      heap.heap().pages().entry(core, talc::PageConfig::index_of(word)).load();
  // The lane table starts at most 48 bytes below its first lane (lanes_at), on a granule.
  std::uint64_t lanes = heap.heap().lane_offset(0);
  while (!heap.heap().meta().live_chunk(core + lanes).ok()) lanes -= 16;
  const talc::HeapStats before = heap.stats();
  for (const std::uint64_t u : {page, heap.heap().pages().table, lanes}) {
    ASSERT_TRUE(heap.heap().meta().live_chunk(core + u).ok()) << u;
    const std::uint64_t off = heap.offset_of(core + u);
    talc::Meta m{heap.base(), off, 16};
    EXPECT_EQ(heap.deallocate(m), Errc::foreign_pointer) << u;
    EXPECT_EQ(heap.usable_size(m.ptr()).error(), Errc::foreign_pointer) << u;
    EXPECT_EQ(heap.adopt(m.rel()).error(), Errc::foreign_pointer) << u;
    EXPECT_EQ(heap.try_reallocate(m, 32).error(), Errc::foreign_pointer) << u;
    EXPECT_EQ(heap.try_grow(m, 32), Errc::foreign_pointer) << u;
    EXPECT_EQ(heap.try_allocate_into(m, 7, 64).error(), Errc::foreign_pointer) << u;
    EXPECT_EQ(heap.deallocate_from(m, 7), Errc::foreign_pointer) << u;
  }
  const talc::HeapStats after = heap.stats();
  EXPECT_EQ(after.live_allocations, before.live_allocations);
  EXPECT_EQ(after.free_bytes, before.free_bytes);
  ASSERT_EQ(heap.deallocate(a), Errc::ok);
  ExpectAccounted(heap);
}

// Hostile bytes: a block's word rewritten (by a write below a block) is refused by a free with
// nothing changed; a page's header or maps rewritten are damage, which the owner's next refill
// reports and check() names, and nothing is followed out of the page.
TEST(Pages, AForgedBlockWordIsRefused) {
  auto heap = Paged();
  const talc::Meta a = heap.allocate(64);
  auto* word = reinterpret_cast<std::uint64_t*>(a.ptr()) - 1;
  const std::uint64_t saved = *word;
  for (const std::uint64_t forged :
       {talc::PageConfig::block_word(12345, 0), talc::PageConfig::block_word(0, 4000),
        talc::PageConfig::block_word(~std::uint64_t{0} >> 21, 3), saved + 16}) {
    *word = forged;
    EXPECT_EQ(heap.deallocate(a), Errc::foreign_pointer) << std::hex << forged;
    EXPECT_EQ(heap.usable_size(a.ptr()).error(), Errc::foreign_pointer);
  }
  *word = saved;
  EXPECT_EQ(heap.deallocate(a), Errc::ok);
  ExpectAccounted(heap);
}

std::uint64_t* PageOf(MapTalc<>& heap, const talc::Meta& m) {
  const std::uint64_t word = reinterpret_cast<std::uint64_t*>(m.ptr())[-1];
  auto* core = reinterpret_cast<std::byte*>(&heap.heap().meta());
  const std::uint64_t page =
      heap.heap().pages().entry(core, talc::PageConfig::index_of(word)).load();
  return reinterpret_cast<std::uint64_t*>(core + page);
}

TEST(Pages, ADamagedHeaderIsReportedNotFollowed) {
  auto heap = Paged();
  const talc::Meta a = heap.allocate(64);  // its page is the lane's current one
  std::uint64_t* header = PageOf(heap, a);
  header[0] ^= 1;  // no longer names its own index
  EXPECT_EQ(heap.deallocate(a), Errc::foreign_pointer);
  // The thread's cache of the map word it last read (PageFront) may still serve the rest of
  // that word, inside the page it proved; the next look at the page itself reports the damage.
  talc::Result<talc::Meta> again = heap.try_allocate(64);
  for (int i = 0; i < 64 && again; ++i) again = heap.try_allocate(64);
  EXPECT_EQ(again.error(), Errc::corrupted) << "a list that names no page is damage";
  EXPECT_EQ(heap.check().code, Errc::corrupted);
  EXPECT_TRUE(heap.corrupted()) << "and every process is told";
}

TEST(Pages, AMapBitPastTheBlocksIsDamage) {
  auto heap = Paged();
  const talc::Meta a = heap.allocate(1000);
  std::uint64_t* header = PageOf(heap, a);
  const std::uint64_t words = heap.heap()
                                  .pages()
                                  .geometry()
                                  .shape_of(talc::PageConfig::class_of(talc::chunk_size_for(1000)))
                                  .words;
  header[talc::PageConfig::kHeader / 8 + words - 1] |= std::uint64_t{1} << 63;
  const talc::CheckReport rep = heap.check();
  EXPECT_EQ(rep.code, Errc::corrupted);
  EXPECT_STREQ(rep.what, "a page marks a block it does not have");
}

// Memory is not stranded: pages whose blocks all came back go back to the heap before a request
// fails, whoever gave the blocks back.
TEST(Pages, EmptyPagesGoBackBeforeARequestFails) {
  auto heap = Paged(1 << 20);
  std::vector<talc::Meta> held;
  for (;;) {
    const talc::Result<talc::Meta> m = heap.try_allocate(64);
    if (!m) {
      EXPECT_EQ(m.error(), Errc::out_of_memory);
      break;
    }
    held.push_back(*m);
  }
  const talc::HeapStats full = heap.stats();
  // Blocks of 80 bytes (64 and a word, in granules) fill at least 95% of the span.
  const double served = double(held.size() * 80) / double(full.span_bytes);
  EXPECT_GE(served, 0.95) << held.size() << " blocks of 64 bytes in " << full.span_bytes;
  std::thread freer([&] {
    for (const talc::Meta& m : held) ASSERT_EQ(heap.deallocate(m), Errc::ok);
  });
  freer.join();
  const talc::Result<talc::Meta> big = heap.try_allocate(full.span_bytes / 2);
  ASSERT_TRUE(big.ok()) << talc::describe(big.error());
  ASSERT_EQ(heap.deallocate(*big), Errc::ok);
  ExpectAccounted(heap);
}

// A thread's end gives back its lane's pages that hold nothing; the next owner of the lane
// serves from the others.
TEST(Pages, AThreadsEndGivesBackItsEmptyPages) {
  auto heap = Paged();
  std::vector<talc::Meta> kept;
  std::thread t([&] {
    std::vector<talc::Meta> gone;
    for (int i = 0; i < 3000; ++i) gone.push_back(heap.allocate(128));
    for (int i = 0; i < 10; ++i) kept.push_back(heap.allocate(512));
    for (const talc::Meta& m : gone) ASSERT_EQ(heap.deallocate(m), Errc::ok);
  });
  t.join();
  const talc::HeapStats s = heap.stats();
  EXPECT_EQ(s.live_allocations, 10u);
  EXPECT_EQ(s.lanes_owned, 0u);
  EXPECT_LT(s.cached_bytes, 64u << 10) << "only the page with the 512-byte blocks stays";
  for (const talc::Meta& m : kept) ASSERT_EQ(heap.deallocate(m), Errc::ok);
  ExpectAccounted(heap);
}

// The thread's cache of its current page (PageFront) follows the page: it is dropped when the
// page goes back (trim), when the thread's records are made for other heaps, and in a fork's
// child; no block is then handed out twice or from a page that is gone.
TEST(Pages, TheThreadsCacheOfItsPageNeverOutlivesThePage) {
  auto heap = Paged();
  const talc::Meta a = heap.allocate(64);  // the cache now holds the rest of a's map word
  ASSERT_EQ(heap.deallocate(a), Errc::ok);
  ASSERT_EQ(heap.trim(), Errc::ok);
  EXPECT_EQ(heap.stats().cached_blocks, 0u) << "the empty page went back";
  std::set<std::uint64_t> offsets;
  std::vector<talc::Meta> held;
  for (int i = 0; i < 200; ++i) {
    held.push_back(heap.allocate(64));
    EXPECT_TRUE(offsets.insert(held.back().offset).second) << "handed out twice";
  }
  EXPECT_EQ(heap.stats().live_allocations, 200u);
  ExpectAccounted(heap);

  // A fork's child claims its own lane; its parent's cache must not serve it.
  const pid_t child = talc_test::Spawn([&] {
    for (int i = 0; i < 200; ++i) {
      const talc::Meta m = heap.allocate(64);
      if (offsets.count(m.offset) != 0) return 2;
    }
    return 0;
  });
  ASSERT_EQ(talc_test::Wait(child), 0) << "the child was handed a block its parent holds";
  for (int i = 0; i < 100; ++i) held.push_back(heap.allocate(64));
  EXPECT_EQ(heap.stats().live_allocations, 500u);
  ExpectAccounted(heap);
  for (const talc::Meta& m : held) ASSERT_EQ(heap.deallocate(m), Errc::ok);

  // A record made for another heap starts with an empty cache, even where that heap's lane has
  // a current page of the same index (the page of a thread gone): the cache names a page of the
  // heap it was filled in.
  auto other = Paged();
  std::thread([&] { (void)other.allocate(64); }).join();  // its lane keeps page 0 as current
  {
    auto gone = Paged();
    (void)gone.allocate(3000);  // page 0 of this heap lies elsewhere than the other's
    (void)gone.allocate(64);    // this thread's cache of it: the rest of that map word
  }  // closed: every record of this thread is made again before its next use
  std::vector<talc::Meta> there;
  for (int i = 0; i < 100; ++i) {
    there.push_back(other.allocate(64));
    ASSERT_TRUE(other.usable_size(there.back().ptr()).ok()) << "not a block of this heap's pages";
  }
  EXPECT_EQ(other.stats().live_allocations, 101u);
  ExpectAccounted(other);
  for (const talc::Meta& m : there) ASSERT_EQ(other.deallocate(m), Errc::ok);
  ExpectAccounted(other);
}

// The peak counts what users held, never the heap's own tables: a fresh heap's is 0. Blocks of
// pages are handed out without the lock, so pages count whole while they are made; a core
// block counts its usable bytes.
TEST(Pages, ThePeakCountsWhatUsersHeldNotTheTables) {
  auto heap = Paged(8 << 20);
  EXPECT_EQ(heap.stats().peak_live_bytes, 0u) << "nothing was ever allocated";
  ASSERT_EQ(heap.deallocate(heap.allocate(64)), Errc::ok);
  const std::uint64_t page =
      heap.heap().pages().geometry().bytes_of(talc::PageConfig::class_of(talc::chunk_size_for(64)));
  EXPECT_EQ(heap.stats().peak_live_bytes, page - talc::kTagSize) << "one page, counted whole";
  const talc::Meta big = heap.allocate(100000);
  EXPECT_EQ(heap.stats().peak_live_bytes,
            page - talc::kTagSize + talc::chunk_size_for(100000) - talc::kTagSize);
  ASSERT_EQ(heap.deallocate(big), Errc::ok);
  talc::OpenOptions none;
  none.lanes = false;
  auto plain = MapTalc<>::anonymous(8 << 20, none);
  EXPECT_EQ(plain.stats().peak_live_bytes, 0u);
  ASSERT_EQ(plain.deallocate(plain.allocate(64)), Errc::ok);
  EXPECT_EQ(plain.stats().peak_live_bytes, 64u + 8u) << "a 64-byte request's chunk, less its tag";
}

// The guarantees' bound on a heap's largest pages: at most 1/64 of what it can hand out from
// 256 KiB up, 4 KiB (the least a page can be) below, and never more than 64 KiB.
TEST(Pages, AHeapsLargestPagesAreAtMostASixtyFourthOfIt) {
  for (std::uint64_t capacity = 16 << 10; capacity <= (64u << 20); capacity += capacity / 7 + 1) {
    const std::uint64_t page = std::uint64_t{1} << talc::PageGeometry::for_capacity(capacity).shift;
    EXPECT_LE(page, talc::PageConfig::kMaxBytes) << capacity;
    if (capacity >= (256u << 10))
      EXPECT_LE(page * 64, capacity) << capacity;
    else
      EXPECT_EQ(page, talc::PageConfig::kMinBytes) << capacity;
  }
}

// A class's pages are the smallest that hold 32 of its blocks, from 8 KiB up to the heap's page
// size; a class whose chunks are multiples of 128 gets pages aligned to 256.
TEST(Pages, EachClassGetsPagesOfItsOwnSize) {
  auto heap = Paged(8 << 20);
  const talc::PageGeometry g = heap.heap().pages().geometry();
  ASSERT_EQ(heap.heap().pages().max_bytes(), 65536u);
  auto page_bytes = [&](std::size_t size) {
    const talc::Meta m = heap.allocate(size);
    const std::uint64_t chunk = talc::Tag{PageOf(heap, m)[-1]}.size();
    EXPECT_EQ(heap.deallocate(m), Errc::ok);
    return chunk;
  };
  EXPECT_EQ(page_bytes(64), 8192u) << "100 blocks of 80 bytes";
  EXPECT_EQ(page_bytes(120), 16384u) << "a chunk of 128: pages aligned to 256";
  EXPECT_EQ(page_bytes(1000), 32768u) << "32 chunks of 1008 and the maps fill 32 KiB";
  EXPECT_EQ(page_bytes(1024), 65536u) << "32 chunks of 1040 need more";
  EXPECT_EQ(page_bytes(4000), 65536u) << "the largest class: the heap's pages";
  for (std::uint64_t cls = 0; cls < talc::PageConfig::kClasses; ++cls)
    EXPECT_GE(
        g.shape_of(cls).blocks[cls],
        std::min<std::uint64_t>(talc::PageGeometry::kFill, talc::PageShape::of(65536).blocks[cls]))
        << cls;
  ExpectAccounted(heap);
}

// A heap less than 1/8 free gives a small request a hole too small for a page rather than a new
// page, as a heap without pages would; a roomier one makes the page.
TEST(Pages, AFullHeapFillsItsHolesBeforeItMakesAPage) {
  auto heap = Paged(1 << 20);
  auto is_page_block = [&](const talc::Meta& m) {
    return heap.heap().page_usable(m.ptr()).has_value();
  };
  auto pages = [&] {
    const auto& core = heap.heap().meta();
    return heap.heap()
        .pages()
        .counts(reinterpret_cast<const std::byte*>(&core), core.heap_end())
        .pages;
  };
  std::vector<talc::Meta> big;
  for (;;) {
    const talc::Result<talc::Meta> m = heap.try_allocate(5000);
    if (!m) break;
    big.push_back(*m);
  }
  ASSERT_GT(big.size(), 100u);
  ASSERT_EQ(heap.deallocate(big[big.size() / 2]), Errc::ok);  // a hole of 5008 bytes
  big.erase(big.begin() + static_cast<std::ptrdiff_t>(big.size() / 2));
  const talc::Meta small = heap.allocate(64);
  EXPECT_FALSE(is_page_block(small)) << "a full heap's hole took it";
  EXPECT_EQ(pages(), 0u) << "and no page was made";
  ASSERT_EQ(heap.deallocate(small), Errc::ok);
  ExpectAccounted(heap);
  for (std::size_t i = 0; i < big.size(); i += 2) ASSERT_EQ(heap.deallocate(big[i]), Errc::ok);
  const talc::Meta roomy = heap.allocate(64);
  EXPECT_TRUE(is_page_block(roomy)) << "with room, a page serves it";
  ASSERT_EQ(heap.deallocate(roomy), Errc::ok);
  for (std::size_t i = 1; i < big.size(); i += 2) ASSERT_EQ(heap.deallocate(big[i]), Errc::ok);
  ExpectAccounted(heap);
}

}  // namespace
