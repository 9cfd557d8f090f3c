// Rel<T> and RelSlice<T>: offsets that mean the same place in every mapping of a region.
//
// The tests lean on two buffers standing in for two mappings of one region at different
// addresses: an offset taken in one must name the same bytes in the other, and null must stay
// distinct from offset 0, which is the base itself.
#include "talc/core/rel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

namespace {

using talc::Rel;
using talc::RelSlice;

constexpr std::size_t kRegionBytes = 4096;

// Alignment as strict as a real mapping's, so every element offset used below is aligned.
struct alignas(64) Region {
  std::array<std::byte, kRegionBytes> bytes{};
  std::byte* base() { return bytes.data(); }
  const std::byte* base() const { return bytes.data(); }
};

constexpr std::array<std::uint64_t, 6> kOffsets = {0, 8, 16, 64, 1000, kRegionBytes - 8};

// Rels are stored inside regions and copied byte for byte between processes.
static_assert(sizeof(Rel<int>) == 8);
static_assert(sizeof(Rel<char>) == 8);
static_assert(sizeof(Rel<std::array<std::byte, 4096>>) == 8);
static_assert(alignof(Rel<int>) == 8);
static_assert(sizeof(RelSlice<int>) == 16);
static_assert(sizeof(RelSlice<std::uint64_t>) == 16);
static_assert(alignof(RelSlice<int>) == 8);
static_assert(std::is_trivially_copyable_v<Rel<int>>);
static_assert(std::is_trivially_copyable_v<RelSlice<int>>);
static_assert(std::is_standard_layout_v<Rel<int>>);
static_assert(std::is_standard_layout_v<RelSlice<int>>);
// An implicit conversion to bool would let a Rel slip into integer arithmetic.
static_assert(!std::is_convertible_v<Rel<int>, bool>);
static_assert(std::is_constructible_v<bool, Rel<int>>);

// Null and its relation to offset 0 are fixed at compile time, not just at run time.
static_assert(Rel<int>().is_null());
static_assert(Rel<int>::null().is_null());
static_assert(Rel<int>().offset() == Rel<int>::kNull);
static_assert(!Rel<int>::from_offset(0).is_null());
static_assert(Rel<int>::from_offset(0) != Rel<int>::null());
static_assert(RelSlice<int>().is_null() && RelSlice<int>().size() == 0);

TEST(RelTest, DefaultIsNull) {
  const Rel<int> r;
  EXPECT_TRUE(r.is_null());
  EXPECT_FALSE(static_cast<bool>(r));
  EXPECT_EQ(r.offset(), Rel<int>::kNull);
  EXPECT_EQ(r.offset(), ~std::uint64_t{0});
  EXPECT_EQ(r, Rel<int>::null());
}

TEST(RelTest, OffsetZeroIsARealPlace) {
  Region region;
  const Rel<std::byte> zero = Rel<std::byte>::from_offset(0);
  EXPECT_FALSE(zero.is_null());
  EXPECT_TRUE(static_cast<bool>(zero));
  EXPECT_EQ(zero.offset(), 0u);
  EXPECT_NE(zero, Rel<std::byte>::null());
  EXPECT_EQ(zero.to_ptr(static_cast<void*>(region.base())), region.base());

  // The base itself is offset 0, not null.
  const Rel<std::byte> from_base = Rel<std::byte>::from_ptr(region.base(), region.base());
  EXPECT_FALSE(from_base.is_null());
  EXPECT_EQ(from_base, zero);
}

TEST(RelTest, FromPtrToPtrRoundTrips) {
  Region region;
  void* base = region.base();
  for (const std::uint64_t off : kOffsets) {
    SCOPED_TRACE(off);
    auto* p = reinterpret_cast<std::uint64_t*>(region.base() + off);
    const Rel<std::uint64_t> r = Rel<std::uint64_t>::from_ptr(base, p);
    EXPECT_FALSE(r.is_null());
    EXPECT_EQ(r.offset(), off);
    EXPECT_EQ(r, Rel<std::uint64_t>::from_offset(off));
    EXPECT_EQ(r.to_ptr(base), p);
  }
}

TEST(RelTest, SameOffsetNamesSamePlaceInEveryMapping) {
  Region a;
  Region b;
  ASSERT_NE(a.base(), b.base());
  for (const std::uint64_t off : kOffsets) {
    SCOPED_TRACE(off);
    const auto r = Rel<std::uint64_t>::from_ptr(
        a.base(), reinterpret_cast<const std::uint64_t*>(a.base() + off));
    EXPECT_EQ(reinterpret_cast<std::byte*>(r.to_ptr(static_cast<void*>(a.base()))), a.base() + off);
    EXPECT_EQ(reinterpret_cast<std::byte*>(r.to_ptr(static_cast<void*>(b.base()))), b.base() + off);
    // Taken from the other mapping, the same place gives the same offset.
    const auto r_b = Rel<std::uint64_t>::from_ptr(
        b.base(), reinterpret_cast<const std::uint64_t*>(b.base() + off));
    EXPECT_EQ(r, r_b);
  }
}

TEST(RelTest, RelStoredInRegionSurvivesCopyToAnotherAddress) {
  // A small linked structure whose links are Rels, built in one region and read in a copy.
  Region a;
  constexpr std::uint64_t kFirst = 64;
  constexpr std::uint64_t kSecond = 512;
  constexpr std::uint64_t kPayload = 0x1122334455667788u;
  const auto link = Rel<std::uint64_t>::from_offset(kSecond);
  std::memcpy(a.base() + kFirst, &link, sizeof link);
  std::memcpy(a.base() + kSecond, &kPayload, sizeof kPayload);

  Region b;
  std::memcpy(b.base(), a.base(), kRegionBytes);
  a.bytes.fill(std::byte{0xAA});  // the original is gone; nothing may still point into it

  Rel<std::uint64_t> read_link;
  std::memcpy(&read_link, b.base() + kFirst, sizeof read_link);
  ASSERT_FALSE(read_link.is_null());
  const std::uint64_t* target = read_link.to_ptr(static_cast<const void*>(b.base()));
  EXPECT_EQ(reinterpret_cast<const std::byte*>(target), b.base() + kSecond);
  std::uint64_t value = 0;
  std::memcpy(&value, target, sizeof value);
  EXPECT_EQ(value, kPayload);
}

TEST(RelTest, NullToPtrIsNullptrWhateverTheBase) {
  Region region;
  const Rel<int> null;
  // With a null base, any arithmetic on the sentinel would be undefined; UBSan checks it.
  EXPECT_EQ(null.to_ptr(static_cast<void*>(nullptr)), nullptr);
  EXPECT_EQ(null.to_ptr(static_cast<const void*>(nullptr)), nullptr);
  EXPECT_EQ(null.to_ptr(static_cast<void*>(region.base())), nullptr);
  EXPECT_EQ(null.to_ptr(static_cast<const void*>(region.base())), nullptr);
}

TEST(RelTest, FromNullptrIsNull) {
  Region region;
  const Rel<int> r = Rel<int>::from_ptr(region.base(), nullptr);
  EXPECT_TRUE(r.is_null());
  EXPECT_EQ(r, Rel<int>::null());
  const Rel<int> with_null_base = Rel<int>::from_ptr(nullptr, nullptr);
  EXPECT_TRUE(with_null_base.is_null());
}

TEST(RelTest, ComparisonsFollowOffsets) {
  const auto r0 = Rel<int>::from_offset(0);
  const auto r8 = Rel<int>::from_offset(8);
  const auto r8_again = Rel<int>::from_offset(8);
  const auto r1k = Rel<int>::from_offset(1024);

  EXPECT_EQ(r8, r8_again);
  EXPECT_FALSE(r8 != r8_again);
  EXPECT_NE(r0, r8);
  EXPECT_LT(r0, r8);
  EXPECT_LT(r8, r1k);
  EXPECT_LE(r8, r8_again);
  EXPECT_GE(r8, r8_again);
  EXPECT_GT(r1k, r0);
  EXPECT_EQ(r0 <=> r8, std::strong_ordering::less);
  EXPECT_EQ(r8 <=> r8_again, std::strong_ordering::equal);
  EXPECT_EQ(r1k <=> r8, std::strong_ordering::greater);
}

TEST(RelTest, NullOrdersAfterEveryRealOffset) {
  const Rel<int> null;
  for (const std::uint64_t off : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{4096},
                                  std::uint64_t{1} << 48, Rel<int>::kNull - 1}) {
    SCOPED_TRACE(off);
    const auto r = Rel<int>::from_offset(off);
    EXPECT_LT(r, null);
    EXPECT_GT(null, r);
    EXPECT_NE(r, null);
  }
  EXPECT_EQ(null, Rel<int>::null());
  EXPECT_EQ(null <=> Rel<int>::null(), std::strong_ordering::equal);

