// Relocation: a heap copied byte for byte to another address goes on working there.
//
// Every link in a heap is an offset from its TalcMeta, so a copy at any 64-aligned address is
// the same heap. These tests build a heap with live and freed blocks, copy it to places whose
// address differs from the original's modulo the page (where an absolute address cached
// anywhere would show), destroy the original, attach to the copy and go on using it. They also
// prove that attach() refuses what it cannot map safely.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <new>
#include <ostream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "support/meta_bytes.hpp"
#include "support/pattern.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using Heap = talc::TalcMeta<>;

constexpr std::size_t kPage = 4096;
constexpr std::size_t kSpan = std::size_t{8} << 20;
constexpr std::size_t kOriginalOffset = 64;  // the original heap's TalcMeta: 64 mod the page

// Page-aligned storage, so that a heap can be put at a chosen offset modulo the page.
class PageAligned {
 public:
  explicit PageAligned(std::size_t len)
      : len_(len), p_(static_cast<std::byte*>(::operator new (len, std::align_val_t{kPage}))) {}
  ~PageAligned() { ::operator delete (p_, std::align_val_t{kPage}); }
  PageAligned(const PageAligned&) = delete;
  PageAligned& operator=(const PageAligned&) = delete;

  std::byte* data() const { return p_; }
  std::size_t size() const { return len_; }

 private:
  std::size_t len_;
  std::byte* p_;
};

std::string Describe(const talc::CheckReport& rep) {
  return std::string(rep.what) + " at offset " + std::to_string(rep.offset) + " (detail " +
         std::to_string(rep.detail) + ")";
}

std::vector<std::byte> MetaBytes(const Heap* h) {
  return talc_test::MetaBytes(*h);
}

struct Kept {
  std::size_t usable;
  std::uint64_t id;
};

// The live blocks of one heap, by offset: the only description of a block that survives a move.
class Blocks {
 public:
  explicit Blocks(std::uint64_t seed) : rng_(seed) {}

  std::uint64_t Below(std::uint64_t n) { return rng_() % n; }

  std::size_t RandomSize() {
    const std::uint64_t r = Below(100);
    if (r < 5) return 0;
    if (r < 75) return 1 + Below(1024);
    if (r < 97) return 1025 + Below(15 << 10);
    return (16 << 10) + Below(48 << 10);
  }

  std::size_t RandomAlign() {
    const std::uint64_t r = Below(100);
    if (r < 60) return std::size_t{1} << Below(5);
    if (r < 90) return std::size_t{1} << (5 + Below(8));
    return std::size_t{1} << (13 + Below(4));
  }

