#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "adamas/error.h"
#include "model/dequantize.h"
#include "test_dequant_packers.h"

namespace adamas {
namespace {

class DequantTest : public ::testing::TestWithParam<GgmlType> {};

TEST_P(DequantTest, MatchesTestSideEncoding) {
  const GgmlType type = GetParam();
  const GgmlTypeInfo& info = ggml_type_info(type);
  for (const int64_t n_blocks : {1, 3, 17}) {
    const unsigned seed = 1234u + static_cast<unsigned>(type) * 100u + static_cast<unsigned>(n_blocks);
    std::mt19937 rng(seed);
    const test::PackedBlocks packed = test::pack_random_blocks(type, n_blocks, rng);
    const int64_t n_elements = n_blocks * info.block_elements;
    ASSERT_EQ(static_cast<int64_t>(packed.expected.size()), n_elements);
    std::vector<float> out(static_cast<size_t>(n_elements), -1234.0f);
    dequantize_ref(type, packed.bytes.data(), n_elements, out.data());
    for (int64_t i = 0; i < n_elements; ++i) {
      ASSERT_NEAR(out[i], packed.expected[i], packed.tolerance[i])
          << info.name << " seed " << seed << " blocks " << n_blocks << " element " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, DequantTest,
                         ::testing::Values(GgmlType::kF32, GgmlType::kF16, GgmlType::kBF16, GgmlType::kQ4_0,
                                           GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ8_0,
                                           GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K, GgmlType::kQ8_K),
                         [](const auto& param) { return std::string(ggml_type_info(param.param).name); });

// Known answers written out by hand, independent of the packers.
TEST(DequantKnownAnswer, Q4_1Block) {
  std::vector<uint8_t> block(20, 0);
  const uint16_t d = f32_to_f16(0.5f), m = f32_to_f16(-1.0f);
  std::memcpy(block.data(), &d, 2);
  std::memcpy(block.data() + 2, &m, 2);
  block[4] = 0x3A;   // value 0 = 0xA = 10, value 16 = 3
  block[19] = 0xF0;  // value 15 = 0, value 31 = 15
  std::vector<float> out(32);
  dequantize_ref(GgmlType::kQ4_1, block.data(), 32, out.data());
  EXPECT_FLOAT_EQ(out[0], 4.0f);    // 0.5 * 10 - 1
  EXPECT_FLOAT_EQ(out[16], 0.5f);   // 0.5 * 3 - 1
  EXPECT_FLOAT_EQ(out[15], -1.0f);  // 0.5 * 0 - 1
  EXPECT_FLOAT_EQ(out[31], 6.5f);   // 0.5 * 15 - 1
  EXPECT_FLOAT_EQ(out[1], -1.0f);
}

TEST(DequantKnownAnswer, Q8_0Block) {
  std::vector<uint8_t> block(34, 0);
  const uint16_t d = f32_to_f16(0.25f);
  std::memcpy(block.data(), &d, 2);
  block[2] = 0x80;  // -128
  block[3] = 0x7F;  // 127
  block[33] = 0xFF;  // -1
  std::vector<float> out(32);
  dequantize_ref(GgmlType::kQ8_0, block.data(), 32, out.data());
  EXPECT_FLOAT_EQ(out[0], -32.0f);
  EXPECT_FLOAT_EQ(out[1], 31.75f);
  EXPECT_FLOAT_EQ(out[31], -0.25f);
}

TEST(DequantKnownAnswer, Q6_KAllMidQuantsAreZero) {
  // q = 32 everywhere (low nibble 0, high bits 2) dequantizes to 0 whatever the scales.
  std::vector<uint8_t> block(210, 0);
  for (int i = 128; i < 192; ++i) block[i] = 0xAA;  // every 2-bit field = 2
  for (int i = 192; i < 208; ++i) block[i] = 7;
  const uint16_t d = f32_to_f16(1.0f);
  std::memcpy(block.data() + 208, &d, 2);
  std::vector<float> out(256, 1.0f);
  dequantize_ref(GgmlType::kQ6_K, block.data(), 256, out.data());
  for (float value : out) ASSERT_EQ(value, 0.0f);
  block[0] = 0x01;  // value 0: q = 33 -> d * scale[0] * 1 = 7
  dequantize_ref(GgmlType::kQ6_K, block.data(), 256, out.data());
  EXPECT_FLOAT_EQ(out[0], 7.0f);
}

TEST(DequantErrors, RejectsUnsupportedTypeAndPartialBlock) {
  std::vector<uint8_t> bytes(256, 0);
  std::vector<float> out(256);
  EXPECT_THROW(dequantize_ref(GgmlType::kQ2_K, bytes.data(), 256, out.data()), Error);
  EXPECT_THROW(dequantize_ref(GgmlType::kQ4_0, bytes.data(), 31, out.data()), Error);
  EXPECT_EQ(find_ggml_type(4), nullptr);  // removed Q4_2
  EXPECT_EQ(find_ggml_type(99), nullptr);
  ASSERT_NE(find_ggml_type(3), nullptr);
  EXPECT_STREQ(find_ggml_type(3)->name, "Q4_1");
  EXPECT_EQ(find_ggml_type(14)->block_bytes, 210);
  EXPECT_EQ(find_ggml_type(12)->block_bytes, 144);
  EXPECT_EQ(find_ggml_type(13)->block_bytes, 176);
  EXPECT_EQ(find_ggml_type(11)->block_bytes, 110);
  EXPECT_EQ(find_ggml_type(10)->block_bytes, 84);
}

}  // namespace
}  // namespace adamas