  std::vector<Rel<int>> sorted = {Rel<int>::null(), Rel<int>::from_offset(32),
                                  Rel<int>::from_offset(0), Rel<int>::null(),
                                  Rel<int>::from_offset(16)};
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted[0].offset(), 0u);
  EXPECT_EQ(sorted[1].offset(), 16u);
  EXPECT_EQ(sorted[2].offset(), 32u);
  EXPECT_TRUE(sorted[3].is_null());
  EXPECT_TRUE(sorted[4].is_null());
}

TEST(RelTest, ConstBaseGivesConstPointer) {
  Region region;
  const Region& const_region = region;
  const auto r = Rel<std::uint64_t>::from_offset(24);

  const void* const_base = const_region.base();
  void* mutable_base = region.base();
  static_assert(std::is_same_v<decltype(r.to_ptr(const_base)), const std::uint64_t*>);
  static_assert(std::is_same_v<decltype(r.to_ptr(mutable_base)), std::uint64_t*>);

  EXPECT_EQ(reinterpret_cast<const std::byte*>(r.to_ptr(const_base)), const_region.base() + 24);
  EXPECT_EQ(reinterpret_cast<std::byte*>(r.to_ptr(mutable_base)), region.base() + 24);

  // from_ptr accepts pointers to const, so read-only mappings can compute offsets too.
  const auto* p = reinterpret_cast<const std::uint64_t*>(const_region.base() + 24);
  EXPECT_EQ(Rel<std::uint64_t>::from_ptr(const_base, p), r);
}

