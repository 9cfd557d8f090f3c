// Property test of the core heap against a model of its live blocks.
//
// A seeded random workload allocates and frees blocks of mixed sizes and alignments, fills
// each block with a pattern derived from its id, and interleaves requests that must be
// refused. The model (every block handed out and not yet returned) is the oracle: each new
// block must be aligned, inside the heap and disjoint from every live block; each block must
// still hold its pattern when it is returned; the heap's own accounting must agree with the
// model's. A failure names the seed and the operation's index, which replay it exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "support/meta_bytes.hpp"
#include "support/pattern.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;

constexpr std::size_t kHeapBytes = std::size_t{4} << 20;
constexpr int kSeeds = 24;
constexpr int kOpsPerSeed = 50'000;
constexpr int kCheckEvery = 1000;

struct Block {
  std::size_t size;
  std::size_t align;
  std::size_t usable;
  std::uint64_t id;
  std::size_t slot;  // index in ModelRun::keys_, for picking a random block in constant time
};

std::string Describe(const talc::CheckReport& rep) {
  return std::string(rep.what) + " at offset " + std::to_string(rep.offset) + " (detail " +
         std::to_string(rep.detail) + ", " + talc::describe(rep.code) + ")";
}

bool SameCensus(const talc::Census& a, const talc::Census& b) {
  return a.live_chunks == b.live_chunks && a.live_bytes == b.live_bytes &&
         a.free_chunks == b.free_chunks && a.free_bytes == b.free_bytes &&
         a.largest_free == b.largest_free;
}

template <class Bins>
class ModelRun {
 public:
  using Heap = talc::TalcMeta<Bins>;

  ModelRun(std::uint64_t seed, talc::ClaimOptions opts) : seed_(seed), opts_(opts), rng_(seed) {}

  // Call through ASSERT_NO_FATAL_FAILURE: every check below stops the run at its first failure.
  void Run(int ops) {
    Claim();
    if (Failed()) return;
    for (op_ = 0; op_ < ops; ++op_) {
      Step();
      if (Failed()) return;
      if ((op_ + 1) % kCheckEvery == 0) {
        CheckAgainstModel();
        if (Failed()) return;
      }
    }
    CheckAgainstModel();
    if (Failed()) return;
    FreeEverything();
    if (Failed()) return;
    ExpectFirstState();
  }

  int allocations() const { return allocations_; }
  int resizes() const { return resizes_; }
  int grown_in_place() const { return grown_in_place_; }
  int out_of_memory() const { return out_of_memory_; }
  int refusals() const { return refusals_; }

 private:
  static bool Failed() { return ::testing::Test::HasFatalFailure(); }

  std::string Where() const {
    return "seed " + std::to_string(seed_) + ", op " + std::to_string(op_) + ": ";
  }

  void Claim() {
    buf_.assign(kHeapBytes + 64, std::byte{0});
    // Each seed starts the buffer at a different misalignment: claim must cope with any base.
    auto r = Heap::claim(buf_.data() + seed_ % 64, kHeapBytes, opts_);
    ASSERT_TRUE(r.ok()) << Where() << talc::describe(r.error());
    heap_ = *r;
    ASSERT_EQ(heap_->checked(), opts_.checked);
    base_ = reinterpret_cast<std::uintptr_t>(heap_);
    lo_ = base_ + heap_->heap_start() + talc::kTagSize;
    hi_ = base_ + heap_->heap_end();
    first_meta_ = MetaBytes();
    first_census_ = heap_->census();
    ASSERT_EQ(first_census_.free_chunks, 1u);
    ASSERT_EQ(first_census_.free_bytes, heap_->capacity());
  }

  std::vector<std::byte> MetaBytes() const { return talc_test::MetaBytes(*heap_); }

  std::uint64_t Below(std::uint64_t n) { return rng_() % n; }

  // Mostly small, some medium, a few large; now and then zero, which is a real block too.
  std::size_t RandomSize() {
    const std::uint64_t r = Below(100);
    if (r < 4) return 0;
    if (r < 74) return 1 + Below(512);
    if (r < 97) return 513 + Below(8192 - 512);
    return 8193 + Below((256 << 10) - 8192);
  }

  // Powers of two from 1 to 64 KiB, mostly at or below the granule.
  std::size_t RandomAlign() {
    const std::uint64_t r = Below(100);
    if (r < 85) return std::size_t{1} << Below(5);
    if (r < 97) return std::size_t{1} << (5 + Below(8));
    return std::size_t{1} << (13 + Below(4));
  }

