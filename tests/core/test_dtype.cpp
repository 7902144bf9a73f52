#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "adamas/dtype.h"
#include "adamas/error.h"
#include "test_util.h"

namespace adamas {
namespace {

TEST(DType, F16RoundTripIsExactForEveryHalfValue) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const float value = f16_to_f32(static_cast<uint16_t>(bits));
    if (std::isnan(value)) continue;
    ASSERT_EQ(f32_to_f16(value), bits) << std::hex << bits;
  }
}

TEST(DType, F16RoundsToNearestEven) {
  std::mt19937_64 rng(testing::test_seed());
  std::uniform_real_distribution<float> uniform(-70000.0f, 70000.0f);
  for (int i = 0; i < 100000; ++i) {
    const float x = uniform(rng) * (i % 3 == 0 ? 1e-4f : 1.0f);
    const uint16_t h = f32_to_f16(x);
    const float y = f16_to_f32(h);
    if (std::isinf(y)) {
      ASSERT_GE(std::fabs(x), 65504.0f);
      continue;
    }
    // No other half is closer.
    const float up = f16_to_f32(static_cast<uint16_t>(h + 1)), down = f16_to_f32(static_cast<uint16_t>(h - 1));
    ASSERT_LE(std::fabs(y - x), std::fabs(up - x)) << x;
    if ((h & 0x7fff) != 0) ASSERT_LE(std::fabs(y - x), std::fabs(down - x)) << x;
  }
}

TEST(DType, Bf16RoundTrip) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const float value = bf16_to_f32(static_cast<uint16_t>(bits));
    if (std::isnan(value)) continue;
    ASSERT_EQ(f32_to_bf16(value), bits);
  }
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);  // halfway, rounds to even
  EXPECT_EQ(parse_dtype("bf16"), DType::kBF16);
  EXPECT_THROW(parse_dtype("int4"), Error);
}

}  // namespace
}  // namespace adamas
