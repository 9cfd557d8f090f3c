// Named arrays (talc/named/array.hpp) and listings of names: an array keeps its type and shape
// in its header, found by every caller with the same ones and refused otherwise; a header
// damaged in the region is refused with its reason; a listing tells bytes, arrays and objects
// apart, read locked (named_objects) or from bytes nobody writes (read_entries, as `talc info`).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc::MapTalc;

struct Pair {
  int a = 1, b = 2;
};

class NamedArray : public ::testing::Test {
 protected:
  void TearDown() override { MapTalc<>::remove_shm(name_); }
  MapTalc<> Create() { return MapTalc<>::create_shm(name_, 4 << 20); }

  static talc::ArrayInfo Info(const char* type, std::uint64_t item,
                              std::vector<std::uint64_t> shape) {
    talc::ArrayInfo a;
    const char* why = nullptr;
    EXPECT_TRUE(talc::make_array_info(type, item, shape, a, why)) << why;
    return a;
  }

  std::string name_ = talc_test::UniqueShmName("narray");
};

TEST_F(NamedArray, IsMadeZeroedWithItsHeaderThenFoundByTypeAndShape) {
  auto heap = Create();
  const talc::ArrayInfo want = Info("<f8", 8, {3, 5});
  EXPECT_EQ(want.data_offset, 128u);  // 64 + 2 * 8, rounded up to 64
  EXPECT_EQ(want.data_bytes, 120u);
  const auto made = talc::find_or_make_array(heap, "grid", want);
  ASSERT_TRUE(made);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(made->data()) % talc::kArrayAlign, 0u);
  const auto* d = reinterpret_cast<const double*>(made->data());
  for (int i = 0; i < 15; ++i) EXPECT_EQ(d[i], 0.0);
  const auto* h = made->block.as<talc::ArrayHeader>();
  EXPECT_EQ(std::memcmp(h->magic, "talcarr1", 8), 0);
  EXPECT_EQ(h->version, talc::kArrayVersion);
  EXPECT_STREQ(h->type, "<f8");

  const auto found = talc::find_array(heap, "grid");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->block.offset, made->block.offset);
  EXPECT_TRUE(talc::same_array(found->info, want));
  EXPECT_EQ(talc::find_or_make_array(heap, "grid", Info("<f8", 8, {5, 3})).error(),
            Errc::size_mismatch);
  EXPECT_EQ(talc::find_or_make_array(heap, "grid", Info("<i8", 8, {3, 5})).error(),
            Errc::type_mismatch);
  // Another type whose data has another size: still the type, though the directory, which
  // compares the block's bytes first, says size_mismatch.
  EXPECT_EQ(talc::find_or_make_array(heap, "grid", Info("<i4", 4, {3, 5})).error(),
            Errc::type_mismatch);
  EXPECT_EQ(talc::find_or_make_array(heap, "grid", Info("<f8", 8, {4, 5})).error(),
            Errc::size_mismatch);
  // Not a block of bytes, and a block of bytes is not an array.
  EXPECT_EQ(heap.find_named("grid").error(), Errc::type_mismatch);
  ASSERT_TRUE(heap.find_or_allocate_named("raw", 64));
  EXPECT_EQ(talc::find_array(heap, "raw").error(), Errc::type_mismatch);
  EXPECT_EQ(heap.destroy_named("grid"), Errc::ok);  // freed with its name, as bytes are
  EXPECT_EQ(talc::find_array(heap, "grid").error(), Errc::not_found);
  EXPECT_TRUE(heap.check().ok());
}

TEST_F(NamedArray, ShapesNoArrayCanHaveAreRefusedWithTheirReason) {
  talc::ArrayInfo a;
  const char* why = nullptr;
  const std::vector<std::uint64_t> many(33, 1), huge{std::uint64_t{1} << 40, 1u << 30};
  EXPECT_FALSE(talc::make_array_info("<f8", 8, many, a, why));
  EXPECT_STREQ(why, "more than 32 dimensions");
  EXPECT_FALSE(talc::make_array_info("<f8", 8, huge, a, why));
  EXPECT_STREQ(why, "the array's size overflows 64 bits");
  EXPECT_FALSE(talc::make_array_info("", 8, {}, a, why));
  EXPECT_FALSE(talc::make_array_info("a b", 8, {}, a, why));
  EXPECT_FALSE(talc::make_array_info("<f8", 0, {}, a, why));
  ASSERT_TRUE(talc::make_array_info("<f8", 8, {}, a, why));  // a scalar: one element
  EXPECT_EQ(a.data_bytes, 8u);
}