TEST(RelSliceTest, DefaultIsNullAndEmpty) {
  const RelSlice<int> s;
  EXPECT_TRUE(s.is_null());
  EXPECT_TRUE(s.start().is_null());
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s, RelSlice<int>(Rel<int>::null(), 0));
}

TEST(RelSliceTest, FromSpanToSpanRoundTrips) {
  Region region;
  void* base = region.base();
  auto* elems = reinterpret_cast<std::uint32_t*>(region.base() + 128);
  for (std::uint32_t i = 0; i < 10; ++i) elems[i] = 100 + i;

  const std::span<const std::uint32_t> in(elems + 2, 5);
  const auto slice = RelSlice<std::uint32_t>::from_span(base, in);
  EXPECT_FALSE(slice.is_null());
  EXPECT_EQ(slice.start().offset(), 128u + 2 * sizeof(std::uint32_t));
  EXPECT_EQ(slice.size(), 5u);

  const std::span<std::uint32_t> out = slice.to_span(base);
  EXPECT_EQ(out.data(), elems + 2);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), in.begin(), in.end()));
  EXPECT_EQ(out[0], 102u);
  EXPECT_EQ(out[4], 106u);
}

TEST(RelSliceTest, SameSliceReadsTheSameElementsInACopy) {
  Region a;
  auto* elems = reinterpret_cast<std::uint16_t*>(a.base() + 256);
  for (std::uint16_t i = 0; i < 8; ++i) elems[i] = static_cast<std::uint16_t>(7 * i + 1);
  const auto slice =
      RelSlice<std::uint16_t>::from_span(a.base(), std::span<const std::uint16_t>(elems, 8));

  Region b;
  std::memcpy(b.base(), a.base(), kRegionBytes);
  const std::span<const std::uint16_t> out = slice.to_span(static_cast<const void*>(b.base()));
  EXPECT_EQ(reinterpret_cast<const std::byte*>(out.data()), b.base() + 256);
  ASSERT_EQ(out.size(), 8u);
  for (std::uint16_t i = 0; i < 8; ++i) EXPECT_EQ(out[i], 7 * i + 1) << i;
}