  void Allocate(Heap* h, std::size_t size, std::size_t align) {
    const talc::Result<void*> r = h->allocate(size, align);
    ASSERT_TRUE(r.ok()) << "allocate(" << size << ", " << align
                        << "): " << talc::describe(r.error());
    // Alignment is a property of the address in this mapping, not of the offset.
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(*r) % align, 0u)
        << "allocate(" << size << ", " << align << ") at " << *r;
    const talc::Result<std::size_t> usable = h->usable_size(*r);
    ASSERT_TRUE(usable.ok()) << talc::describe(usable.error());
    ASSERT_GE(*usable, size);
    const std::uint64_t off = h->offset_of(*r);
    ASSERT_GE(off, h->heap_start() + talc::kTagSize);
    ASSERT_LE(off + *usable, h->heap_end());
    const auto next = live_.lower_bound(off);
    if (next != live_.end()) {
      ASSERT_LE(off + *usable, next->first - talc::kTagSize)
          << "overlaps block " << next->second.id;
    }
    if (next != live_.begin()) {
      const auto prev = std::prev(next);
      ASSERT_LE(prev->first + prev->second.usable, off - talc::kTagSize)
          << "overlaps block " << prev->second.id;
    }
    const std::uint64_t id = next_id_++;
    talc_test::FillPattern(*r, *usable, id);
    live_.emplace(off, Kept{*usable, id});
  }

  void Free(Heap* h, std::uint64_t off) {
    const auto it = live_.find(off);
    ASSERT_TRUE(it != live_.end());
    void* p = h->address_of(off);
    ASSERT_EQ(talc_test::FirstMismatch(p, it->second.usable, it->second.id), it->second.usable)
        << "block " << it->second.id << " at offset " << off << " was overwritten";
    ASSERT_EQ(h->deallocate(p), Errc::ok) << "block " << it->second.id << " at offset " << off;
    live_.erase(it);
  }

  void FreeRandomFraction(Heap* h, std::uint64_t num, std::uint64_t den) {
    std::vector<std::uint64_t> offs = Offsets();
    std::shuffle(offs.begin(), offs.end(), rng_);
    offs.resize(offs.size() * num / den);
    for (const std::uint64_t off : offs) {
      ASSERT_NO_FATAL_FAILURE(Free(h, off));
    }
  }

  // Every block is found through its offset in `h`, intact and the size it was.
  void VerifyAll(const Heap* h) const {
    for (const auto& [off, b] : live_) {
      const void* p = h->address_of(off);
      ASSERT_EQ(h->offset_of(p), off);
      ASSERT_EQ(talc_test::FirstMismatch(p, b.usable, b.id), b.usable)
          << "block " << b.id << " at offset " << off << " did not survive the move";
      const talc::Result<std::size_t> u = h->usable_size(p);
      ASSERT_TRUE(u.ok()) << "block " << b.id << ": " << talc::describe(u.error());
      ASSERT_EQ(*u, b.usable) << "block " << b.id;
    }
  }

  std::vector<std::uint64_t> Offsets() const {
    std::vector<std::uint64_t> offs;
    for (const auto& entry : live_) offs.push_back(entry.first);
    return offs;
  }

  std::size_t count() const { return live_.size(); }

 private:
  std::mt19937_64 rng_;
  std::map<std::uint64_t, Kept> live_;
  std::uint64_t next_id_ = 0;
};

void ExpectConsistent(const Heap* h) {
  const talc::CheckReport rep = h->check();
  ASSERT_TRUE(rep.ok()) << "check(): " << Describe(rep);
  const talc::Census c = h->census();
  ASSERT_EQ(c.live_bytes + c.free_bytes, h->capacity());
}

// Copies the heap to `to`, wipes the storage it came from, and attaches to the copy.
Heap* Move(Heap* from, PageAligned& from_storage, std::byte* to, std::size_t available) {
  const std::uint64_t span = from->span();
  std::memcpy(to, from->address_of(0), span);
  std::memset(from_storage.data(), 0xdd, from_storage.size());
  const talc::Result<Heap*> r = Heap::attach(to, available);
  EXPECT_TRUE(r.ok()) << talc::describe(r.error());
  EXPECT_EQ(static_cast<void*>(*r), static_cast<void*>(to));
  return *r;
}

// Where the copy's TalcMeta goes in page-aligned storage; the original's is at 64 mod 4096.
struct Placement {
  const char* name;
  std::size_t offset;
};

void PrintTo(const Placement& p, std::ostream* os) {
  *os << p.name << " (+" << p.offset << ")";
}

const Placement kPlacements[] = {
    {"OtherOffsetInPage", kPage + 37 * 64},
    {"PageAligned", 3 * kPage},
};

class Relocation : public ::testing::TestWithParam<std::tuple<Placement, int>> {};

