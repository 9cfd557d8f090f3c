// Unit tests of the core heap: claiming, allocation, deallocation, refusals, the byte layout,
// and one regression test for each slip of the original module this design comes from.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "talc/talc.hpp"

namespace {

using talc::Errc;
using Heap = talc::TalcMeta<>;

// A heap in an ordinary buffer, with byte snapshots to prove that refusals change nothing.
class CoreHeap : public ::testing::Test {
 protected:
  void SetUp() override { Claim(1 << 20); }

  void Claim(std::size_t len, std::size_t misalign = 0, talc::ClaimOptions opts = {}) {
    buf_.assign(len + misalign, std::byte{0});
    auto r = Heap::claim(buf_.data() + misalign, len, opts);
    ASSERT_TRUE(r.ok()) << talc::describe(r.error());
    heap_ = *r;
  }

  void* Alloc(std::size_t size, std::size_t align = 16) {
    auto r = heap_->allocate(size, align);
    EXPECT_TRUE(r.ok()) << "size " << size << " align " << align << ": "
                        << talc::describe(r.error());
    return *r;
  }

  void ExpectConsistent() {
    const talc::CheckReport rep = heap_->check();
    EXPECT_TRUE(rep.ok()) << rep.what << " at " << rep.offset << " (" << rep.detail << ")";
    const talc::Census c = heap_->census();
    EXPECT_EQ(c.live_bytes + c.free_bytes, heap_->capacity());
  }

  std::vector<std::byte> Snapshot() const { return buf_; }

  std::vector<std::byte> buf_;
  Heap* heap_ = nullptr;
};

TEST_F(CoreHeap, FreshHeapIsOneFreeChunkOverAllButTheMetadata) {
  ExpectConsistent();
  const talc::Census c = heap_->census();
  EXPECT_EQ(c.free_chunks, 1u);
  EXPECT_EQ(c.live_chunks, 0u);
  EXPECT_EQ(c.free_bytes, heap_->capacity());
  // Only the metadata, the sentinel and rounding are lost: no slack proportional to the heap.
  EXPECT_GE(heap_->capacity(), (1u << 20) - sizeof(Heap) - 64);
}

// The first free chunk, read word by word: the documented layout, not whatever a compiler
// chose for a list type.
TEST_F(CoreHeap, ByteLayoutOfTheFirstFreeChunkIsTheDocumentedOne) {
  const auto* base = static_cast<const std::byte*>(heap_->address_of(0));
  const std::uint64_t start = heap_->heap_start();
  const std::uint64_t size = heap_->capacity();
  EXPECT_EQ(start % talc::kGranule, talc::kChunkPhase);
  EXPECT_EQ(talc::load_word(base, start), size);                       // tag: size, no flags
  EXPECT_EQ(talc::load_word(base, start + 8), talc::Rel<int>::kNull);  // next: null
  const std::uint64_t prev_link = talc::load_word(base, start + 16);   // a head slot in the meta
  EXPECT_LT(prev_link, sizeof(Heap));
  EXPECT_EQ(talc::load_word(base, prev_link), start);        // which links back to the chunk
  EXPECT_EQ(talc::load_word(base, start + size - 8), size);  // tail
  EXPECT_EQ(talc::load_word(base, heap_->heap_end()),
            talc::Tag::sentinel(true).bits);  // sentinel: allocated, size 0, below free
}

TEST_F(CoreHeap, AllocatedBlockHasOneTagWordOfOverhead) {
  void* p = Alloc(100);
  const auto* base = static_cast<const std::byte*>(heap_->address_of(0));
  const std::uint64_t off = heap_->offset_of(p);
  EXPECT_EQ(off, heap_->heap_start() + talc::kTagSize);
  const talc::Tag tag{talc::load_word(base, off - 8)};
  EXPECT_TRUE(tag.allocated());
  EXPECT_FALSE(tag.below_free());
  EXPECT_EQ(tag.size(), talc::chunk_size_for(100));
  EXPECT_EQ(tag.size(), 112u);  // 100 + 8, rounded to 16
  EXPECT_EQ(*heap_->usable_size(p), 104u);
}

TEST_F(CoreHeap, DefaultAlignmentIsSixteenAndEveryPowerOfTwoUpTo1MiBHolds) {
  std::vector<void*> blocks;
  for (std::size_t size : {1u, 8u, 24u, 100u}) {
    void* p = Alloc(size, 1);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 16, 0u);
    blocks.push_back(p);
  }
  Claim(32 << 20);
  blocks.clear();
  for (std::size_t align = 1; align <= (1u << 20); align <<= 1) {
    for (std::size_t size : {0u, 1u, 40u, 3000u}) {
      void* p = Alloc(size, align);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % align, 0u) << align;
      std::memset(p, 0x11, size);
      blocks.push_back(p);
    }
  }
  ExpectConsistent();
  for (void* p : blocks) EXPECT_EQ(heap_->deallocate(p), Errc::ok);
  ExpectConsistent();
  EXPECT_EQ(heap_->census().free_chunks, 1u);
}