  void Step() {
    // Alternate growing and shrinking phases, so that the heap both fills up (and runs out)
    // and drains far enough that large free chunks must form again by merging.
    const bool growing = (op_ / 5000) % 2 == 0;
    const std::uint64_t r = Below(1000);
    if (r < 20) {
      Refuse();
    } else if (r < 35 && !keys_.empty()) {
      CheckUsableSize(RandomKey());
    } else if (r < 95 && !keys_.empty()) {
      Resize(RandomKey());
    } else if (keys_.empty() || r < (growing ? 700u : 500u)) {
      Allocate(RandomSize(), RandomAlign());
    } else {
      Free(RandomKey());
    }
  }

  std::uintptr_t RandomKey() { return keys_[Below(keys_.size())]; }

  void Allocate(std::size_t size, std::size_t align) {
    const talc::Result<void*> r = heap_->allocate(size, align);
    if (!r) {
      ASSERT_EQ(r.error(), Errc::out_of_memory)
          << Where() << "allocate(" << size << ", " << align << ")";
      // Any free chunk at least twice the worst case (block, tag and alignment gap) lies in a
      // bin above the request's own, and every chunk there fits: running out then is a bug.
      const talc::Census c = heap_->census();
      ASSERT_LT(c.largest_free, 2 * (size + align + 64))
          << Where() << "out_of_memory for allocate(" << size << ", " << align
          << ") with a free chunk of " << c.largest_free << " bytes";
      ++out_of_memory_;
      for (std::uint64_t n = 1 + Below(16); n > 0 && !keys_.empty(); --n) {
        Free(RandomKey());
        if (Failed()) return;
      }
      return;
    }
    ++allocations_;
    Record(*r, size, align);
  }

  // A new (or moved) block enters the model: aligned, inside the heap, disjoint from every
  // other live block, and filled with a pattern of its own.
  void Record(void* p, std::size_t size, std::size_t align) {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    ASSERT_EQ(a % std::max<std::size_t>(align, talc::kGranule), 0u)
        << Where() << "allocate(" << size << ", " << align << ") gave offset "
        << heap_->offset_of(p);
    const talc::Result<std::size_t> usable = heap_->usable_size(p);
    ASSERT_TRUE(usable.ok()) << Where() << talc::describe(usable.error());
    ASSERT_GE(*usable, size) << Where();
    ASSERT_GE(a, lo_) << Where() << "block below the first chunk";
    ASSERT_LE(a + *usable, hi_) << Where() << "block past the sentinel";
    // Whole chunks, tags included, must be disjoint: the neighbours in address order suffice.
    const auto next = live_.lower_bound(a);
    if (next != live_.end()) {
      ASSERT_LE(a + *usable, next->first - talc::kTagSize)
          << Where() << "new block at offset " << heap_->offset_of(p) << " overlaps block "
          << next->second.id << " at offset " << (next->first - base_);
    }
    if (next != live_.begin()) {
      const auto prev = std::prev(next);
      ASSERT_LE(prev->first + prev->second.usable, a - talc::kTagSize)
          << Where() << "new block at offset " << heap_->offset_of(p) << " overlaps block "
          << prev->second.id << " at offset " << (prev->first - base_);
    }
    const std::uint64_t id = next_id_++;
    // The whole usable extent, not just the request: usable_size promises all of it.
    talc_test::FillPattern(p, *usable, id);
    live_.emplace(a, Block{size, align, *usable, id, keys_.size()});
    keys_.push_back(a);
    live_bytes_ += *usable + talc::kTagSize;
  }

  void VerifyPattern(std::uintptr_t key, const Block& b) const {
    const std::size_t bad =
        talc_test::FirstMismatch(reinterpret_cast<const void*>(key), b.usable, b.id);
    ASSERT_EQ(bad, b.usable) << Where() << "block " << b.id << " (size " << b.size << ", align "
                             << b.align << ") at offset " << (key - base_)
                             << " was overwritten at byte " << bad;
  }

  void Free(std::uintptr_t key) {
    const auto it = live_.find(key);
    ASSERT_TRUE(it != live_.end()) << Where();
    VerifyPattern(key, it->second);
    if (Failed()) return;
    void* p = reinterpret_cast<void*>(key);
    ASSERT_EQ(heap_->deallocate(p), Errc::ok)
        << Where() << "freeing block " << it->second.id << " at offset " << (key - base_);
    Forget(key);
  }