TEST_P(Relocation, CopyWorksAtTheNewAddressAndNeedsNothingOfTheOriginal) {
  const auto [place, seed] = GetParam();
  Blocks blocks(static_cast<std::uint64_t>(seed));

  PageAligned a_store(kOriginalOffset + kSpan);
  const talc::Result<Heap*> claimed = Heap::claim(a_store.data() + kOriginalOffset, kSpan);
  ASSERT_TRUE(claimed.ok()) << talc::describe(claimed.error());
  Heap* a = *claimed;
  ASSERT_EQ(static_cast<void*>(a), static_cast<void*>(a_store.data() + kOriginalOffset));
  const std::vector<std::byte> fresh_meta = MetaBytes(a);

  for (int i = 0; i < 500; ++i) {
    ASSERT_NO_FATAL_FAILURE(blocks.Allocate(a, blocks.RandomSize(), blocks.RandomAlign()));
  }
  ASSERT_NO_FATAL_FAILURE(blocks.FreeRandomFraction(a, 1, 2));
  ASSERT_NO_FATAL_FAILURE(ExpectConsistent(a));
  const talc::Census before = a->census();
  const std::uint64_t span = a->span(), start = a->heap_start(), end = a->heap_end();

  PageAligned b_store(place.offset + span);
  std::byte* const b_addr = b_store.data() + place.offset;
  ASSERT_NE(reinterpret_cast<std::uintptr_t>(b_addr) % kPage,
            reinterpret_cast<std::uintptr_t>(a) % kPage);
  Heap* const b = Move(a, a_store, b_addr, span);
  ASSERT_FALSE(::testing::Test::HasFailure());

  ASSERT_NO_FATAL_FAILURE(ExpectConsistent(b));
  EXPECT_EQ(b->span(), span);
  EXPECT_EQ(b->heap_start(), start);
  EXPECT_EQ(b->heap_end(), end);
  const talc::Census after = b->census();
  EXPECT_EQ(after.live_chunks, before.live_chunks);
  EXPECT_EQ(after.live_bytes, before.live_bytes);
  EXPECT_EQ(after.free_chunks, before.free_chunks);
  EXPECT_EQ(after.largest_free, before.largest_free);
  ASSERT_NO_FATAL_FAILURE(blocks.VerifyAll(b));

  // New work in the copy, with alignments up to 64 KiB: the gaps they need depend on the new
  // absolute addresses, which no longer agree with the old ones modulo the alignment.
  for (int i = 0; i < 400; ++i) {
    if (blocks.Below(3) == 0 && blocks.count() > 0) {
      const std::vector<std::uint64_t> offs = blocks.Offsets();
      ASSERT_NO_FATAL_FAILURE(blocks.Free(b, offs[blocks.Below(offs.size())]));
    } else {
      const std::size_t align = std::size_t{1} << blocks.Below(17);
      ASSERT_NO_FATAL_FAILURE(blocks.Allocate(b, blocks.RandomSize(), align));
    }
  }
  ASSERT_NO_FATAL_FAILURE(ExpectConsistent(b));
  ASSERT_NO_FATAL_FAILURE(blocks.VerifyAll(b));

  ASSERT_NO_FATAL_FAILURE(blocks.FreeRandomFraction(b, 1, 1));
  ASSERT_NO_FATAL_FAILURE(ExpectConsistent(b));
  const talc::Census last = b->census();
  EXPECT_EQ(last.live_chunks, 0u);
  EXPECT_EQ(last.free_chunks, 1u);
  EXPECT_EQ(last.free_bytes, b->capacity());
  // Offsets only: the emptied copy's metadata is the fresh original's, byte for byte.
  EXPECT_TRUE(MetaBytes(b) == fresh_meta);
}

INSTANTIATE_TEST_SUITE_P(Placements, Relocation,
                         ::testing::Combine(::testing::ValuesIn(kPlacements),
                                            ::testing::Range(0, 4)),
                         [](const ::testing::TestParamInfo<Relocation::ParamType>& param_info) {
                           return std::string(std::get<0>(param_info.param).name) + "Seed" +
                                  std::to_string(std::get<1>(param_info.param));
                         });

// A heap that keeps moving, with work between the moves, ends where it would have without them.
TEST(RelocationChain, SurvivesManyMovesWithWorkInBetween) {
  Blocks blocks(99);
  const std::size_t offsets[] = {kOriginalOffset, 5 * 64, kPage - 64, 0, 2 * kPage + 1984, 128};
  auto store = std::make_unique<PageAligned>(offsets[0] + kSpan);
  const talc::Result<Heap*> claimed = Heap::claim(store->data() + offsets[0], kSpan);
  ASSERT_TRUE(claimed.ok()) << talc::describe(claimed.error());
  Heap* h = *claimed;
  const std::vector<std::byte> fresh_meta = MetaBytes(h);

  for (std::size_t move = 1; move < std::size(offsets); ++move) {
    for (int i = 0; i < 200; ++i) {
      ASSERT_NO_FATAL_FAILURE(blocks.Allocate(h, blocks.RandomSize(), blocks.RandomAlign()));
    }
    ASSERT_NO_FATAL_FAILURE(blocks.FreeRandomFraction(h, 1, 3));
    ASSERT_NO_FATAL_FAILURE(ExpectConsistent(h));

    auto next = std::make_unique<PageAligned>(offsets[move] + h->span());
    h = Move(h, *store, next->data() + offsets[move], h->span());
    ASSERT_FALSE(::testing::Test::HasFailure()) << "move " << move;
    store = std::move(next);
    ASSERT_NO_FATAL_FAILURE(ExpectConsistent(h)) << "move " << move;
    ASSERT_NO_FATAL_FAILURE(blocks.VerifyAll(h)) << "move " << move;
  }
  ASSERT_NO_FATAL_FAILURE(blocks.FreeRandomFraction(h, 1, 1));
  ASSERT_NO_FATAL_FAILURE(ExpectConsistent(h));
  EXPECT_EQ(h->census().free_chunks, 1u);
  EXPECT_TRUE(MetaBytes(h) == fresh_meta);
}