TEST_F(CoreHeap, CoalescesOnBothSides) {
  void* a = Alloc(200);
  void* b = Alloc(200);
  void* c = Alloc(200);
  void* guard = Alloc(200);  // keeps c's upper neighbour allocated
  const std::uint64_t free_before = heap_->census().free_chunks;
  ASSERT_EQ(heap_->deallocate(a), Errc::ok);
  ASSERT_EQ(heap_->deallocate(c), Errc::ok);
  EXPECT_EQ(heap_->census().free_chunks, free_before + 2);
  ExpectConsistent();
  ASSERT_EQ(heap_->deallocate(b), Errc::ok);  // merges with a below and c above
  EXPECT_EQ(heap_->census().free_chunks, free_before + 1);
  ExpectConsistent();
  // The merged chunk is found again by a request of exactly its size.
  EXPECT_EQ(Alloc(3 * talc::chunk_size_for(200) - talc::kTagSize), a);
  ASSERT_EQ(heap_->deallocate(a), Errc::ok);
  ASSERT_EQ(heap_->deallocate(guard), Errc::ok);  // and now everything is one chunk again
  EXPECT_EQ(heap_->census().free_chunks, 1u);
  ExpectConsistent();
}

TEST_F(CoreHeap, BadRequestsAreRefusedAndChangeNothing) {
  Alloc(64);
  const auto before = Snapshot();
  EXPECT_EQ(heap_->allocate(8, 0).error(), Errc::bad_alignment);
  EXPECT_EQ(heap_->allocate(8, 3).error(), Errc::bad_alignment);
  EXPECT_EQ(heap_->allocate(8, 48).error(), Errc::bad_alignment);
  EXPECT_EQ(heap_->allocate(8, Heap::kMaxAlign * 2).error(), Errc::alignment_too_large);
  EXPECT_EQ(heap_->allocate(~std::size_t{0}, 16).error(), Errc::size_overflow);
  EXPECT_EQ(heap_->allocate(~std::size_t{0} - 7, 16).error(), Errc::size_overflow);
  EXPECT_EQ(heap_->allocate(Heap::kMaxRequest + 1, 16).error(), Errc::size_overflow);
  EXPECT_EQ(heap_->allocate(2 << 20, 16).error(), Errc::out_of_memory);
  EXPECT_EQ(heap_->allocate(1 << 20, 1 << 20).error(), Errc::out_of_memory);
  EXPECT_EQ(heap_->allocate(8, 16).value() == nullptr, false);  // still works afterwards
  auto after = Snapshot();
  EXPECT_NE(before, after);  // that last allocation did write
  ExpectConsistent();
}

TEST_F(CoreHeap, FillingTheHeapThenFreeingEverythingRestoresOneChunk) {
  std::vector<void*> blocks;
  for (;;) {
    auto r = heap_->allocate(1000, 16);
    if (!r) {
      EXPECT_EQ(r.error(), Errc::out_of_memory);
      break;
    }
    blocks.push_back(*r);
  }
  // Nearly all of the heap went to blocks: what is left cannot hold another one.
  EXPECT_LT(heap_->census().free_bytes, talc::chunk_size_for(1000));
  ExpectConsistent();
  for (std::size_t i = 0; i < blocks.size(); i += 2)
    ASSERT_EQ(heap_->deallocate(blocks[i]), Errc::ok);
  ExpectConsistent();
  for (std::size_t i = 1; i < blocks.size(); i += 2)
    ASSERT_EQ(heap_->deallocate(blocks[i]), Errc::ok);
  ExpectConsistent();
  EXPECT_EQ(heap_->census().free_chunks, 1u);
}

