// Property tests of the heap with lanes and pages against a model that knows the pages
// (support/page_model.hpp says what it demands). A seeded random workload of small, aligned and
// large requests, frees, stale frees, reallocations and trims, across a few threads, with double
// frees, pointers into blocks, adoptions, threads that end and frees that race. A failure names
// the seed and the operation's index, which replay it exactly.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "support/page_model.hpp"

namespace {

constexpr int kSeeds = 8;
constexpr int kPageOps = 10'000;
constexpr int kPageCheckEvery = 250;

class PageHeapModel : public ::testing::TestWithParam<int> {};

TEST_P(PageHeapModel, AgreesWithTheModelOfPagesAcrossThreads) {
  const std::uint64_t seed = 9300 + static_cast<std::uint64_t>(GetParam());
  std::mt19937_64 rng(seed);
  // 1 to 4 MiB: pages of 8 to 32 KiB, and in the smallest heap a request that finds no room for
  // a page, served by the core instead.
  talc_test::PageModel model(std::size_t{1} << (20 + GetParam() % 3), 3);
  ASSERT_TRUE(model.has_pages());
  const auto size = [&]() -> std::size_t {
    const std::uint64_t r = rng() % 20;
    if (r < 15) return 1 + rng() % 1032;     // a page's
    if (r < 18) return 1033 + rng() % 4000;  // the core's
    return 1 + rng() % 20'000;
  };
  const auto thread = [&] { return static_cast<std::size_t>(rng() % model.threads()); };
  for (int op = 0; op < kPageOps; ++op) {
    const std::uint64_t r = rng() % 200;
    std::string e;
    if ((r < 70 && model.live() < 400) || model.live() < 20) {
      const std::size_t align = rng() % 4 == 0 ? std::size_t{32} << (rng() % 5) : 16;
      e = model.Allocate(thread(), size(), align);
    } else if (r < 120) {
      e = model.Free(thread(), rng());
    } else if (r < 130) {
      e = model.FreeTwice(thread(), thread(), rng());
    } else if (r < 140) {
      e = model.Stale(thread(), rng());
    } else if (r < 150) {
      e = model.Interior(thread(), rng(), static_cast<unsigned>(rng()));
    } else if (r < 165) {
      e = model.Look(thread(), rng());
    } else if (r < 185) {
      e = model.Reallocate(thread(), rng(), size());
    } else if (r < 190) {
      e = model.Trim(thread());
    } else if (r < 191) {
      e = model.Retire(thread());
    } else {
      e = model.Race(rng(), 24);
    }
    if (e.empty() && (op + 1) % kPageCheckEvery == 0) e = model.Check();
    ASSERT_EQ(e, "") << "seed " << seed << ", operation " << op;
  }
  ASSERT_EQ(model.Check(), "") << "seed " << seed;
  ASSERT_EQ(model.Finish(), "") << "seed " << seed;
  // Requests the heap had no room for are rare: live blocks are few.
  EXPECT_LT(model.out_of_memory(), std::uint64_t{kPageOps} / 20) << "seed " << seed;
}

INSTANTIATE_TEST_SUITE_P(Seeds, PageHeapModel, ::testing::Range(0, kSeeds));

}  // namespace
