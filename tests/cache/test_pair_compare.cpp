// The one-head steps' paired distance comparison (src/cuda/pair_compare.h) against plain comparisons:
// random tiles of distances (with ties at the bound), every distance in every slot, and the range's
// ends (0, 768, the padding; bounds -1 and 769).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "cuda/pair_compare.h"
#include "test_util.h"

namespace adamas::cuda {
namespace {

struct Tile {
  uint16_t d[8];
  uint32_t word(int k) const { return static_cast<uint32_t>(d[2 * k]) | static_cast<uint32_t>(d[2 * k + 1]) << 16; }
};

void expect_flags(const Tile& t, int bound) {
  const uint32_t flags = at_or_below_flags(t.word(0), t.word(1), t.word(2), t.word(3), bound);
  uint32_t expected_mask = 0;
  for (int i = 0; i < 8; ++i) expected_mask |= static_cast<uint32_t>(static_cast<int>(t.d[i]) <= bound) << i;
  ASSERT_EQ(pair_flags_mask(flags), expected_mask) << "bound " << bound << ", d0 " << t.d[0] << " d1 " << t.d[1];
  ASSERT_EQ(__builtin_popcount(flags), __builtin_popcount(expected_mask));
  ASSERT_EQ(flags & ~0x00550055u, 0u) << "flags outside their bits";
}

TEST(PairCompareTest, RandomTilesAgainstComparisons) {
  const uint64_t seed = testing::test_seed() + 41;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> distance(0, 768), bound_of(-1, 769), near(-2, 2);
  for (int i = 0; i < 200000; ++i) {
    const int bound = bound_of(rng);
    Tile t;
    for (uint16_t& d : t.d) {  // about half at or next to the bound, so ties are common
      const int v = (rng() & 1) ? bound + near(rng) : distance(rng);
      d = static_cast<uint16_t>(v < 0 ? 0 : v > 768 ? 768 : v);
    }
    expect_flags(t, bound);
  }
}

TEST(PairCompareTest, EveryDistanceInEverySlot) {
  for (int slot = 0; slot < 8; ++slot)
    for (int d = 0; d <= 768; d += 1)
      for (int bound : {-1, 0, 1, d - 1, d, d + 1, 384, 768, 769}) {
        Tile t;
        for (int i = 0; i < 8; ++i) t.d[i] = static_cast<uint16_t>(i == slot ? d : (i * 97) % 769);
        expect_flags(t, bound);
      }
}

TEST(PairCompareTest, PaddingIsAboveEveryThreshold) {
  Tile t;
  for (uint16_t& d : t.d) d = static_cast<uint16_t>(kPairPadding);
  for (int bound = -1; bound <= 769; ++bound) expect_flags(t, bound);
  const uint32_t padded = kPairPadding * 0x00010001u;  // both halves
  EXPECT_EQ(at_or_below_flags(padded, padded, padded, padded, 769), 0u);
  for (uint16_t& d : t.d) d = 0;
  EXPECT_EQ(pair_flags_mask(at_or_below_flags(0, 0, 0, 0, 0)), 0xffu);
  EXPECT_EQ(at_or_below_flags(0, 0, 0, 0, -1), 0u);
}

}  // namespace
}  // namespace adamas::cuda
