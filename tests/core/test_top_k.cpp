#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "adamas/top_k.h"
#include "test_util.h"

namespace adamas {
namespace {

TEST(TopK, ScoreKeyOrdersLargerScoresFirstAndTiesByRecency) {
  EXPECT_LT(score_key(2.0f, 0), score_key(1.0f, 0));
  EXPECT_LT(score_key(-1.0f, 0), score_key(-2.0f, 0));
  EXPECT_LT(score_key(0.5f, 9), score_key(0.5f, 3));  // same score: later position first
  EXPECT_EQ(score_key(0.0f, 4), score_key(-0.0f, 4));
  EXPECT_LT(distance_key(3, 0), distance_key(4, 100));
  EXPECT_LT(distance_key(3, 8), distance_key(3, 2));
}

TEST(TopK, FastSelectionsEqualFullSortOnRandomScoresWithTies) {
  const uint64_t seed = testing::test_seed() + 3;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int trial = 0; trial < 300; ++trial) {
    const int n = 1 + static_cast<int>(rng() % 3000);
    const int max_distance = 1 + static_cast<int>(rng() % 768);
    const int k = static_cast<int>(rng() % (n + 20));
    std::vector<uint16_t> distances(n);
    std::vector<uint64_t> keys(n);
    for (int i = 0; i < n; ++i) {
      distances[i] = static_cast<uint16_t>(rng() % (max_distance + 1));
      keys[i] = distance_key(distances[i], static_cast<uint32_t>(i));
    }
    std::vector<int32_t> ref, fast_keys, fast_hist;
    select_smallest_keys_ref(keys, k, ref);
    std::vector<uint64_t> scratch = keys;
    select_smallest_keys(scratch, k, fast_keys);
    select_smallest_distances(distances.data(), n, k, max_distance, fast_hist);
    ASSERT_EQ(ref, fast_keys) << "n=" << n << " k=" << k;
    ASSERT_EQ(ref, fast_hist) << "n=" << n << " k=" << k;
    ASSERT_EQ(static_cast<int>(ref.size()), std::min(n, k));
    // Brute force: every selected one is no worse than every unselected one.
    std::vector<bool> chosen(n, false);
    for (int t : ref) chosen[t] = true;
    uint64_t worst_chosen = 0, best_other = ~0ull;
    for (int i = 0; i < n; ++i) (chosen[i] ? worst_chosen = std::max(worst_chosen, keys[i]) : best_other = std::min(best_other, keys[i]));
    if (!ref.empty() && static_cast<int>(ref.size()) < n) ASSERT_LT(worst_chosen, best_other);
  }
}

}  // namespace
}  // namespace adamas
