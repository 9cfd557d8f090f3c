// Reallocation, zeroed allocation and statistics of the core heap: what each call promises,
// shown on layouts built for it (the property test covers random mixes of them).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "support/pattern.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using Heap = talc::TalcMeta<>;

class Realloc : public ::testing::Test {
 protected:
  Realloc() : buf_(1 << 20), heap_(*Heap::claim(buf_.data(), buf_.size())) {}

  void* Alloc(std::size_t n, std::size_t align = 16) {
    const auto r = heap_->allocate(n, align);
    EXPECT_TRUE(r.ok()) << talc::describe(r.error());
    talc_test::FillPattern(*r, n, n);
    return *r;
  }
  void ExpectConsistent() {
    const talc::CheckReport rep = heap_->check();
    EXPECT_TRUE(rep.ok()) << rep.what << " at " << rep.offset;
  }

  std::vector<std::byte> buf_;
  Heap* heap_;
};

TEST_F(Realloc, GrowingIntoAFreeChunkAboveStaysInPlace) {
  void* a = Alloc(100);
  void* b = Alloc(400);
  Alloc(100);
  ASSERT_EQ(heap_->deallocate(b), Errc::ok);
  const auto r = heap_->reallocate(a, 450);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, a) << "the block moved although the chunk above was free";
  EXPECT_GE(*heap_->usable_size(a), 450u);
  EXPECT_EQ(talc_test::FirstMismatch(a, 100, 100), 100u);
  ExpectConsistent();
  // try_grow: the same promise, and never a move.
  EXPECT_EQ(heap_->try_grow(a, 500), Errc::ok);
  EXPECT_GE(*heap_->usable_size(a), 500u);
  ExpectConsistent();
}

TEST_F(Realloc, ShrinkingInPlaceGivesTheTailBackAndCoalesces) {
  void* a = Alloc(4000);
  void* b = Alloc(100);
  Alloc(100);
  ASSERT_EQ(heap_->deallocate(b), Errc::ok);
  const talc::Census before = heap_->census();
  const auto r = heap_->reallocate(a, 200);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, a);
  EXPECT_LT(*heap_->usable_size(a), 200u + talc::kGranule);
  EXPECT_EQ(talc_test::FirstMismatch(a, 200, 4000), 200u);
  const talc::Census after = heap_->census();
  // The tail merged with the free chunk above it: still one free chunk below the top one.
  EXPECT_EQ(after.free_chunks, before.free_chunks);
  EXPECT_GT(after.free_bytes, before.free_bytes + 3700);
  ExpectConsistent();
  EXPECT_EQ(heap_->try_shrink(a, 50), Errc::ok);
  EXPECT_LT(*heap_->usable_size(a), 50u + talc::kMinChunk);
  ExpectConsistent();
}

TEST_F(Realloc, MovingKeepsTheBytesAndFreesTheOldBlock) {
  void* a = Alloc(300);
  Alloc(100);  // nothing free above a
  const auto r = heap_->reallocate(a, 5000);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(*r, a);
  EXPECT_EQ(talc_test::FirstMismatch(*r, 300, 300), 300u);
  EXPECT_EQ(heap_->deallocate(a), Errc::not_allocated) << "the old block is still live";
  ExpectConsistent();
  // A stricter alignment moves the block too.
  const auto aligned = heap_->reallocate(*r, 64, 4096);
  ASSERT_TRUE(aligned.ok());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(*aligned) % 4096, 0u);
  EXPECT_EQ(talc_test::FirstMismatch(*aligned, 64, 300), 64u);
  ExpectConsistent();
}

TEST_F(Realloc, RefusalsLeaveTheBlockAsItWas) {
  void* a = Alloc(300);
  Alloc(100);
  const auto huge = heap_->reallocate(a, 2 << 20);
  EXPECT_EQ(huge.error(), Errc::out_of_memory);
  EXPECT_EQ(heap_->try_grow(a, 1000), Errc::out_of_memory);
  EXPECT_EQ(*heap_->usable_size(a), 312u);
  EXPECT_EQ(talc_test::FirstMismatch(a, 300, 300), 300u);
  EXPECT_EQ(heap_->reallocate(a, 10, 3).error(), Errc::bad_alignment);
  EXPECT_EQ(heap_->reallocate(static_cast<std::byte*>(a) + 16, 10).error(), Errc::foreign_pointer);
  EXPECT_EQ(heap_->reallocate(nullptr, 10).error(), Errc::null_pointer);
  EXPECT_EQ(heap_->try_shrink(static_cast<std::byte*>(a) + 16, 10), Errc::foreign_pointer);
  ASSERT_EQ(heap_->deallocate(a), Errc::ok);
  EXPECT_EQ(heap_->reallocate(a, 10).error(), Errc::not_allocated);
  ExpectConsistent();
}

TEST_F(Realloc, ZeroedAllocationIsZeroEvenOverOldBytes) {
  void* a = Alloc(1000);
  std::memset(a, 0xAB, 1000);
  ASSERT_EQ(heap_->deallocate(a), Errc::ok);
  const auto z = heap_->allocate_zeroed(1000);
  ASSERT_TRUE(z.ok());
  const auto* bytes = static_cast<const unsigned char*>(*z);
  for (std::size_t i = 0; i < 1000; ++i) ASSERT_EQ(bytes[i], 0) << "byte " << i;
}