// attach() reads bytes that may come from anywhere: each way they can be unfit has its refusal,
// and a refusal writes nothing.
class AdoptRefusals : public ::testing::Test {
 protected:
  static constexpr std::size_t kSmall = 64 << 10;
  static constexpr std::size_t kAt = 128;

  void SetUp() override {
    const talc::Result<Heap*> r = Heap::claim(original_.data() + kOriginalOffset, kSmall);
    ASSERT_TRUE(r.ok()) << talc::describe(r.error());
    for (int i = 0; i < 20; ++i) {
      ASSERT_NO_FATAL_FAILURE(blocks_.Allocate(*r, blocks_.RandomSize() % 1024, 16));
    }
    span_ = (*r)->span();
    heap_end_ = (*r)->heap_end();
    std::memcpy(copy_.data() + kAt, original_.data() + kOriginalOffset, span_);
    pristine_.assign(copy_.data(), copy_.data() + copy_.size());
  }

  std::byte* meta() { return copy_.data() + kAt; }
  std::uint64_t Word(std::uint64_t off) { return talc::load_word(meta(), off); }
  void SetWord(std::uint64_t off, std::uint64_t v) { talc::store_word(meta(), off, v); }

  // attach() with the given word scribbled over the copy's TalcMeta, then the word restored.
  Errc AdoptWith(std::uint64_t off, std::uint64_t v) {
    const std::uint64_t saved = Word(off);
    SetWord(off, v);
    const Errc e = Heap::attach(meta(), span_).error();
    SetWord(off, saved);
    return e;
  }

  bool CopyUntouched() const {
    return std::memcmp(copy_.data(), pristine_.data(), pristine_.size()) == 0;
  }

  PageAligned original_{kOriginalOffset + kSmall};
  PageAligned copy_{kAt + kSmall + kPage};  // a page past the span: attach may be told so
  std::vector<std::byte> pristine_;
  Blocks blocks_{7};
  std::uint64_t span_ = 0;
  std::uint64_t heap_end_ = 0;
};

TEST_F(AdoptRefusals, TheUntouchedCopyIsAdopted) {
  const talc::Result<Heap*> r = Heap::attach(meta(), span_);
  ASSERT_TRUE(r.ok()) << talc::describe(r.error());
  ASSERT_NO_FATAL_FAILURE(ExpectConsistent(*r));
  ASSERT_NO_FATAL_FAILURE(blocks_.VerifyAll(*r));
  EXPECT_TRUE(Heap::attach(meta(), span_ + 4096).ok()) << "more than the span may be mapped";
  EXPECT_TRUE(CopyUntouched());
}

TEST_F(AdoptRefusals, NullRegion) {
  EXPECT_EQ(Heap::attach(nullptr, span_).error(), Errc::null_region);
  EXPECT_EQ(Heap::attach(nullptr, 0).error(), Errc::null_region);
}

TEST_F(AdoptRefusals, MisalignedMetaIsCorrupted) {
  for (const std::size_t skew : {1, 8, 16, 32, 48, 63}) {
    EXPECT_EQ(Heap::attach(meta() + skew, span_).error(), Errc::corrupted) << "skew " << skew;
  }
  EXPECT_TRUE(CopyUntouched());
}

