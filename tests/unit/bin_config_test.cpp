// BinConfig: bin_of's arithmetic against the lower-bound table built independently of it.
//
// Allocation relies on two facts: every chunk size lands in exactly one bin, and a bin's
// lower bound is the smallest size it holds. bin_of is only ever called with multiples of
// kGranule, so checking it at both ends of every bin, plus monotonicity, leaves no room for a
// gap or an overlap; the exhaustive and random sweeps then catch arithmetic slips the edges
// could miss, across configurations that exercise one to four linear stages and one to four
// sub-class bits.
#include "talc/core/bin_config.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <type_traits>

#include "talc/core/chunk.hpp"

namespace {

using talc::kGranule;
using talc::kMinChunk;

constexpr std::uint64_t kExhaustiveLimit = std::uint64_t{1} << 20;
constexpr unsigned kTopSizeLog2 = 47;
constexpr std::uint64_t kTopSize = std::uint64_t{1} << kTopSizeLog2;
constexpr std::uint64_t kRandomSamples = 100'000;
constexpr std::uint64_t kSeed = 0x7a1c'b1b5'0000'0001u;

template <class Config>
class BinConfigTest : public ::testing::Test {
 protected:
  // The bracket every size must sit in: at or above its bin's lower bound, below the next.
  static void ExpectBracketed(std::uint64_t size) {
    const std::uint64_t b = Config::bin_of(size);
    ASSERT_LT(b, Config::kBins) << "size " << size;
    EXPECT_LE(Config::lower_bound(b), size) << "size " << size << " bin " << b;
    if (b + 1 < Config::kBins) {
      EXPECT_LT(size, Config::lower_bound(b + 1)) << "size " << size << " bin " << b;
    }
    EXPECT_LT(size, Config::upper_bound(b)) << "size " << size << " bin " << b;
  }

