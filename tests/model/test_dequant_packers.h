// Test-side encoders for ggml block types: pick integer quants and scales at random, scatter them
// into the block layout element by element (the library gathers block by block), and compute the
// expected values straight from the integers in double precision.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "adamas/dtype.h"
#include "model/dequantize.h"

namespace adamas::test {

struct PackedBlocks {
  std::vector<uint8_t> bytes;
  std::vector<double> expected;
  // The library computes in float: a product or two and a sum, each rounded once, so the error
  // stays within a few ulps of the terms' magnitude.
  std::vector<double> tolerance;
};

inline double f16_value(std::mt19937& rng, double lo, double hi, uint16_t* bits) {
  std::uniform_real_distribution<double> dist(lo, hi);
  *bits = f32_to_f16(static_cast<float>(dist(rng)));
  return f16_to_f32(*bits);
}

inline void put_u16(uint8_t* at, uint16_t value) {
  at[0] = static_cast<uint8_t>(value & 0xFF);
  at[1] = static_cast<uint8_t>(value >> 8);
}

inline double ulps(double magnitude) { return 8.0 * FLT_EPSILON * magnitude + 1e-30; }

inline PackedBlocks pack_random_blocks(GgmlType type, int64_t n_blocks, std::mt19937& rng) {
  const GgmlTypeInfo& info = ggml_type_info(type);
  const int64_t n = info.block_elements;
  PackedBlocks packed;
  packed.bytes.assign(static_cast<size_t>(n_blocks * info.block_bytes), 0);
  std::uniform_int_distribution<int> byte_dist(0, 255);
  const auto rand_int = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int64_t b = 0; b < n_blocks; ++b) {
    uint8_t* block = packed.bytes.data() + b * info.block_bytes;
    const auto expect = [&](double value, double magnitude) {
      packed.expected.push_back(value);
      packed.tolerance.push_back(ulps(magnitude));
    };
    switch (type) {
      case GgmlType::kF32: {
        const float value = std::uniform_real_distribution<float>(-3.0f, 3.0f)(rng);
        std::memcpy(block, &value, 4);
        packed.expected.push_back(value);
        packed.tolerance.push_back(0.0);
        break;
      }
      case GgmlType::kF16: {
        uint16_t bits;
        const double value = f16_value(rng, -3.0, 3.0, &bits);
        put_u16(block, bits);
        packed.expected.push_back(value);
        packed.tolerance.push_back(0.0);
        break;
      }
      case GgmlType::kBF16: {
        const uint16_t bits = f32_to_bf16(std::uniform_real_distribution<float>(-3.0f, 3.0f)(rng));
        put_u16(block, bits);
        packed.expected.push_back(bf16_to_f32(bits));
        packed.tolerance.push_back(0.0);
        break;
      }
      case GgmlType::kQ4_0:
      case GgmlType::kQ4_1:
      case GgmlType::kQ5_0:
      case GgmlType::kQ5_1: {
        const bool has_min = type == GgmlType::kQ4_1 || type == GgmlType::kQ5_1;
        const bool five_bit = type == GgmlType::kQ5_0 || type == GgmlType::kQ5_1;
        uint16_t d_bits, m_bits = 0;
        const double d = f16_value(rng, -0.2, 0.2, &d_bits);
        const double m = has_min ? f16_value(rng, -1.0, 1.0, &m_bits) : 0.0;
        put_u16(block, d_bits);
        if (has_min) put_u16(block + 2, m_bits);
        const int header = (has_min ? 4 : 2) + (five_bit ? 4 : 0);
        uint32_t qh = 0;
        for (int e = 0; e < n; ++e) {
          const int q = rand_int(0, five_bit ? 31 : 15);
          block[header + e % 16] |= static_cast<uint8_t>((q & 15) << (e < 16 ? 0 : 4));
          if (five_bit) qh |= static_cast<uint32_t>(q >> 4) << e;
          const int offset = has_min ? 0 : (five_bit ? 16 : 8);
          expect(d * (q - offset) + m, std::fabs(d * (q - offset)) + std::fabs(m));
        }
        if (five_bit) {
          uint8_t* qh_at = block + (has_min ? 4 : 2);
          for (int i = 0; i < 4; ++i) qh_at[i] = static_cast<uint8_t>(qh >> (8 * i));
        }
        break;
      }
      case GgmlType::kQ8_0: {
        uint16_t d_bits;
        const double d = f16_value(rng, -0.05, 0.05, &d_bits);
        put_u16(block, d_bits);
        for (int e = 0; e < n; ++e) {
          const int q = rand_int(-128, 127);
          block[2 + e] = static_cast<uint8_t>(static_cast<int8_t>(q));
          expect(d * q, std::fabs(d * q));
        }
        break;
      }
      case GgmlType::kQ4_K:
      case GgmlType::kQ5_K: {
        const bool five_bit = type == GgmlType::kQ5_K;
        uint16_t d_bits, dmin_bits;
        const double d = f16_value(rng, 0.0, 0.01, &d_bits);
        const double dmin = f16_value(rng, 0.0, 0.01, &dmin_bits);
        put_u16(block, d_bits);
        put_u16(block + 2, dmin_bits);
        int scale[8], min[8];
        uint8_t* packed_scales = block + 4;
        for (int s = 0; s < 8; ++s) {
          scale[s] = rand_int(0, 63);
          min[s] = rand_int(0, 63);
          if (s < 4) {
            packed_scales[s] |= static_cast<uint8_t>(scale[s]);
            packed_scales[s + 4] |= static_cast<uint8_t>(min[s]);
          } else {
            packed_scales[s + 4] |= static_cast<uint8_t>((scale[s] & 15) | ((min[s] & 15) << 4));
            packed_scales[s - 4] |= static_cast<uint8_t>((scale[s] >> 4) << 6);
            packed_scales[s] |= static_cast<uint8_t>((min[s] >> 4) << 6);
          }
        }
        uint8_t* qh = block + 16;
        uint8_t* qs = block + (five_bit ? 48 : 16);
        for (int e = 0; e < n; ++e) {
          const int s = e / 32;
          const int q = rand_int(0, five_bit ? 31 : 15);
          qs[32 * (s / 2) + e % 32] |= static_cast<uint8_t>((q & 15) << (4 * (s % 2)));
          if (five_bit) qh[e % 32] |= static_cast<uint8_t>((q >> 4) << s);
          const double term = d * scale[s] * q;
          const double offset = dmin * min[s];
          expect(term - offset, std::fabs(term) + std::fabs(offset));
        }
        break;
      }
      case GgmlType::kQ6_K: {
        uint16_t d_bits;
        const double d = f16_value(rng, -0.01, 0.01, &d_bits);
        put_u16(block + 208, d_bits);
        int8_t scale[16];
        for (int g = 0; g < 16; ++g) {
          scale[g] = static_cast<int8_t>(rand_int(-128, 127));
          block[192 + g] = static_cast<uint8_t>(scale[g]);
        }
        for (int e = 0; e < n; ++e) {
          const int q = rand_int(0, 63);
          const int half = e / 128, quarter = (e % 128) / 32, l = e % 32;
          block[64 * half + l + 32 * (quarter & 1)] |= static_cast<uint8_t>((q & 15) << (4 * (quarter >> 1)));
          block[128 + 32 * half + l] |= static_cast<uint8_t>((q >> 4) << (2 * quarter));
          const double value = d * scale[e / 16] * (q - 32);
          expect(value, std::fabs(value));
        }
        break;
      }
      case GgmlType::kQ8_K: {
        const float d = std::uniform_real_distribution<float>(-0.01f, 0.01f)(rng);
        std::memcpy(block, &d, 4);
        int16_t sums[16] = {};
        for (int e = 0; e < n; ++e) {
          const int q = rand_int(-128, 127);
          block[4 + e] = static_cast<uint8_t>(static_cast<int8_t>(q));
          sums[e / 16] = static_cast<int16_t>(sums[e / 16] + q);
          expect(static_cast<double>(d) * q, std::fabs(static_cast<double>(d) * q));
        }
        std::memcpy(block + 260, sums, sizeof(sums));
        break;
      }
      default:
        for (int64_t i = 0; i < info.block_bytes; ++i) block[i] = static_cast<uint8_t>(byte_dist(rng));
        break;
    }
  }
  return packed;
}

}  // namespace adamas::test