// ---- claim ------------------------------------------------------------------------------------

TEST(Claim, RefusesNullAndTooSmallBuffersWithoutWriting) {
  EXPECT_EQ(Heap::claim(nullptr, 1 << 20).error(), Errc::null_region);
  std::vector<std::byte> buf(Heap::min_claim_size() + 64, std::byte{0x5a});
  const auto before = buf;
  for (std::size_t misalign = 0; misalign < 64; ++misalign) {
    for (std::size_t len : {std::size_t{0}, std::size_t{1}, sizeof(Heap), sizeof(Heap) + 40}) {
      const auto r = Heap::claim(buf.data() + misalign, len);
      EXPECT_FALSE(r.ok());
      EXPECT_EQ(r.error(), Errc::region_too_small) << misalign << " " << len;
      EXPECT_EQ(r.value(), nullptr);
    }
  }
  EXPECT_EQ(buf, before);
}

TEST(Claim, TheDocumentedMinimumWorksAtEveryBaseAlignment) {
  std::vector<std::byte> buf(Heap::min_claim_size() + 64);
  for (std::size_t misalign = 0; misalign < 64; ++misalign) {
    const auto r = Heap::claim(buf.data() + misalign, Heap::min_claim_size());
    ASSERT_TRUE(r.ok()) << misalign;
    Heap* h = *r;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(h) % 64, 0u);
    EXPECT_GE(h->capacity(), talc::kMinChunk);
    EXPECT_TRUE(h->check().ok());
    // The one chunk it has can be handed out.
    auto p = h->allocate(talc::kMinChunk - talc::kTagSize, 16);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(h->deallocate(*p), Errc::ok);
  }
}

// ---- regressions: one per slip of the original module -------------------------------------

// Slip: round-up and round-down swapped, so an aligned block overlapped the tag of the chunk
// above and the tag overwrote the block's last bytes. Fill every usable byte of neighbouring
// blocks of all alignments and verify none bleeds into another.
TEST_F(CoreHeap, RegressionAlignedBlocksNeverOverlapTheirNeighboursTags) {
  struct Block {
    unsigned char* p;
    std::size_t len;
    unsigned char fill;
  };
  std::vector<Block> blocks;
  unsigned char fill = 1;
  for (std::size_t align = 16; align <= 4096; align <<= 1)
    for (std::size_t size : {1u, 24u, 40u, 56u, 200u}) {
      auto* p = static_cast<unsigned char*>(Alloc(size, align));
      const std::size_t len = *heap_->usable_size(p);
      std::memset(p, fill, len);
      blocks.push_back({p, len, fill++});
    }
  ExpectConsistent();
  for (const Block& b : blocks)
    for (std::size_t i = 0; i < b.len; ++i) ASSERT_EQ(b.p[i], b.fill);
}

// Slip: the chunk's size shadowed the request's size. Each request's whole size is usable,
// and the chunk is exactly the documented one.
TEST_F(CoreHeap, RegressionRequestSizeIsNotShadowedByChunkSize) {
  for (std::size_t n = 0; n <= 600; ++n) {
    void* p = Alloc(n);
    EXPECT_GE(*heap_->usable_size(p), n);
    EXPECT_EQ(*heap_->usable_size(p) + talc::kTagSize, talc::chunk_size_for(n));
    std::memset(p, 0x77, n);
  }
  ExpectConsistent();
}

// Slip: bin indices past the end of the bin array for mid sizes. Every size that crosses the
// linear/logarithmic boundary and beyond is allocated, freed and checked.
TEST_F(CoreHeap, RegressionMidSizesStayInsideTheBinArray) {
  Claim(32 << 20);
  std::vector<void*> blocks;
  for (std::size_t n = 1500; n < 70000; n += 97) blocks.push_back(Alloc(n));
  ExpectConsistent();
  for (std::size_t i = 0; i < blocks.size(); i += 3)
    ASSERT_EQ(heap_->deallocate(blocks[i]), Errc::ok);
  ExpectConsistent();  // the freed chunks sit in mid-size bins; check() verifies each bin index
}

