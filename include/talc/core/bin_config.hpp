// Layer 3 — binning: which free list a chunk of a given size belongs to.
//
// Free chunks are kept in size classes ("bins") so that allocation finds a fitting chunk in
// constant time: a bitmap says which bins are non-empty, and the first non-empty bin above
// the request's own bin holds only chunks that fit. Small sizes get fine, linear classes
// (where most requests fall and waste matters most); large ones get pseudo-logarithmic
// classes (each power of two split into 2^LogDivs equal parts), so the bin count stays small
// up to 2^48-byte chunks.
//
// BinConfig<LinearStages, BytesPerLinear, LogDivs>:
//   linear stage s (0 <= s < LinearStages) covers the sizes
//       [BytesPerLinear * (2^s - 1), BytesPerLinear * (2^(s+1) - 1))
//   in steps of kGranule * 2^s, so each stage has BytesPerLinear / kGranule bins. Classes
//   below kMinChunk never hold a chunk and are left out: bin 0 starts at kMinChunk.
//   From kLinearEnd = BytesPerLinear * (2^LinearStages - 1) on, a size with highest bit m is
//   in sub-class (size >> (m - LogDivs)) mod 2^LogDivs of class m. The last class is m = 47.
//
// The seed's default <3, 256, 2>: 46 linear bins (32..1791 bytes, steps 16, 32, 64), then
// 4 bins per power of two: 195 bins, a 4-word bitmap. Every table is built at compile time;
// the static_asserts below reject configurations whose classes would overlap or leave gaps.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "talc/core/chunk.hpp"

namespace talc {

template <std::size_t LinearStages, std::size_t BytesPerLinear, std::size_t LogDivs>
struct BinConfig {
  static constexpr std::uint64_t kLinearStages = LinearStages;
  static constexpr std::uint64_t kBytesPerLinear = BytesPerLinear;
  static constexpr std::uint64_t kLogDivs = LogDivs;

  static_assert(LinearStages >= 1 && LinearStages <= 16, "between 1 and 16 linear stages");
  static_assert(std::has_single_bit(BytesPerLinear) && BytesPerLinear > kMinChunk,
                "BytesPerLinear must be a power of two above the minimum chunk (32)");
  static_assert(LogDivs <= 8, "at most 2^8 sub-classes per power of two");

  static constexpr std::uint64_t kLinearEnd =
      BytesPerLinear * ((std::uint64_t{1} << LinearStages) - 1);
  static_assert(kLinearEnd < (std::uint64_t{1} << 40), "linear stages that large make no sense");

  static constexpr unsigned kGranuleLog2 = std::countr_zero(kGranule);
  static constexpr std::uint64_t kBinsPerStage = BytesPerLinear / kGranule;
  static constexpr std::uint64_t kSkipped = kMinChunk / kGranule;  // classes under kMinChunk
  static constexpr std::uint64_t kLinearBins = LinearStages * kBinsPerStage - kSkipped;

  static constexpr unsigned kFirstLogMsb = std::bit_width(kLinearEnd) - 1;
  static constexpr unsigned kTopMsb = 47;  // chunks are smaller than kMaxSpan = 2^48
  static constexpr std::uint64_t kDivs = std::uint64_t{1} << LogDivs;
  static_assert(kFirstLogMsb >= LogDivs + kGranuleLog2,
                "logarithmic sub-classes would be narrower than the granule");
  static constexpr unsigned kFirstLogShift = kFirstLogMsb - LogDivs;
  static_assert(kLinearEnd % (std::uint64_t{1} << kFirstLogShift) == 0,
                "the linear stages must end on a logarithmic sub-class boundary "
                "(needs LogDivs + 1 >= LinearStages)");
  static constexpr std::uint64_t kFirstLogSub = (kLinearEnd >> kFirstLogShift) & (kDivs - 1);

  static constexpr std::uint64_t kBins =
      kLinearBins + (kTopMsb - kFirstLogMsb + 1) * kDivs - kFirstLogSub;
  static constexpr std::size_t kBitmapWords = (kBins + 63) / 64;

  /// Where each linear stage starts: BytesPerLinear * (2^s - 1).
  static constexpr std::array<std::uint64_t, LinearStages> kStageStart = [] {
    std::array<std::uint64_t, LinearStages> a{};
    for (std::size_t s = 0; s < LinearStages; ++s)
      a[s] = BytesPerLinear * ((std::uint64_t{1} << s) - 1);
    return a;
  }();