  // Resizes a block by one of the three calls, and proves what each promises: reallocate keeps
  // the first min(old, new) bytes wherever the block lands; try_grow and try_shrink never move
  // it, and give at least the size asked for or at most a chunk more than it; a refusal leaves
  // the block as it was.
  void Resize(std::uintptr_t key) {
    const Block b = live_.at(key);
    VerifyPattern(key, b);
    if (Failed()) return;
    void* p = reinterpret_cast<void*>(key);
    const std::size_t size = RandomSize();
    std::size_t align = b.align;
    void* q = p;
    switch (Below(3)) {
      case 0: {
        if (Below(4) == 0) align = RandomAlign();
        const talc::Result<void*> r = heap_->reallocate(p, size, align);
        if (!r) {
          ASSERT_EQ(r.error(), Errc::out_of_memory) << Where() << "reallocate(" << size << ")";
          ++out_of_memory_;
          VerifyPattern(key, b);
          return;
        }
        q = *r;
        const std::size_t kept = std::min(b.usable, size);
        ASSERT_EQ(talc_test::FirstMismatch(q, kept, b.id), kept)
            << Where() << "reallocate(" << size << ", " << align << ") lost block " << b.id
            << "'s bytes" << (q == p ? " in place" : " moving it");
        ++resizes_;
        break;
      }
      case 1: {
        const Errc e = heap_->try_grow(p, size);
        if (e == Errc::out_of_memory) {
          ASSERT_GT(size, b.usable) << Where();
          VerifyPattern(key, b);
          return;
        }
        ASSERT_EQ(e, Errc::ok) << Where() << "try_grow(" << size << ")";
        ASSERT_GE(*heap_->usable_size(p), size) << Where();
        ASSERT_EQ(talc_test::FirstMismatch(p, b.usable, b.id), b.usable) << Where();
        if (size > b.usable) ++grown_in_place_;
        break;
      }
      default: {
        ASSERT_EQ(heap_->try_shrink(p, size), Errc::ok) << Where() << "try_shrink(" << size << ")";
        const std::size_t now = *heap_->usable_size(p);
        ASSERT_LT(now, std::max(size, std::size_t{24}) + talc::kMinChunk + talc::kGranule)
            << Where() << "try_shrink(" << size << ") kept " << now << " of " << b.usable;
        ASSERT_LE(now, b.usable) << Where();
        const std::size_t kept = std::min(now, b.usable);
        ASSERT_EQ(talc_test::FirstMismatch(p, kept, b.id), kept) << Where();
        break;
      }
    }
    Forget(key);
    Record(q, std::min(size, *heap_->usable_size(q)), align);  // a no-op resize keeps its size
  }

  // Removes a block from the model, and only from the model.
  void Forget(std::uintptr_t key) {
    const auto it = live_.find(key);
    live_bytes_ -= it->second.usable + talc::kTagSize;
    const std::size_t slot = it->second.slot;
    keys_[slot] = keys_.back();
    live_.at(keys_[slot]).slot = slot;
    keys_.pop_back();
    live_.erase(it);
  }

  void CheckUsableSize(std::uintptr_t key) {
    const Block& b = live_.at(key);
    const talc::Result<std::size_t> u = heap_->usable_size(reinterpret_cast<void*>(key));
    ASSERT_TRUE(u.ok()) << Where() << talc::describe(u.error());
    ASSERT_EQ(*u, b.usable) << Where() << "block " << b.id << " changed its usable size";
  }

  // Both entry points that take a block pointer must give the same refusal.
  void ExpectRefused(void* p, Errc want, const char* what) {
    const Errc by_size = heap_->usable_size(p).error();
    ASSERT_EQ(by_size, want) << Where() << "usable_size of " << what << ": "
                             << talc::describe(by_size);
    const Errc by_free = heap_->deallocate(p);
    ASSERT_EQ(by_free, want) << Where() << "deallocate of " << what << ": "
                             << talc::describe(by_free);
  }

  // Runs `refused` and proves it changed nothing: the census, the metadata and check() every
  // time, and now and then every byte of the heap (a few MiB, too slow for every refusal).
  template <class F>
  void ExpectNoChange(F refused) {
    const talc::Census census = heap_->census();
    const std::vector<std::byte> meta = MetaBytes();
    const bool whole = Below(64) == 0;
    if (whole) span_copy_ = talc_test::HeapBytes(*heap_, heap_->span());
    refused();
    if (Failed()) return;
    ASSERT_TRUE(SameCensus(heap_->census(), census)) << Where() << "a refusal changed the census";
    ASSERT_TRUE(MetaBytes() == meta) << Where() << "a refusal changed the bins or the bitmap";
    if (whole) {
      ASSERT_TRUE(talc_test::HeapBytes(*heap_, heap_->span()) == span_copy_)
          << Where() << "a refusal wrote to the heap";
    }
    const talc::CheckReport rep = heap_->check();
    ASSERT_TRUE(rep.ok()) << Where() << "check() after a refusal: " << Describe(rep);
  }