// Slip: the availability bit of a bin was not cleared when its last chunk left (the emptiness
// test read a copy taken before the unlink) and was then flipped by XOR on the next insert.
// check() verifies every bit exactly; empty and refill one bin several times.
TEST_F(CoreHeap, RegressionAvailabilityBitFollowsTheBinExactly) {
  void* lo = Alloc(64);
  void* mid = Alloc(300);
  void* hi = Alloc(64);
  ASSERT_EQ(heap_->deallocate(mid), Errc::ok);  // a lone free chunk of 320 bytes in its own bin
  ExpectConsistent();
  for (int round = 0; round < 3; ++round) {
    void* again = Alloc(300);  // takes exactly that chunk: its bin is empty now
    EXPECT_EQ(again, mid);
    ExpectConsistent();
    ASSERT_EQ(heap_->deallocate(again), Errc::ok);  // and filled again
    ExpectConsistent();
  }
  ASSERT_EQ(heap_->deallocate(lo), Errc::ok);
  ASSERT_EQ(heap_->deallocate(hi), Errc::ok);
  ExpectConsistent();
}

// Slip: the heap start was computed in units of the header's size instead of bytes, wasting
// (or overrunning) memory. The first chunk starts right after the metadata.
TEST_F(CoreHeap, RegressionHeapStartIsCountedInBytes) {
  EXPECT_EQ(heap_->heap_start(), sizeof(Heap) + talc::kChunkPhase);
  EXPECT_EQ(heap_->offset_of(Alloc(10)), sizeof(Heap) + talc::kChunkPhase + talc::kTagSize);
}

// Slip: a claim that failed was reported as success. (Also covered by the Claim tests.)
TEST(Regression, FailedClaimIsReportedAsFailure) {
  std::vector<std::byte> buf(100);
  const auto r = Heap::claim(buf.data(), buf.size());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errc::region_too_small);
}

// Slip: zero-size allocations produced an offset below the base. Ours are real, distinct,
// minimal blocks inside the heap that are freed like any other.
TEST_F(CoreHeap, RegressionZeroSizeAllocationsAreRealBlocksInsideTheHeap) {
  std::vector<void*> blocks;
  for (int i = 0; i < 10; ++i) {
    void* p = Alloc(0);
    ASSERT_NE(p, nullptr);
    EXPECT_GE(heap_->offset_of(p), heap_->heap_start() + talc::kTagSize);
    EXPECT_LT(heap_->offset_of(p), heap_->heap_end());
    EXPECT_EQ(*heap_->usable_size(p), talc::kMinChunk - talc::kTagSize);
    for (void* q : blocks) EXPECT_NE(p, q);
    blocks.push_back(p);
  }
  void* aligned = Alloc(0, 4096);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(aligned) % 4096, 0u);
  blocks.push_back(aligned);
  for (void* p : blocks) EXPECT_EQ(heap_->deallocate(p), Errc::ok);
  ExpectConsistent();
  EXPECT_EQ(heap_->census().free_chunks, 1u);
}

