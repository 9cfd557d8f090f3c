// TALC_ASSERT: where it is compiled in, a broken invariant stops the process with its place;
// where it is compiled out, its condition is not evaluated (a release build's hot path pays
// nothing for it).
#include "talc/core/assert.hpp"

#include <gtest/gtest.h>

namespace {

#if !defined(NDEBUG) || defined(TALC_ASSERTS)
constexpr bool kAssertsOn = true;
#else
constexpr bool kAssertsOn = false;
#endif

TEST(TalcAssert, AHoldingInvariantPassesSilently) {
  int evaluated = 0;
  TALC_ASSERT(++evaluated == 1);
  EXPECT_EQ(evaluated, kAssertsOn ? 1 : 0);
}

TEST(TalcAssertDeathTest, ABrokenInvariantAbortsWithItsPlaceWhereCompiledIn) {
  if (!kAssertsOn) GTEST_SKIP() << "TALC_ASSERT is compiled out of this build (NDEBUG)";
  const int lanes = 3;
  EXPECT_DEATH(TALC_ASSERT(lanes < 2),
               "internal invariant broken at .*assert_test.cpp:[0-9]+: "
               "lanes < 2");
}

}  // namespace
