// The atomic calls keep their promise: allocate_into serves what allocate would (growing a
// region opened to grow, then asking the out-of-memory handler), and never overwrites a slot
// that already names a block, so every live block stays named by exactly one word.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "support/files.hpp"
#include "support/process.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc::MapTalc;
using Null = talc::Rel<std::byte>;

constexpr std::size_t kInitial = 1 << 20;
constexpr std::size_t kMax = 16 << 20;

talc::OpenOptions Growable(std::size_t max) {
  talc::OpenOptions o;
  o.max_size = max;
  return o;
}

// A block's bytes, never null (Meta::ptr() may be, which g++ then warns about).
std::byte* Bytes(const talc::Meta& m) {
  return m.base + m.offset;
}

// A block of `words` null slots.
talc::Meta Owner(talc::Talc<>& heap, std::size_t words) {
  const talc::Meta m = heap.allocate(words * talc::kWord);
  for (std::size_t i = 0; i < words; ++i) talc::store_word(Bytes(m), i * talc::kWord, Null::kNull);
  return m;
}

std::uint64_t Slot(const talc::Meta& owner, std::size_t word) {
  return talc::load_word(Bytes(owner), word * talc::kWord);
}

void ExpectSameStats(const talc::HeapStats& a, const talc::HeapStats& b) {
  EXPECT_EQ(a.span_bytes, b.span_bytes);
  EXPECT_EQ(a.live_allocations, b.live_allocations);
  EXPECT_EQ(a.live_bytes, b.live_bytes);
  EXPECT_EQ(a.free_bytes, b.free_bytes);
  EXPECT_EQ(a.free_chunks, b.free_chunks);
  EXPECT_EQ(a.allocations, b.allocations);
  EXPECT_EQ(a.deallocations, b.deallocations);
  EXPECT_EQ(a.failures, b.failures);
  EXPECT_EQ(a.growths, b.growths);
}

class AtomicApi : public ::testing::Test {
 protected:
  talc_test::ScratchRegion scratch_{"atomic"};
  const std::string name_ = scratch_.shm_name();
  const std::string path_ = scratch_.file();
};

TEST_F(AtomicApi, AllocateIntoGrowsAGrowableRegion) {
  auto heap = MapTalc<>::create_file(path_, kInitial, Growable(kMax));
  const talc::Meta owner = Owner(heap, 4);
  const talc::Result<talc::Meta> big = heap.try_allocate_into(owner, 1, 3 << 20);
  ASSERT_TRUE(big.ok()) << talc::describe(big.error());
  EXPECT_GT(heap.current_size(), kInitial);
  EXPECT_EQ(Slot(owner, 1), big->offset);
  std::memset(big->ptr(), 0x77, big->size);  // the new bytes are backed and writable
  const talc::HeapStats s = heap.stats();
  EXPECT_EQ(s.growths, 1u);
  EXPECT_EQ(s.failures, 0u) << "a request the growth served is no refusal";
  EXPECT_EQ(heap.deallocate_from(owner, 1), Errc::ok);
  EXPECT_EQ(Slot(owner, 1), Null::kNull);
  EXPECT_TRUE(heap.check().ok());
}

TEST_F(AtomicApi, AllocateIntoAtTheMaximumAsksTheOutOfMemoryHandler) {
  auto heap = MapTalc<>::create_shm(name_, kInitial, Growable(4 << 20));
  const talc::Meta owner = Owner(heap, 1);
  std::vector<std::size_t> asked;
  heap.on_out_of_memory([&](std::size_t n) {
    asked.push_back(n);
    return false;
  });
  EXPECT_EQ(heap.try_allocate_into(owner, 0, 8 << 20).error(), Errc::out_of_memory);
  EXPECT_EQ(asked, std::vector<std::size_t>{8u << 20});
  EXPECT_EQ(Slot(owner, 0), Null::kNull);
  EXPECT_TRUE(heap.check().ok());
}

struct Large {
  std::array<std::byte, (3 << 20)> bytes;
};

TEST_F(AtomicApi, FindOrConstructOfAnObjectLargerThanTheRegionGrowsIt) {
  auto heap = MapTalc<>::create_shm(name_, kInitial, Growable(kMax));
  const talc::Result<Large*> made = heap.find_or_construct<Large>("large");
  ASSERT_TRUE(made.ok()) << talc::describe(made.error());
  EXPECT_GT(heap.current_size(), kInitial);
  (*made)->bytes.back() = std::byte{0x42};
  auto other = MapTalc<>::open_shm(name_);
  const talc::Result<Large*> found = other.find<Large>("large");
  ASSERT_TRUE(found.ok()) << talc::describe(found.error());
  EXPECT_EQ((*found)->bytes.back(), std::byte{0x42});
  EXPECT_EQ(heap.destroy<Large>("large"), Errc::ok);
  EXPECT_TRUE(heap.check().ok());
}

// The refusal comes before any planning: no growth, no counted failure, the old block intact.
TEST_F(AtomicApi, AnOccupiedSlotIsRefusedAndNothingChanges) {
  auto heap = MapTalc<>::create_shm(name_, kInitial, Growable(kMax));
  const talc::Meta owner = Owner(heap, 2);
  const talc::Result<talc::Meta> held = heap.try_allocate_into(owner, 1, 300);
  ASSERT_TRUE(held.ok());
  std::memset(held->ptr(), 0x5A, 300);
  const talc::HeapStats before = heap.stats();
  const std::uint64_t size_before = heap.current_size();
  for (const std::size_t size : {std::size_t{100}, std::size_t{3} << 20}) {
    EXPECT_EQ(heap.try_allocate_into(owner, 1, size).error(), Errc::slot_occupied) << size;
    EXPECT_EQ(Slot(owner, 1), held->offset);
  }
  EXPECT_EQ(heap.current_size(), size_before);
  ExpectSameStats(heap.stats(), before);
  for (std::size_t i = 0; i < 300; ++i)
    ASSERT_EQ(static_cast<const unsigned char*>(held->ptr())[i], 0x5A) << "byte " << i;
  EXPECT_EQ(heap.usable_size(held->ptr()).error(), Errc::ok);
  EXPECT_TRUE(heap.check().ok());
  // Freed through its slot, the slot takes a new block.
  EXPECT_EQ(heap.deallocate_from(owner, 1), Errc::ok);
  EXPECT_TRUE(heap.try_allocate_into(owner, 1, 100).ok());
}

// In the core, on a plain buffer: a slot holding anything but the null offset (a block's
// offset, or a word never set) is refused, and not one byte of the buffer changes.
TEST(AtomicApiCore, AnOccupiedSlotIsRefusedWithoutWritingAByte) {
  std::vector<std::byte> buf(256 << 10);
  auto* heap = *talc::TalcMeta<>::claim(buf.data(), buf.size());
  void* owner = *heap->allocate(64);
  auto* words = static_cast<std::byte*>(owner);
  talc::store_word(words, 0, Null::kNull);
  const talc::Result<void*> held = heap->allocate_into(owner, 0, 500);
  ASSERT_TRUE(held.ok());
  talc::store_word(words, talc::kWord, 0);
  talc::store_word(words, 2 * talc::kWord, 0x0123456789abcdefULL);
  const std::vector<std::byte> before = buf;
  for (const std::size_t word : {0, 1, 2})
    EXPECT_EQ(heap->allocate_into(owner, word, 64).error(), Errc::slot_occupied) << word;
  EXPECT_EQ(heap->journal_size(), 0u);
  EXPECT_TRUE(buf == before) << "a refused allocate_into wrote to the heap";
  EXPECT_TRUE(heap->check().ok());
}

}  // namespace