// Slip: frees trusted the caller's pointer blindly. Every wrong pointer is refused with its
// own error and the heap's bytes are exactly what they were.
TEST_F(CoreHeap, RegressionWrongPointersAreRefusedAndChangeNothing) {
  auto* a = static_cast<std::byte*>(Alloc(256));
  auto* b = static_cast<std::byte*>(Alloc(256));
  auto* c = static_cast<std::byte*>(Alloc(256));
  std::memset(b, 0, 256);
  ASSERT_EQ(heap_->deallocate(a), Errc::ok);  // a is free; b's tag says BELOW_FREE
  const auto before = Snapshot();
  EXPECT_EQ(heap_->deallocate(nullptr), Errc::null_pointer);
  EXPECT_EQ(heap_->deallocate(a), Errc::not_allocated);        // double free
  EXPECT_EQ(heap_->deallocate(b + 16), Errc::not_allocated);   // interior: a zero word, no tag
  EXPECT_EQ(heap_->deallocate(b + 1), Errc::foreign_pointer);  // off the granule
  EXPECT_EQ(heap_->deallocate(buf_.data()), Errc::foreign_pointer);  // the metadata
  EXPECT_EQ(heap_->deallocate(buf_.data() + buf_.size()), Errc::foreign_pointer);
  int outside = 0;
  EXPECT_EQ(heap_->deallocate(&outside), Errc::foreign_pointer);
  EXPECT_EQ(heap_->usable_size(a).error(), Errc::not_allocated);
  EXPECT_EQ(Snapshot(), before);
  ExpectConsistent();
  ASSERT_EQ(heap_->deallocate(b), Errc::ok);  // merges into a: b's tag word is poisoned
  const auto merged = Snapshot();
  EXPECT_EQ(heap_->deallocate(b), Errc::not_allocated);  // double free after a merge
  EXPECT_EQ(Snapshot(), merged);
  ASSERT_EQ(heap_->deallocate(c), Errc::ok);
  ExpectConsistent();
}

// A block whose bytes imitate a tag: the constant-time checks refuse the imitation when its
// neighbours do not agree, and the checked mode refuses it even when they do.
TEST(Regression, ForgedTagsAreRefusedInCheckedMode) {
  std::vector<std::byte> buf(1 << 16);
  Heap* h = *Heap::claim(buf.data(), buf.size(), talc::ClaimOptions{.checked = true});
  ASSERT_TRUE(h->checked());
  auto* big = static_cast<std::byte*>(*h->allocate(1024, 16));
  // Inside `big`, a perfect imitation: an allocated 64-byte chunk followed by an allocated
  // 32-byte chunk, as a neighbour would look.
  const std::uint64_t fake = h->offset_of(big) + 256 - talc::kTagSize;
  auto* base = static_cast<std::byte*>(h->address_of(0));
  talc::store_word(base, fake, talc::Tag::make(64, true, false).bits);
  talc::store_word(base, fake + 64, talc::Tag::make(32, true, false).bits);
  const auto before = std::vector<std::byte>(buf);
  EXPECT_EQ(h->deallocate(big + 256), Errc::foreign_pointer);
  EXPECT_EQ(std::vector<std::byte>(buf), before);
  EXPECT_EQ(h->deallocate(big), Errc::ok);
  EXPECT_TRUE(h->check().ok());
}

// Offsets in the heap are another process's data: a bin head or link that points outside the
// heap is refused with Errc::corrupted before anything is written, never followed.
TEST_F(CoreHeap, WildOffsetsInTheMetadataAreRefusedNotFollowed) {
  void* a = Alloc(100);
  void* b = Alloc(100);
  Alloc(100);
  ASSERT_EQ(heap_->deallocate(a), Errc::ok);  // a free chunk below b, in a bin of its own
  auto* base = static_cast<std::byte*>(heap_->address_of(0));
  const std::uint64_t a_chunk = heap_->offset_of(a) - talc::kTagSize;

  talc::store_word(base, a_chunk + talc::kNextOffset, std::uint64_t{1} << 40);  // next: far away
  auto before = Snapshot();
  EXPECT_EQ(heap_->deallocate(b), Errc::corrupted);  // b would merge with a and unlink it
  EXPECT_EQ(Snapshot(), before);
  EXPECT_EQ(heap_->allocate(100).error(), Errc::corrupted);  // the exact bin holds a
  EXPECT_EQ(Snapshot(), before);

  talc::store_word(base, a_chunk + talc::kNextOffset, talc::Rel<int>::kNull);
  talc::store_word(base, a_chunk + talc::kPrevLinkOffset, 8);  // a link into the fixed fields
  before = Snapshot();
  EXPECT_EQ(heap_->deallocate(b), Errc::corrupted);
  EXPECT_EQ(Snapshot(), before);
}