TEST_F(NamedArray, ADamagedHeaderIsRefusedAndNothingIsComputedFromIt) {
  auto heap = Create();
  const auto made = talc::find_or_make_array(heap, "a", Info("<i4", 4, {4, 4}));
  ASSERT_TRUE(made);
  std::byte* block = made->block.as<std::byte>();
  std::byte good[128];
  std::memcpy(good, block, sizeof good);
  struct Damage {
    std::size_t at;
    std::uint64_t value;
    unsigned bytes;
    const char* why;
  };
  const Damage damages[] = {
      {0, 0x41414141, 4, "no array header (magic)"},
      {8, 7, 4, "an array header of another version"},
      {12, 1000, 4, "more than 32 dimensions"},
      {12, 20, 4, "the shape runs past the block"},  // 20 dimensions: past a 128-byte block
      {16, 0, 8, "an element of 0 bytes"},
      {24, 64, 8, "the data offset disagrees with ndim"},
      {32, 65, 8, "the data size disagrees with the shape"},
      {64, ~std::uint64_t{0}, 8, "the array's size overflows 64 bits"},
  };
  for (const Damage& d : damages) {
    std::memcpy(block + d.at, &d.value, d.bytes);
    const char* why = nullptr;
    EXPECT_EQ(talc::find_array(heap, "a", &why).error(), Errc::corrupted) << d.why;
    EXPECT_STREQ(why, d.why);
    std::memcpy(block, good, sizeof good);
  }
  std::memset(block + 40, 'x', talc::kArrayTypeBytes);  // no NUL in the type
  const char* why = nullptr;
  EXPECT_EQ(talc::find_array(heap, "a", &why).error(), Errc::corrupted);
  EXPECT_STREQ(why, "the type is not terminated");
  // Data that runs past the block: a shape that agrees with a data size too large for it.
  std::memcpy(block, good, sizeof good);
  const std::uint64_t rows = 1000, bytes = 1000 * 4 * 4;
  std::memcpy(block + 64, &rows, 8);
  std::memcpy(block + 32, &bytes, 8);
  EXPECT_EQ(talc::find_array(heap, "a", &why).error(), Errc::corrupted);
  EXPECT_STREQ(why, "the data runs past the block");
  std::memcpy(block, good, sizeof good);
  EXPECT_TRUE(talc::find_array(heap, "a"));
}

TEST_F(NamedArray, ListingsTellBytesArraysAndObjectsApart) {
  auto heap = Create();
  ASSERT_TRUE(heap.find_or_allocate_named("bytes", 100));
  ASSERT_TRUE(talc::find_or_make_array(heap, "array", Info("|u1", 1, {7})));
  ASSERT_TRUE(heap.find_or_construct<Pair>("object"));
  const std::vector<talc::NamedInfo> locked = heap.named_objects().value();
  ASSERT_EQ(locked.size(), 3u);
  EXPECT_EQ(locked[0].kind(), talc::NamedKind::bytes);
  EXPECT_EQ(locked[1].kind(), talc::NamedKind::array);
  EXPECT_EQ(locked[2].kind(), talc::NamedKind::object);
  EXPECT_STREQ(talc::kind_name(locked[1].kind()), "array");
  EXPECT_EQ(locked[1].size, 64u + 64u + 7u);  // header and shape, rounded to 64, then the data

  // The same list from the bytes alone, without the directory's lock (as `talc info` reads a
  // private copy of the region).
  const auto unlocked =
      talc::named_detail::read_entries(heap.base(), heap.size(), heap.header().directory());
  ASSERT_TRUE(unlocked);
  ASSERT_EQ(unlocked->size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*unlocked)[i].name, locked[i].name);
    EXPECT_EQ((*unlocked)[i].offset, locked[i].offset);
    EXPECT_EQ((*unlocked)[i].type, locked[i].type);
  }
  // A root that names no segment, or a segment's chain that loops, is refused, not followed.
  EXPECT_EQ(talc::named_detail::read_entries(heap.base(), heap.size(), heap.size()).error(),
            Errc::corrupted);
  auto* seg =
      reinterpret_cast<talc::named_detail::Segment*>(heap.base() + heap.header().directory());
  const std::uint64_t next = seg->next;
  seg->next = heap.header().directory();
  EXPECT_EQ(
      talc::named_detail::read_entries(heap.base(), heap.size(), heap.header().directory()).error(),
      Errc::corrupted);
  seg->next = next;
  seg->entry[0].name_len = 200;
  EXPECT_EQ(heap.named_objects().error(), Errc::corrupted);
  seg->entry[0].name_len = 5;
}

}  // namespace