  // One request that must be refused, with its exact reason.
  void Refuse() {
    ++refusals_;
    switch (Below(heap_->checked() ? 8 : 7)) {
      case 0: {  // into the middle of a block, at a granule boundary: the "tag" there is data
        if (keys_.empty()) return;
        const std::uintptr_t key = RandomKey();
        const Block& b = live_.at(key);
        if (b.size < 64) return;
        auto* inner = reinterpret_cast<void*>(key + 16 * (1 + Below((b.size - 1) / 16)));
        ExpectNoChange([&] { ExpectRefused(inner, Errc::foreign_pointer, "an inner pointer"); });
        if (Failed()) return;
        VerifyPattern(key, b);
        return;
      }
      case 1: {  // into the first granule of a block, off the granule
        if (keys_.empty()) return;
        const std::uintptr_t key = RandomKey();
        auto* inner = reinterpret_cast<void*>(key + 1 + Below(15));
        ExpectNoChange(
            [&] { ExpectRefused(inner, Errc::foreign_pointer, "a misaligned inner pointer"); });
        if (Failed()) return;
        VerifyPattern(key, live_.at(key));
        return;
      }
      case 2: {  // a double free of the pointer that was just returned
        if (keys_.empty()) return;
        const std::uintptr_t key = RandomKey();
        Free(key);
        if (Failed()) return;
        auto* p = reinterpret_cast<void*>(key);
        ExpectNoChange([&] { ExpectRefused(p, Errc::not_allocated, "a just-freed block"); });
        return;
      }
      case 3: {  // outside the heap: its own metadata, the sentinel, past it, another object
        int elsewhere = 0;
        void* const outside[] = {heap_->address_of(0), heap_->address_of(heap_->heap_start()),
                                 heap_->address_of(heap_->heap_end()),
                                 heap_->address_of(heap_->heap_end() + 8), &elsewhere};
        void* p = outside[Below(std::size(outside))];
        ExpectNoChange(
            [&] { ExpectRefused(p, Errc::foreign_pointer, "a pointer outside the heap"); });
        return;
      }
      case 4:
        ExpectNoChange([&] { ExpectRefused(nullptr, Errc::null_pointer, "nullptr"); });
        return;
      case 5: {  // alignments that are not powers of two, or too large
        const std::size_t size = RandomSize();
        ExpectNoChange([&] {
          ASSERT_EQ(heap_->allocate(size, 3).error(), Errc::bad_alignment) << Where();
          ASSERT_EQ(heap_->allocate(size, 0).error(), Errc::bad_alignment) << Where();
          ASSERT_EQ(heap_->allocate(size, 48).error(), Errc::bad_alignment) << Where();
          ASSERT_EQ(heap_->allocate(size, std::size_t{1} << 31).error(), Errc::alignment_too_large)
              << Where();
        });
        return;
      }
      case 6:  // sizes no heap can hold; the largest legal request merely runs out
        ExpectNoChange([&] {
          ASSERT_EQ(heap_->allocate(~std::size_t{0}, 16).error(), Errc::size_overflow) << Where();
          ASSERT_EQ(heap_->allocate(Heap::kMaxRequest + 1, 1).error(), Errc::size_overflow)
              << Where();
          ASSERT_EQ(heap_->allocate(Heap::kMaxRequest, 1).error(), Errc::out_of_memory) << Where();
        });
        return;
      case 7: {  // checked mode only: a forged but self-consistent tag inside a block
        if (keys_.empty()) return;
        const std::uintptr_t key = RandomKey();
        const Block& b = live_.at(key);
        if (b.usable < 64) return;
        // A forged 32-byte allocated chunk inside the block, with a tag above it that agrees:
        // every constant-time check passes, and only the walk can tell it is not a chunk.
        auto* user = reinterpret_cast<std::byte*>(key);
        const std::uint64_t forged = talc::Tag::make(32, true, false).bits;
        std::memcpy(user + 24, &forged, 8);
        std::memcpy(user + 56, &forged, 8);
        ExpectNoChange([&] { ExpectRefused(user + 32, Errc::foreign_pointer, "a forged tag"); });
        talc_test::FillPattern(user, b.usable, b.id);
        return;
      }
    }
  }