TEST_F(Realloc, StatisticsFollowEveryOperation) {
  const talc::HeapStats fresh = heap_->stats();
  EXPECT_EQ(fresh.live_allocations, 0u);
  EXPECT_EQ(fresh.free_chunks, 1u);
  EXPECT_EQ(fresh.largest_free, fresh.free_bytes);
  EXPECT_EQ(fresh.fragmentation(), 0.0);
  EXPECT_EQ(fresh.live_bytes + fresh.free_bytes + fresh.overhead_bytes, fresh.span_bytes);

  std::vector<void*> blocks;
  for (int i = 0; i < 10; ++i) blocks.push_back(Alloc(1000));
  for (int i = 0; i < 10; i += 2) ASSERT_EQ(heap_->deallocate(blocks[i]), Errc::ok);
  ASSERT_TRUE(heap_->reallocate(blocks[1], 2000).ok());
  EXPECT_EQ(heap_->allocate(4 << 20).error(), Errc::out_of_memory);

  const talc::HeapStats s = heap_->stats();
  const talc::Census c = heap_->census();
  EXPECT_EQ(s.live_allocations, c.live_chunks);
  EXPECT_EQ(s.live_bytes, c.live_bytes - c.live_chunks * talc::kTagSize);
  EXPECT_EQ(s.free_bytes, c.free_bytes);
  EXPECT_EQ(s.free_chunks, c.free_chunks);
  EXPECT_EQ(s.largest_free, c.largest_free);
  EXPECT_EQ(s.live_bytes + s.free_bytes + s.overhead_bytes, s.span_bytes);
  EXPECT_EQ(s.overhead_bytes, heap_->heap_start() + (heap_->span() - heap_->heap_end()) +
                                  c.live_chunks * talc::kTagSize);
  EXPECT_EQ(s.allocations, 10u);
  EXPECT_EQ(s.deallocations, 5u);
  EXPECT_EQ(s.reallocations, 1u);
  EXPECT_EQ(s.failures, 1u);
  EXPECT_GE(s.peak_live_bytes, 10 * 1000u);
  EXPECT_GT(s.fragmentation(), 0.0);
  EXPECT_LT(s.fragmentation(), 0.05);  // five 1 KiB holes beside one large free chunk
  ExpectConsistent();
}

// A counter that disagrees with the chunks is damage check() reports (I7).
TEST_F(Realloc, CheckProvesTheCounters) {
  Alloc(100);
  auto* base = static_cast<std::byte*>(heap_->address_of(0));
  const std::uint64_t off = Heap::counters_offset();  // live_chunks comes first
  talc::store_word(base, off, talc::load_word(base, off) + 1);
  const talc::CheckReport rep = heap_->check();
  EXPECT_FALSE(rep.ok());
  EXPECT_STREQ(rep.what, "live block count disagrees with the chunks");
}

TEST_F(Realloc, GrowTakesNewBytesIntoTheHeap) {
  std::vector<std::byte> big(1 << 20);
  Heap* h = *Heap::claim(big.data(), 64 << 10);
  const std::uint64_t end = h->heap_end();
  void* a = *h->allocate(1000);
  EXPECT_EQ(h->allocate(100 << 10).error(), Errc::out_of_memory);
  ASSERT_EQ(h->grow(512 << 10), Errc::ok);
  EXPECT_EQ(h->span(), 512u << 10);
  EXPECT_GT(h->heap_end(), end);
  EXPECT_EQ(h->census().free_chunks, 1u) << "the new bytes did not join the free top chunk";
  EXPECT_TRUE(h->allocate(100 << 10).ok());
  EXPECT_EQ(h->stats().growths, 1u);
  EXPECT_EQ(h->grow(256 << 10), Errc::region_too_small) << "a heap never shrinks";
  EXPECT_EQ(h->grow(std::uint64_t{1} << 50), Errc::region_too_large);
  EXPECT_EQ(h->deallocate(a), Errc::ok);
  const talc::CheckReport rep = h->check();
  EXPECT_TRUE(rep.ok()) << rep.what;
}

}  // namespace

namespace {

// The slot names the block wherever it ends up: in place, or moved.
TEST_F(Realloc, ReallocateFromRewritesTheSlotWhenTheBlockMoves) {
  void* owner = Alloc(64);
  talc::store_word(static_cast<std::byte*>(owner), 16, talc::Rel<std::byte>::kNull);
  const auto first = heap_->allocate_into(owner, 2, 300);
  ASSERT_TRUE(first.ok());
  talc_test::FillPattern(*first, 300, 7);
  Alloc(100);  // nothing free above the block: growing moves it
  auto slot = [&] { return talc::load_word(static_cast<std::byte*>(owner), 16); };
  EXPECT_EQ(slot(), heap_->offset_of(*first));
  const auto moved = heap_->reallocate_from(owner, 2, 5000);
  ASSERT_TRUE(moved.ok()) << talc::describe(moved.error());
  EXPECT_NE(*moved, *first);
  EXPECT_EQ(slot(), heap_->offset_of(*moved));
  EXPECT_EQ(talc_test::FirstMismatch(*moved, 300, 7), 300u);
  const auto shrunk = heap_->reallocate_from(owner, 2, 100);
  ASSERT_TRUE(shrunk.ok());
  EXPECT_EQ(*shrunk, *moved);
  EXPECT_EQ(slot(), heap_->offset_of(*moved));
  EXPECT_EQ(talc_test::FirstMismatch(*moved, 100, 7), 100u);
  talc::store_word(static_cast<std::byte*>(owner), 24, talc::Rel<std::byte>::kNull);
  EXPECT_EQ(heap_->reallocate_from(owner, 3, 100).error(), Errc::null_pointer);
  EXPECT_EQ(heap_->reallocate_from(owner, 1000, 100).error(), Errc::foreign_pointer);
  EXPECT_EQ(heap_->deallocate_from(owner, 2), Errc::ok);
  ExpectConsistent();
}

}  // namespace
