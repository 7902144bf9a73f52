#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "adamas/error.h"
#include "adamas/key_codes.h"
#include "test_util.h"

namespace adamas {
namespace {

TEST(KeyCodes, BucketizeMatchesDefinitionAtAndAroundThresholds) {
  const Thresholds t;  // (-10, 0, 10)
  EXPECT_EQ(bucketize(-11.0f, t), 0);
  EXPECT_EQ(bucketize(-10.0f, t), 0);  // right=False: x == t0 stays below
  EXPECT_EQ(bucketize(std::nextafter(-10.0f, 0.0f), t), 1);
  EXPECT_EQ(bucketize(0.0f, t), 1);
  EXPECT_EQ(bucketize(1e-30f, t), 2);
  EXPECT_EQ(bucketize(10.0f, t), 2);
  EXPECT_EQ(bucketize(10.5f, t), 3);
}

TEST(KeyCodes, ExactL1OnAllSixteenCodePairsInEveryLane) {
  for (int lane = 0; lane < 32; ++lane)
    for (uint64_t a = 0; a < 4; ++a)
      for (uint64_t b = 0; b < 4; ++b) {
        const int expected = std::abs(static_cast<int>(a) - static_cast<int>(b));
        ASSERT_EQ(l1_distance_word(a << (2 * lane), b << (2 * lane)), expected) << a << "," << b << " lane " << lane;
      }
}

class KeyCodesShapes : public ::testing::TestWithParam<int> {};

TEST_P(KeyCodesShapes, FastEncodeAndDistanceMatchReference) {
  const int d = GetParam();
  const uint64_t seed = testing::test_seed() + 7 * d;
  SCOPED_TRACE("seed=" + std::to_string(seed) + " d=" + std::to_string(d));
  std::mt19937_64 rng(seed);
  for (float scale : {1.0f, 8.0f, 30.0f}) {
    Thresholds t{-0.7f * scale, 0.1f, 0.9f * scale};
    for (int trial = 0; trial < 200; ++trial) {
      const std::vector<float> a = testing::random_floats(rng, d, scale), b = testing::random_floats(rng, d, scale);
      std::vector<uint8_t> ca_ref(d / 4), ca(d / 4), cb(d / 4);
      encode_code_ref(a.data(), d, t, ca_ref.data());
      encode_code(a.data(), d, t, ca.data());
      encode_code(b.data(), d, t, cb.data());
      ASSERT_EQ(ca_ref, ca);
      for (int i = 0; i < d; ++i) ASSERT_EQ(code_at(ca.data(), i), bucketize(a[i], t));
      int brute = 0;
      for (int i = 0; i < d; ++i) brute += std::abs(bucketize(a[i], t) - bucketize(b[i], t));
      ASSERT_EQ(l1_distance_ref(ca.data(), cb.data(), d), brute);
      ASSERT_EQ(l1_distance(ca.data(), cb.data(), d), brute);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(HeadDims, KeyCodesShapes, ::testing::Values(4, 8, 16, 32, 64, 128, 256));

TEST(KeyCodesErrors, RejectsBadThresholds) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  EXPECT_THROW(check_thresholds({1, 0, 2}), Error);
  EXPECT_THROW(check_thresholds({0, 0, 1}), Error);
  EXPECT_THROW(check_thresholds({nan, 0, 1}), Error);
  EXPECT_THROW(check_thresholds({-inf, 0, 1}), Error);
  EXPECT_THROW(check_thresholds({-1, 0, inf}), Error);
  EXPECT_NO_THROW(check_thresholds({-10, 0, 10}));
}

}  // namespace
}  // namespace adamas