// A 32-byte chunk listed in the last bin, as scribbled bytes may list it: the bin promises
// that every chunk in it fits any request that reaches it, and the chunk does not. The request
// is refused with nothing written, never carved past the chunk's end.
TEST_F(CoreHeap, AChunkListedInABinItDoesNotFitIsRefused) {
  using Bins = Heap::BinConfigType;
  const auto head_slot = [](std::uint64_t bin) { return Heap::head_slot(bin); };
  const auto avail_word = [](std::uint64_t bin) { return Heap::avail_slot(bin / 64); };
  void* a = Alloc(24);  // a 32-byte chunk, alone in bin 0 once freed
  Alloc(100);
  ASSERT_EQ(heap_->deallocate(a), Errc::ok);
  auto* base = static_cast<std::byte*>(heap_->address_of(0));
  const std::uint64_t chunk = heap_->offset_of(a) - talc::kTagSize;
  const std::uint64_t last = Bins::kBins - 1;
  ASSERT_EQ(talc::load_word(base, head_slot(0)), chunk);
  talc::store_word(base, head_slot(0), talc::Rel<int>::kNull);
  talc::store_word(base, avail_word(0), talc::load_word(base, avail_word(0)) & ~std::uint64_t{1});
  talc::store_word(base, head_slot(last), chunk);
  talc::store_word(base, avail_word(last),
                   talc::load_word(base, avail_word(last)) | std::uint64_t{1} << (last % 64));
  talc::store_word(base, chunk + talc::kPrevLinkOffset, head_slot(last));
  const auto before = Snapshot();
  EXPECT_EQ(heap_->allocate(std::size_t{1} << 36).error(), Errc::corrupted);
  EXPECT_EQ(Snapshot(), before);
}

// Slip: free lists stored through a type whose layout the language leaves unspecified.
// Ours are fixed-width words at fixed offsets (static_asserts in chunk.hpp); this pins the
// numbers a file written by one build must mean to another.
TEST(Regression, LayoutIsFixedWidth) {
  EXPECT_EQ(sizeof(talc::Tag), 8u);
  EXPECT_EQ(sizeof(talc::FreeHead), 24u);
  EXPECT_EQ(sizeof(talc::FreeTail), 8u);
  EXPECT_EQ(talc::kNextOffset, 8u);
  EXPECT_EQ(talc::kPrevLinkOffset, 16u);
  EXPECT_EQ(talc::kMinChunk, 32u);
  EXPECT_EQ(alignof(Heap), 64u);
  EXPECT_EQ(sizeof(Heap), 2432u);  // the figure docs/layout.md gives
}

// check() on a heap whose bytes were damaged finds the damage, names it, and never crashes.
TEST_F(CoreHeap, CheckReportsDamage) {
  void* a = Alloc(100);
  void* b = Alloc(100);
  Alloc(100);
  ASSERT_EQ(heap_->deallocate(b), Errc::ok);
  auto* base = static_cast<std::byte*>(heap_->address_of(0));
  const std::uint64_t a_tag = heap_->offset_of(a) - 8;
  const std::uint64_t b_tag = heap_->offset_of(b) - 8;

  const auto pristine = Snapshot();
  auto expect_damage = [&](const char* what_part) {
    const talc::CheckReport r = heap_->check();
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.code, Errc::corrupted);
    EXPECT_NE(std::string(r.what).find(what_part), std::string::npos) << r.what;
    buf_ = pristine;
  };
  talc::store_word(base, a_tag, 224 | talc::Tag::kAllocated);  // swallows the free b
  expect_damage("BELOW_FREE");
  talc::store_word(base, a_tag, 16 | talc::Tag::kAllocated);
  expect_damage("size out of range");
  talc::store_word(base, b_tag + 112 - 8, 64);  // b's tail
  expect_damage("tail");
  talc::store_word(base, b_tag + 8, b_tag);  // b's next links to itself
  expect_damage("listed twice");
  talc::store_word(base, b_tag + 8, heap_->offset_of(a) - 8);  // to an allocated chunk
  expect_damage("not a free chunk");
  talc::store_word(base, a_tag, talc::Tag::make(112, true, false).bits | 4);
  expect_damage("unknown flag");
  talc::store_word(base, b_tag + 16, 8);  // b's prev_link
  expect_damage("prev_link");
  talc::store_word(base, heap_->heap_end(), 0);
  expect_damage("sentinel");
  EXPECT_TRUE(heap_->check().ok());
}

}  // namespace