  /// The smallest size of each bin, built by walking the classes one by one, independently of
  /// bin_of's arithmetic (the tests hold the two against each other).
  static constexpr std::array<std::uint64_t, kBins> kLowerBound = [] {
    std::array<std::uint64_t, kBins> a{};
    std::size_t n = 0;
    for (std::size_t s = 0; s < LinearStages; ++s)
      for (std::uint64_t i = 0; i < kBinsPerStage; ++i) {
        const std::uint64_t lo = kStageStart[s] + (i << (kGranuleLog2 + s));
        if (lo >= kMinChunk) a[n++] = lo;
      }
    for (unsigned m = kFirstLogMsb; m <= kTopMsb; ++m)
      for (std::uint64_t sub = 0; sub < kDivs; ++sub) {
        const std::uint64_t lo = (std::uint64_t{1} << m) + (sub << (m - LogDivs));
        if (lo >= kLinearEnd) a[n++] = lo;
      }
    if (n != kBins) throw "bin count mismatch";  // a compile error in a constant expression
    return a;
  }();

  static constexpr std::uint64_t lower_bound(std::uint64_t bin) noexcept {
    return kLowerBound[bin];
  }

  /// The first size past bin `bin` (no size is past the last one). With lower_bound, a chunk
  /// that was carved or merged is seen to stay in its bin by one table look-up where bin_of
  /// takes a dozen instructions; it mostly does, and then keeps its place in the list.
  static constexpr std::array<std::uint64_t, kBins> kUpperBound = [] {
    std::array<std::uint64_t, kBins> a{};
    for (std::size_t b = 0; b + 1 < kBins; ++b) a[b] = kLowerBound[b + 1];
    a[kBins - 1] = ~std::uint64_t{0};
    return a;
  }();
  static constexpr std::uint64_t upper_bound(std::uint64_t bin) noexcept {
    return kUpperBound[bin];
  }

  /// The linear bin of a size below kLinearEnd, by its stage's arithmetic; bin_of reads it from
  /// the table below (one load where this takes a dozen instructions, on every allocation).
  static constexpr std::uint64_t linear_bin(std::uint64_t size) noexcept {
    // Stage s holds sizes with 2^s <= size / BytesPerLinear + 1 < 2^(s+1).
    const unsigned s = std::bit_width(size / BytesPerLinear + 1) - 1;
    const std::uint64_t idx = (size - kStageStart[s]) >> (kGranuleLog2 + s);
    const std::uint64_t raw = s * kBinsPerStage + idx;
    return raw < kSkipped ? 0 : raw - kSkipped;
  }
  /// One entry per granule of the linear range; configurations whose linear range is too large
  /// for a table of a few kilobytes keep the arithmetic.
  static constexpr bool kLinearTable = kLinearEnd / kGranule <= 4096;
  static constexpr std::array<std::uint16_t, kLinearTable ? kLinearEnd / kGranule : 1> kLinearBin =
      [] {
        static_assert(kBins <= 0xffff);
        std::array<std::uint16_t, kLinearTable ? kLinearEnd / kGranule : 1> a{};
        if constexpr (kLinearTable)
          for (std::uint64_t i = 0; i < a.size(); ++i)
            a[i] = static_cast<std::uint16_t>(linear_bin(i * kGranule));
        return a;
      }();

  /// The bin of a chunk of `size` bytes (size >= kMinChunk). Sizes past the last class clamp
  /// to the last bin, so even a hostile size read from a region never indexes out of range.
  /// Class bounds are multiples of kGranule, so a size between two multiples has the bin of the
  /// lower one.
  [[gnu::always_inline]] static constexpr std::uint64_t bin_of(std::uint64_t size) noexcept {
    if (size < kLinearEnd) {
      if constexpr (kLinearTable) return kLinearBin[size / kGranule];
      return linear_bin(size);
    }
    const unsigned m = std::bit_width(size) - 1;
    const std::uint64_t sub = (size >> (m - LogDivs)) & (kDivs - 1);
    const std::uint64_t b = kLinearBins + (m - kFirstLogMsb) * kDivs + sub - kFirstLogSub;
    return b < kBins ? b : kBins - 1;
  }

  /// The first bin whose every chunk is at least `size` bytes; kBins when there is none.
  static constexpr std::uint64_t first_bin_at_least(std::uint64_t size) noexcept {
    const std::uint64_t b = bin_of(size);
    return kLowerBound[b] >= size ? b : b + 1;
  }
};

using DefaultBinConfig = BinConfig<3, 256, 2>;

}  // namespace talc
