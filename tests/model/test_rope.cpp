// RoPE: frequencies against the definitions (default, linear, llama3), the rotate_half pairing,
// and the property that makes it a position encoding: q(m).k(n) depends only on m - n.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "adamas/error.h"
#include "model/rope.h"

namespace adamas {
namespace {

TEST(Rope, DefaultFrequenciesMatchDefinition) {
  for (int d : {4, 8, 64, 128}) {
    const std::vector<float> inv = rope_inv_freq(d, 10000.0, {});
    ASSERT_EQ(inv.size(), size_t(d / 2));
    for (int i = 0; i < d / 2; ++i) EXPECT_NEAR(inv[i], 1.0 / std::pow(10000.0, 2.0 * i / d), 1e-6 * inv[0]) << d << " " << i;
  }
}

TEST(Rope, LinearDividesEveryFrequency) {
  RopeScaling linear;
  linear.type = RopeScaling::Type::kLinear;
  linear.factor = 8.0;
  const auto base = rope_inv_freq(128, 10000.0, {});
  const auto scaled = rope_inv_freq(128, 10000.0, linear);
  for (size_t i = 0; i < base.size(); ++i) EXPECT_FLOAT_EQ(scaled[i], base[i] / 8.0f);
}

TEST(Rope, Llama3KeepsHighDividesLowSmoothsMiddle) {
  RopeScaling llama3;
  llama3.type = RopeScaling::Type::kLlama3;
  llama3.factor = 8.0;
  llama3.low_freq_factor = 1.0;
  llama3.high_freq_factor = 4.0;
  llama3.original_max_position_embeddings = 8192;
  const auto base = rope_inv_freq(128, 500000.0, {});
  const auto scaled = rope_inv_freq(128, 500000.0, llama3);
  int high = 0, low = 0, medium = 0;
  for (size_t i = 0; i < base.size(); ++i) {
    const double wavelen = 2 * M_PI / base[i];
    if (wavelen < 8192.0 / 4) {
      EXPECT_FLOAT_EQ(scaled[i], base[i]);
      ++high;
    } else if (wavelen > 8192.0) {
      EXPECT_FLOAT_EQ(scaled[i], base[i] / 8.0f);
      ++low;
    } else {
      const double smooth = (8192.0 / wavelen - 1.0) / 3.0;
      EXPECT_NEAR(scaled[i], (1 - smooth) * base[i] / 8 + smooth * base[i], 1e-6 * base[i]);
      ++medium;
    }
  }
  EXPECT_GT(high, 0);
  EXPECT_GT(low, 0);
  EXPECT_GT(medium, 0);
}

TEST(Rope, RotateHalfPairsIWithIPlusHalf) {
  RotaryEmbedding rope(8, 10000.0, {});
  std::vector<float> x = {1, 0, 0, 0, 0, 0, 0, 0};
  rope.apply(x.data(), 1, 3);
  // Coordinate 0 rotates into coordinate 4 (its rotate_half partner) by angle 3 * inv_freq[0] = 3.
  EXPECT_NEAR(x[0], std::cos(3.0), 1e-6);
  EXPECT_NEAR(x[4], std::sin(3.0), 1e-6);
  for (int i : {1, 2, 3, 5, 6, 7}) EXPECT_EQ(x[i], 0.0f);
}

TEST(Rope, DotProductDependsOnlyOnRelativePosition) {
  RotaryEmbedding rope(64, 10000.0, {});
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<float> q(64), k(64);
  for (float& v : q) v = normal(rng);
  for (float& v : k) v = normal(rng);
  auto rotated_dot = [&](int m, int n) {
    std::vector<float> a = q, b = k;
    rope.apply(a.data(), 1, m);
    rope.apply(b.data(), 1, n);
    double dot = 0;
    for (int i = 0; i < 64; ++i) dot += double(a[i]) * b[i];
    return dot;
  };
  EXPECT_NEAR(rotated_dot(10, 3), rotated_dot(107, 100), 1e-3);
  EXPECT_NEAR(rotated_dot(0, 0), rotated_dot(55, 55), 1e-3);
}

TEST(Rope, BadParametersThrow) {
  EXPECT_THROW(rope_inv_freq(7, 10000.0, {}), Error);
  EXPECT_THROW(rope_inv_freq(8, 0.0, {}), Error);
  RopeScaling bad;
  bad.type = RopeScaling::Type::kLlama3;
  bad.factor = 8;
  bad.low_freq_factor = 4;
  bad.high_freq_factor = 1;
  EXPECT_THROW(rope_inv_freq(8, 10000.0, bad), Error);
  bad.type = RopeScaling::Type::kLinear;
  bad.factor = -1;
  EXPECT_THROW(rope_inv_freq(8, 10000.0, bad), Error);
}

}  // namespace
}  // namespace adamas
