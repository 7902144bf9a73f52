#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "adamas/error.h"
#include "adamas/hadamard.h"
#include "test_util.h"

namespace adamas {
namespace {

class HadamardTest : public ::testing::TestWithParam<int> {};

TEST_P(HadamardTest, MatrixIsOrthonormalAndItsOwnInverse) {
  const int d = GetParam();
  const std::vector<float> h = hadamard_matrix(d);
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) {
      double dot = 0;
      for (int k = 0; k < d; ++k) dot += static_cast<double>(h[i * d + k]) * h[j * d + k];
      ASSERT_NEAR(dot, i == j ? 1.0 : 0.0, 1e-5) << "d=" << d << " i=" << i << " j=" << j;
    }
  // Symmetric, so orthonormal means H * H = I: the transform is its own inverse.
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) ASSERT_EQ(h[i * d + j], h[j * d + i]);
}

TEST_P(HadamardTest, FastTransformMatchesMatrixAndReferenceBitForBit) {
  const int d = GetParam();
  const uint64_t seed = testing::test_seed() + d;
  SCOPED_TRACE("seed=" + std::to_string(seed) + " d=" + std::to_string(d));
  std::mt19937_64 rng(seed);
  const std::vector<float> h = hadamard_matrix(d);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<float> x = testing::random_floats(rng, d, 10.0f);
    std::vector<float> ref = x, fast = x;
    hadamard_transform_ref(ref.data(), d);
    hadamard_transform(fast.data(), d);
    ASSERT_EQ(0, std::memcmp(ref.data(), fast.data(), sizeof(float) * d)) << "trial " << trial;
    for (int i = 0; i < d; ++i) {
      double expected = 0;
      for (int k = 0; k < d; ++k) expected += static_cast<double>(h[i * d + k]) * x[k];
      ASSERT_NEAR(ref[i], expected, 1e-4 * (1 + std::abs(expected)));
    }
    // Applying it twice gives x back (up to rounding).
    hadamard_transform(fast.data(), d);
    for (int i = 0; i < d; ++i) ASSERT_NEAR(fast[i], x[i], 1e-4 * (1 + std::abs(x[i])));
  }
}

TEST_P(HadamardTest, PreservesDotProducts) {
  const int d = GetParam();
  const uint64_t seed = testing::test_seed() + 100 + d;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<float> q = testing::random_floats(rng, d, 5.0f), k = testing::random_floats(rng, d, 5.0f);
    double before = 0, after = 0;
    for (int i = 0; i < d; ++i) before += static_cast<double>(q[i]) * k[i];
    hadamard_transform(q.data(), d);
    hadamard_transform(k.data(), d);
    for (int i = 0; i < d; ++i) after += static_cast<double>(q[i]) * k[i];
    ASSERT_NEAR(before, after, 1e-4 * (25.0 * d));
  }
}

INSTANTIATE_TEST_SUITE_P(HeadDims, HadamardTest, ::testing::Values(4, 8, 16, 32, 64, 128, 256));

TEST(HadamardErrors, RejectsUnsupportedHeadDims) {
  float x[512] = {};
  for (int d : {0, -4, 3, 6, 12, 96, 100, 512}) {
    EXPECT_THROW(hadamard_transform(x, d), Error) << d;
    EXPECT_THROW(check_head_dim(d), Error) << d;
  }
  try {
    check_head_dim(96);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("96"), std::string::npos);
  }
}

}  // namespace
}  // namespace adamas