  void CheckAgainstModel() {
    const talc::CheckReport rep = heap_->check();
    ASSERT_TRUE(rep.ok()) << Where() << "check(): " << Describe(rep);
    const talc::Census c = heap_->census();
    ASSERT_EQ(c.live_bytes + c.free_bytes, heap_->capacity()) << Where();
    ASSERT_EQ(c.live_chunks, live_.size()) << Where();
    ASSERT_EQ(c.live_bytes, live_bytes_) << Where();
  }

  void FreeEverything() {
    std::vector<std::uintptr_t> order = keys_;
    std::shuffle(order.begin(), order.end(), rng_);
    for (const std::uintptr_t key : order) {
      Free(key);
      if (Failed()) return;
    }
  }

  void ExpectFirstState() {
    const talc::CheckReport rep = heap_->check();
    ASSERT_TRUE(rep.ok()) << Where() << "check() after freeing everything: " << Describe(rep);
    const talc::Census c = heap_->census();
    EXPECT_EQ(c.live_chunks, 0u) << Where();
    EXPECT_EQ(c.live_bytes, 0u) << Where();
    EXPECT_EQ(c.free_chunks, 1u) << Where();
    EXPECT_EQ(c.free_bytes, heap_->capacity()) << Where();
    EXPECT_TRUE(SameCensus(c, first_census_)) << Where();
    // Not merely equivalent: the same bin heads and the same bitmap, byte for byte.
    EXPECT_TRUE(MetaBytes() == first_meta_)
        << Where() << "the metadata differs from the freshly claimed heap's";
  }

  const std::uint64_t seed_;
  const talc::ClaimOptions opts_;
  std::mt19937_64 rng_;
  int op_ = 0;

  std::vector<std::byte> buf_;
  Heap* heap_ = nullptr;
  std::uintptr_t base_ = 0, lo_ = 0, hi_ = 0;
  std::vector<std::byte> first_meta_;
  std::vector<std::byte> span_copy_;  // reused: a fresh few MiB each time costs page faults
  talc::Census first_census_;

  std::map<std::uintptr_t, Block> live_;
  std::vector<std::uintptr_t> keys_;
  std::uint64_t live_bytes_ = 0;  // chunk bytes, tags included: what census() counts
  std::uint64_t next_id_ = 0;

  int allocations_ = 0, out_of_memory_ = 0, refusals_ = 0, resizes_ = 0, grown_in_place_ = 0;
};

// The run must have reached the paths it exists to reach, or it proves little.
template <class Bins>
void RunAndExpectCoverage(std::uint64_t seed, talc::ClaimOptions opts) {
  ModelRun<Bins> run(seed, opts);
  ASSERT_NO_FATAL_FAILURE(run.Run(kOpsPerSeed));
  EXPECT_GT(run.allocations(), kOpsPerSeed / 3);
  EXPECT_GT(run.out_of_memory(), 0) << "the heap never filled up";
  EXPECT_GT(run.refusals(), kOpsPerSeed / 100);
  EXPECT_GT(run.resizes(), kOpsPerSeed / 100);
  EXPECT_GT(run.grown_in_place(), 0) << "no try_grow ever grew a block";
  ::testing::Test::RecordProperty("out_of_memory", run.out_of_memory());
}

class HeapModel : public ::testing::TestWithParam<int> {};

TEST_P(HeapModel, AgreesWithTheModelOfLiveBlocks) {
  RunAndExpectCoverage<talc::DefaultBinConfig>(static_cast<std::uint64_t>(GetParam()), {});
}

INSTANTIATE_TEST_SUITE_P(Seeds, HeapModel, ::testing::Range(0, kSeeds));

TEST(HeapModelVariants, CheckedModeAgreesWithTheModel) {
  RunAndExpectCoverage<talc::DefaultBinConfig>(1001, talc::ClaimOptions{.checked = true});
}

// The core is generic over its size classes: narrower linear stages, finer logarithmic ones.
TEST(HeapModelVariants, SecondBinConfigAgreesWithTheModel) {
  RunAndExpectCoverage<talc::BinConfig<2, 128, 3>>(1002, {});
}

TEST(HeapModelVariants, SecondBinConfigInCheckedModeAgreesWithTheModel) {
  RunAndExpectCoverage<talc::BinConfig<2, 128, 3>>(1003, talc::ClaimOptions{.checked = true});
}

}  // namespace
