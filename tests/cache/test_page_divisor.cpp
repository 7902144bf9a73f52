// The GPU kernels' page arithmetic (src/cuda/page_divisor.h) against integer division: every page
// size the cache accepts, positions at and around page edges, the largest positions, random ones.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "cuda/page_divisor.h"
#include "test_util.h"

namespace adamas::cuda {
namespace {

TEST(PageDivisorTest, MatchesDivisionForEveryPageSize) {
  const uint64_t seed = testing::test_seed() + 71;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937 rng(static_cast<uint32_t>(seed));
  int64_t checked = 0;
  for (int size = 1; size <= 4096; ++size) {
    const PageDivisor divisor = page_divisor(size);
    auto check = [&](int64_t position) {
      if (position < 0 || position > INT32_MAX) return;
      const int n = static_cast<int>(position);
      ASSERT_EQ(divisor.page(n), n / size) << "page size " << size << ", position " << n;
      ASSERT_EQ(divisor.offset(n), n % size) << "page size " << size << ", position " << n;
      ++checked;
    };
    for (int n = 0; n < 3 * size + 3; ++n) check(n);
    for (int64_t edge = size; edge <= INT32_MAX; edge = edge * 7 + size) {
      check(edge - 1);
      check(edge);
    }
    const int64_t last_edge = INT32_MAX / size * static_cast<int64_t>(size);
    for (int64_t n = last_edge - 2; n <= INT32_MAX; ++n) check(n);
    for (int i = 0; i < 64; ++i) check(rng() & 0x7fffffff);
  }
  EXPECT_GT(checked, 4096 * 64);
}

TEST(PageDivisorTest, DefaultIsTheDivisorOne) {
  const PageDivisor divisor;
  const PageDivisor one = page_divisor(1);
  EXPECT_EQ(divisor.multiplier, one.multiplier);
  EXPECT_EQ(divisor.shift, one.shift);
  for (int n : {0, 1, 7, 1 << 20, INT32_MAX}) {
    EXPECT_EQ(divisor.page(n), n);
    EXPECT_EQ(divisor.offset(n), 0);
  }
}

TEST(PageDivisorTest, MultiplierFitsAndShiftIsTheCeilingLog) {
  for (int size : {1, 2, 3, 16, 17, 1000, 4095, 4096, 1 << 30}) {
    const PageDivisor divisor = page_divisor(size);
    EXPECT_GE(int64_t{1} << divisor.shift, size);
    if (divisor.shift > 0) EXPECT_LT(int64_t{1} << (divisor.shift - 1), size);
    EXPECT_GT(divisor.multiplier, 0u);
  }
}

}  // namespace
}  // namespace adamas::cuda