  // first_bin_at_least must return the smallest bin whose lower bound reaches `size`.
  static void ExpectFirstBinAtLeast(std::uint64_t size) {
    const std::uint64_t b = Config::first_bin_at_least(size);
    ASSERT_LE(b, Config::kBins) << "size " << size;
    if (b < Config::kBins) {
      EXPECT_GE(Config::lower_bound(b), size) << "size " << size << " bin " << b;
    } else {
      EXPECT_GT(size, Config::lower_bound(Config::kBins - 1)) << "size " << size;
    }
    if (b > 0) {
      EXPECT_LT(Config::lower_bound(b - 1), size) << "size " << size << " bin " << b;
    }
  }
};

using Configs = ::testing::Types<talc::BinConfig<3, 256, 2>, talc::BinConfig<2, 128, 3>,
                                 talc::BinConfig<4, 512, 4>, talc::BinConfig<1, 64, 1>>;

class ConfigNames {
 public:
  template <class Config>
  static std::string GetName(int) {
    return "L" + std::to_string(Config::kLinearStages) + "_B" +
           std::to_string(Config::kBytesPerLinear) + "_D" + std::to_string(Config::kLogDivs);
  }
};

TYPED_TEST_SUITE(BinConfigTest, Configs, ConfigNames);

TYPED_TEST(BinConfigTest, TablesAreCompileTime) {
  using C = TypeParam;
  static_assert(C::bin_of(kMinChunk) == 0);
  static_assert(C::bin_of(C::kLinearEnd) == C::kLinearBins);
  static_assert(C::bin_of(C::kLinearEnd - kGranule) == C::kLinearBins - 1);
  // The top class, m = 47, holds the last kDivs bins.
  static_assert(C::bin_of(kTopSize) == C::kBins - C::kDivs);
  static_assert(C::lower_bound(C::kBins - C::kDivs) == kTopSize);
  static_assert(C::first_bin_at_least(kMinChunk) == 0);
  static_assert(C::lower_bound(0) == kMinChunk);
  constexpr std::uint64_t kLastBin = C::bin_of(std::numeric_limits<std::uint64_t>::max());
  static_assert(kLastBin == C::kBins - 1);
  EXPECT_EQ(kLastBin, C::kBins - 1);
}

TYPED_TEST(BinConfigTest, BitmapCoversEveryBin) {
  using C = TypeParam;
  EXPECT_GE(C::kBitmapWords * 64, C::kBins);
  EXPECT_LT((C::kBitmapWords - 1) * 64, C::kBins) << "one word more than needed";
}

TYPED_TEST(BinConfigTest, LowerBoundsStartAtMinChunkAndIncrease) {
  using C = TypeParam;
  ASSERT_GT(C::kBins, 1u);
  EXPECT_EQ(C::lower_bound(0), kMinChunk);
  for (std::uint64_t b = 0; b < C::kBins; ++b) {
    EXPECT_EQ(C::lower_bound(b) % kGranule, 0u) << "bin " << b;
    if (b > 0) {
      EXPECT_LT(C::lower_bound(b - 1), C::lower_bound(b)) << "bin " << b;
    }
  }
  // The first logarithmic bin starts where the linear stages end.
  EXPECT_EQ(C::lower_bound(C::kLinearBins), C::kLinearEnd);
}

TYPED_TEST(BinConfigTest, EveryBinHoldsItsOwnEdges) {
  using C = TypeParam;
  for (std::uint64_t b = 0; b < C::kBins; ++b) {
    SCOPED_TRACE(b);
    const std::uint64_t lo = C::lower_bound(b);
    EXPECT_EQ(C::bin_of(lo), b);
    if (b + 1 < C::kBins) {
      EXPECT_EQ(C::bin_of(C::lower_bound(b + 1) - kGranule), b) << "top size of the bin";
    }
    if (b > 0) {
      EXPECT_EQ(C::bin_of(lo - kGranule), b - 1) << "size just below the bin";
    }
  }
}

TYPED_TEST(BinConfigTest, ExhaustiveSmallSizes) {
  using C = TypeParam;
  std::uint64_t prev = C::bin_of(kMinChunk);
  EXPECT_EQ(prev, 0u);
  std::uint64_t failures = 0;
  std::uint64_t bins_entered = 0;
  // Counting instead of asserting per size keeps a broken config from flooding the output.
  for (std::uint64_t s = kMinChunk; s <= kExhaustiveLimit && failures < 10; s += kGranule) {
    const std::uint64_t b = C::bin_of(s);
    const bool ok = b >= prev && b - prev <= 1 && b < C::kBins && C::lower_bound(b) <= s &&
                    (b + 1 >= C::kBins || s < C::lower_bound(b + 1));
    if (!ok) {
      ++failures;
      ADD_FAILURE() << "size " << s << ": bin " << b << " after bin " << prev;
    }
    if (b != prev) ++bins_entered;
    prev = b;
  }
  EXPECT_EQ(failures, 0u);
  // One step per bin: no bin below the limit is skipped, so none is unreachable.
  EXPECT_EQ(bins_entered, C::bin_of(kExhaustiveLimit));
}

TYPED_TEST(BinConfigTest, PowersOfTwoAndNeighbours) {
  for (unsigned e = 5; e <= kTopSizeLog2; ++e) {
    const std::uint64_t p = std::uint64_t{1} << e;
    for (const std::uint64_t s : {p - kGranule, p, p + kGranule}) {
      if (s < kMinChunk) continue;
      this->ExpectBracketed(s);
      this->ExpectFirstBinAtLeast(s);
    }
  }
}

TYPED_TEST(BinConfigTest, RandomSizesBelowMaxSpan) {
  using C = TypeParam;
  // Drawn from the raw engine so the sequence is the same under every standard library: a
  // uniform exponent in [5, 47], then a uniform mantissa within that power of two. That is
  // log-uniform over [32, 2^48), which covers 2^47 and the whole top class above it.
  std::mt19937_64 rng(kSeed);
  constexpr unsigned kMinLog2 = 5;
  for (std::uint64_t i = 0; i < kRandomSamples; ++i) {
    const unsigned e = kMinLog2 + static_cast<unsigned>(rng() % (kTopSizeLog2 - kMinLog2 + 1));
    const std::uint64_t p = std::uint64_t{1} << e;
    const std::uint64_t s = (p | (rng() & (p - 1))) & ~(kGranule - 1);
    ASSERT_GE(s, kMinChunk);
    ASSERT_LT(s, talc::kMaxSpan);
    const std::uint64_t b = C::bin_of(s);
    ASSERT_LT(b, C::kBins) << "size " << s;
    ASSERT_LE(C::lower_bound(b), s) << "size " << s << " bin " << b;
    if (b + 1 < C::kBins) {
      ASSERT_LT(s, C::lower_bound(b + 1)) << "size " << s << " bin " << b;
    }
  }
}

TYPED_TEST(BinConfigTest, TopClassReachesMaxSpanAndLargerClampToLastBin) {
  using C = TypeParam;
  // The top class starts at 2^47 and its sub-classes run up to kMaxSpan, so the last lower
  // bound lies in [2^47, kMaxSpan) and no real chunk size is ever clamped.
  EXPECT_EQ(C::lower_bound(C::kBins - C::kDivs), kTopSize);
  EXPECT_GE(C::lower_bound(C::kBins - 1), kTopSize);
  EXPECT_LT(C::lower_bound(C::kBins - 1), talc::kMaxSpan);
  EXPECT_EQ(C::lower_bound(C::kBins - 1),
            talc::kMaxSpan - (std::uint64_t{1} << (kTopSizeLog2 - C::kLogDivs)));
  this->ExpectBracketed(kTopSize);
  // The largest chunk there can be, just under kMaxSpan, is in the last bin on its merits.
  this->ExpectBracketed(talc::kMaxSpan - kGranule);
  EXPECT_EQ(C::bin_of(talc::kMaxSpan - kGranule), C::kBins - 1);
  for (const std::uint64_t s :
       {talc::kMaxSpan, talc::kMaxSpan + kGranule, talc::kMaxSpan * 2 - kGranule,
        std::uint64_t{1} << 56, std::uint64_t{1} << 63,
        std::numeric_limits<std::uint64_t>::max() & ~(kGranule - 1),
        std::numeric_limits<std::uint64_t>::max()}) {
    EXPECT_EQ(C::bin_of(s), C::kBins - 1) << "size " << s;
  }
}

TYPED_TEST(BinConfigTest, FirstBinAtLeastAroundEveryLowerBound) {
  using C = TypeParam;
  for (std::uint64_t b = 0; b < C::kBins; ++b) {
    const std::uint64_t lo = C::lower_bound(b);
    EXPECT_EQ(C::first_bin_at_least(lo), b) << "an exact lower bound is its own bin";
    EXPECT_EQ(C::first_bin_at_least(lo + kGranule), b + 1) << "bin " << b;
    if (b > 0) {
      // Unless the bin below holds a single size, lo - kGranule is above its lower bound.
      const std::uint64_t expected = lo - kGranule > C::lower_bound(b - 1) ? b : b - 1;
      EXPECT_EQ(C::first_bin_at_least(lo - kGranule), expected) << "bin " << b;
    }
    // Requests need not be granule multiples for the answer to hold.
    this->ExpectFirstBinAtLeast(lo - 1);
    this->ExpectFirstBinAtLeast(lo + 1);
  }
  for (std::uint64_t s = 0; s <= kMinChunk; ++s) EXPECT_EQ(C::first_bin_at_least(s), 0u) << s;
}

TYPED_TEST(BinConfigTest, FirstBinAtLeastSweep) {
  using C = TypeParam;
  std::uint64_t failures = 0;
  std::uint64_t prev = 0;
  for (std::uint64_t s = kMinChunk; s <= kExhaustiveLimit && failures < 10; s += kGranule) {
    const std::uint64_t b = C::first_bin_at_least(s);
    const bool ok = b >= prev && b < C::kBins && C::lower_bound(b) >= s &&
                    (b == 0 || C::lower_bound(b - 1) < s);
    if (!ok) {
      ++failures;
      this->ExpectFirstBinAtLeast(s);
    }
    prev = b;
  }
  EXPECT_EQ(failures, 0u);
  // The limit is a power of two past every linear stage, so it starts a bin of its own.
  EXPECT_EQ(prev, C::bin_of(kExhaustiveLimit));
}

TYPED_TEST(BinConfigTest, FirstBinAtLeastIsPastTheEndOnlyBeyondLastLowerBound) {
  using C = TypeParam;
  const std::uint64_t last = C::lower_bound(C::kBins - 1);
  EXPECT_EQ(C::first_bin_at_least(last), C::kBins - 1);
  EXPECT_EQ(C::first_bin_at_least(last - kGranule), C::kBins - 1);
  EXPECT_EQ(C::first_bin_at_least(last + 1), C::kBins);
  EXPECT_EQ(C::first_bin_at_least(last + kGranule), C::kBins);
  EXPECT_LT(C::first_bin_at_least(kTopSize + kGranule), C::kBins);
  this->ExpectFirstBinAtLeast(kTopSize + kGranule);
  EXPECT_EQ(C::first_bin_at_least(talc::kMaxSpan - kGranule), C::kBins);
  EXPECT_EQ(C::first_bin_at_least(talc::kMaxSpan), C::kBins);
  EXPECT_EQ(C::first_bin_at_least(std::numeric_limits<std::uint64_t>::max()), C::kBins);
}

TEST(DefaultBinConfigTest, MatchesDocumentedLayout) {
  using C = talc::DefaultBinConfig;
  static_assert(std::is_same_v<C, talc::BinConfig<3, 256, 2>>);
  EXPECT_EQ(C::kBins, 195u);
  EXPECT_EQ(C::kLinearBins, 46u);
  EXPECT_EQ(C::kLinearEnd, 1792u);
  EXPECT_EQ(C::kBitmapWords, 4u);
  // The three linear steps of 16, 32 and 64 bytes, then four bins per power of two.
  EXPECT_EQ(C::lower_bound(1), 48u);
  EXPECT_EQ(C::lower_bound(13), 240u);
  EXPECT_EQ(C::lower_bound(14), 256u);
  EXPECT_EQ(C::lower_bound(15), 288u);
  EXPECT_EQ(C::lower_bound(29), 736u);
  EXPECT_EQ(C::lower_bound(30), 768u);
  EXPECT_EQ(C::lower_bound(31), 832u);
  EXPECT_EQ(C::lower_bound(45), 1728u);
  EXPECT_EQ(C::bin_of(1791 & ~(kGranule - 1)), 45u);
  EXPECT_EQ(C::lower_bound(46), 1792u);
  EXPECT_EQ(C::lower_bound(47), 2048u);
  EXPECT_EQ(C::lower_bound(48), 2560u);
  EXPECT_EQ(C::lower_bound(194), std::uint64_t{7} << 45);
}

}  // namespace