// A whole, valid heap copied to an address that is not 64-aligned: every field reads right,
// but the metadata's own alignment is part of the layout, so the copy is refused all the same.
TEST_F(AdoptRefusals, IntactCopyAtAMisalignedAddressIsCorrupted) {
  PageAligned elsewhere(kPage + kSmall);
  for (const std::size_t skew : {8, 16, 32, 48}) {
    std::byte* const at = elsewhere.data() + skew;
    std::memcpy(at, meta(), span_);
    EXPECT_EQ(Heap::attach(at, span_).error(), Errc::corrupted) << "skew " << skew;
  }
}

TEST_F(AdoptRefusals, LessMappedThanTheSpanIsTooSmall) {
  EXPECT_EQ(Heap::attach(meta(), span_ - 1).error(), Errc::region_too_small);
  EXPECT_EQ(Heap::attach(meta(), span_ / 2).error(), Errc::region_too_small);
  EXPECT_EQ(Heap::attach(meta(), sizeof(Heap)).error(), Errc::region_too_small);
  EXPECT_EQ(Heap::attach(meta(), 0).error(), Errc::region_too_small);
  // A span that claims more than is mapped is the same refusal, whoever is wrong.
  EXPECT_EQ(AdoptWith(0, span_ + kPage), Errc::region_too_small);
  EXPECT_TRUE(CopyUntouched());
}

// The first four words of the TalcMeta are span, heap start, heap end and flags.
TEST_F(AdoptRefusals, ScribbledFieldsAreCorrupted) {
  ASSERT_EQ(Word(0), span_);
  ASSERT_EQ(Word(16), heap_end_);
  ASSERT_EQ(Word(24), 0u);
  const std::uint64_t start = Word(8);

  EXPECT_EQ(AdoptWith(16, heap_end_ + 1), Errc::corrupted) << "heap end off its phase";
  EXPECT_EQ(AdoptWith(16, heap_end_ + 8), Errc::corrupted) << "heap end off its phase";
  EXPECT_EQ(AdoptWith(16, span_), Errc::corrupted) << "no room for the sentinel";
  EXPECT_EQ(AdoptWith(16, span_ + 4096 + talc::kChunkPhase), Errc::corrupted) << "past the span";
  EXPECT_EQ(AdoptWith(16, start), Errc::corrupted) << "no room for a chunk";
  EXPECT_EQ(AdoptWith(16, 0), Errc::corrupted);
  EXPECT_EQ(AdoptWith(16, ~std::uint64_t{0}), Errc::corrupted);

  EXPECT_EQ(AdoptWith(8, start + 16), Errc::corrupted) << "heap start moved";
  EXPECT_EQ(AdoptWith(8, 0), Errc::corrupted) << "heap start over the metadata";

  EXPECT_EQ(AdoptWith(0, 0), Errc::corrupted) << "span of nothing";
  EXPECT_EQ(AdoptWith(0, talc::kMaxSpan + kPage), Errc::corrupted) << "span past the limit";
  EXPECT_EQ(AdoptWith(0, heap_end_), Errc::corrupted) << "span ends before the sentinel";

  EXPECT_EQ(AdoptWith(24, 2), Errc::corrupted) << "unknown flag";
  EXPECT_EQ(AdoptWith(24, std::uint64_t{1} << 63), Errc::corrupted) << "unknown flag";

  EXPECT_TRUE(CopyUntouched());
  const talc::Result<Heap*> r = Heap::attach(meta(), span_);
  ASSERT_TRUE(r.ok()) << "restored: " << talc::describe(r.error());
  ASSERT_NO_FATAL_FAILURE(ExpectConsistent(*r));
}

// attach() checks only what keeps it in bounds; a wrong but plausible heap end gets past it,
// and check() is what must then refuse the heap.
TEST_F(AdoptRefusals, PlausibleButWrongHeapEndIsCaughtByCheck) {
  for (const std::uint64_t end : {heap_end_ - talc::kGranule, heap_end_ - 4 * talc::kGranule}) {
    SetWord(16, end);
    const talc::Result<Heap*> r = Heap::attach(meta(), span_);
    if (r.ok()) {
      EXPECT_EQ((*r)->check().code, Errc::corrupted) << "heap end " << end;
    } else {
      EXPECT_EQ(r.error(), Errc::corrupted) << "heap end " << end;
    }
    SetWord(16, heap_end_);
  }
  EXPECT_TRUE(CopyUntouched());
}

}  // namespace