TEST(RelSliceTest, NullSliceGivesEmptySpan) {
  Region region;
  const RelSlice<int> null;
  const std::span<int> m = null.to_span(static_cast<void*>(region.base()));
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.data(), nullptr);
  const std::span<const int> c = null.to_span(static_cast<const void*>(region.base()));
  EXPECT_TRUE(c.empty());
  EXPECT_EQ(c.data(), nullptr);
  EXPECT_TRUE(null.to_span(static_cast<void*>(nullptr)).empty());
  EXPECT_EQ(null.to_span(static_cast<void*>(nullptr)).data(), nullptr);

  // A null start with a stray length still reads as nothing: a torn slice never yields bytes.
  const RelSlice<int> torn(Rel<int>::null(), 12);
  EXPECT_TRUE(torn.is_null());
  EXPECT_TRUE(torn.to_span(static_cast<void*>(region.base())).empty());
  EXPECT_EQ(torn.to_span(static_cast<void*>(region.base())).data(), nullptr);

  // A default span has no data pointer, so it must become a null slice, not offset 0.
  const auto from_empty = RelSlice<int>::from_span(region.base(), std::span<const int>());
  EXPECT_TRUE(from_empty.is_null());
  EXPECT_EQ(from_empty.size(), 0u);
}

TEST(RelSliceTest, EmptyButRealSliceKeepsItsStart) {
  Region region;
  void* base = region.base();
  const auto* at = reinterpret_cast<const std::uint64_t*>(region.base() + 40);
  const auto slice =
      RelSlice<std::uint64_t>::from_span(base, std::span<const std::uint64_t>(at, 0));
  EXPECT_FALSE(slice.is_null());
  EXPECT_EQ(slice.size(), 0u);
  EXPECT_EQ(slice.start().offset(), 40u);
  EXPECT_NE(slice, RelSlice<std::uint64_t>());

  const std::span<std::uint64_t> out = slice.to_span(base);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(out.data(), at);

  // An empty slice at the base itself is still distinct from null.
  const RelSlice<std::uint64_t> at_base(Rel<std::uint64_t>::from_offset(0), 0);
  EXPECT_FALSE(at_base.is_null());
  EXPECT_EQ(reinterpret_cast<std::byte*>(at_base.to_span(base).data()), region.base());
}

TEST(RelSliceTest, ConstBaseGivesConstSpan) {
  Region region;
  const RelSlice<int> slice(Rel<int>::from_offset(16), 3);
  const void* const_base = region.base();
  void* mutable_base = region.base();
  static_assert(std::is_same_v<decltype(slice.to_span(const_base)), std::span<const int>>);
  static_assert(std::is_same_v<decltype(slice.to_span(mutable_base)), std::span<int>>);
  EXPECT_EQ(reinterpret_cast<const std::byte*>(slice.to_span(const_base).data()),
            region.base() + 16);
  EXPECT_EQ(slice.to_span(const_base).size(), 3u);
  EXPECT_EQ(slice.to_span(mutable_base).size(), 3u);
}

TEST(RelSliceTest, ComparisonsCoverStartAndLength) {
  const RelSlice<int> a(Rel<int>::from_offset(16), 4);
  const RelSlice<int> a_again(Rel<int>::from_offset(16), 4);
  const RelSlice<int> longer(Rel<int>::from_offset(16), 5);
  const RelSlice<int> later(Rel<int>::from_offset(32), 1);
  EXPECT_EQ(a, a_again);
  EXPECT_NE(a, longer);
  EXPECT_LT(a, longer);               // same start: the length decides
  EXPECT_LT(longer, later);           // the start decides first
  EXPECT_LT(later, RelSlice<int>());  // a null start orders last, as for Rel
}

}  // namespace
