#include "model/dequantize.h"

#include <cstring>

#include "adamas/dtype.h"
#include "adamas/error.h"

namespace adamas {

namespace {

// Sizes from ggml-common.h: QK = 32 for the legacy types, QK_K = 256 for the K-quants.
constexpr int64_t kQk = 32;
constexpr int64_t kQkK = 256;

constexpr GgmlTypeInfo kTypes[] = {
    {GgmlType::kF32, "F32", 1, 4, true},
    {GgmlType::kF16, "F16", 1, 2, true},
    {GgmlType::kQ4_0, "Q4_0", kQk, 2 + kQk / 2, true},
    {GgmlType::kQ4_1, "Q4_1", kQk, 4 + kQk / 2, true},
    {GgmlType::kQ5_0, "Q5_0", kQk, 2 + 4 + kQk / 2, true},
    {GgmlType::kQ5_1, "Q5_1", kQk, 4 + 4 + kQk / 2, true},
    {GgmlType::kQ8_0, "Q8_0", kQk, 2 + kQk, true},
    {GgmlType::kQ8_1, "Q8_1", kQk, 8 + kQk, false},
    {GgmlType::kQ2_K, "Q2_K", kQkK, kQkK / 16 + kQkK / 4 + 4, false},
    {GgmlType::kQ3_K, "Q3_K", kQkK, kQkK / 8 + kQkK / 4 + 12 + 2, false},
    {GgmlType::kQ4_K, "Q4_K", kQkK, 4 + 12 + kQkK / 2, true},
    {GgmlType::kQ5_K, "Q5_K", kQkK, 4 + 12 + kQkK / 8 + kQkK / 2, true},
    {GgmlType::kQ6_K, "Q6_K", kQkK, kQkK / 2 + kQkK / 4 + kQkK / 16 + 2, true},
    {GgmlType::kQ8_K, "Q8_K", kQkK, 4 + kQkK + kQkK / 16 * 2, true},
    {GgmlType::kI8, "I8", 1, 1, false},
    {GgmlType::kI16, "I16", 1, 2, false},
    {GgmlType::kI32, "I32", 1, 4, false},
    {GgmlType::kI64, "I64", 1, 8, false},
    {GgmlType::kF64, "F64", 1, 8, false},
    {GgmlType::kBF16, "BF16", 1, 2, true},
};

uint16_t read_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

uint32_t read_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

float read_f16(const uint8_t* p) { return f16_to_f32(read_u16(p)); }

float read_f32(const uint8_t* p) {
  const uint32_t word = read_u32(p);
  float value;
  std::memcpy(&value, &word, 4);
  return value;
}

// The 12 scale bytes of Q4_K/Q5_K hold eight 6-bit scales and eight 6-bit mins: sub-blocks 0..3
// keep theirs in the low 6 bits of bytes 0..3 (scale) and 4..7 (min); sub-blocks 4..7 keep the
// low 4 bits in the nibbles of bytes 8..11 and the high 2 bits in the top bits of bytes 0..7.
void k_scale_min(const uint8_t* scales, int sub_block, int* scale, int* min) {
  if (sub_block < 4) {
    *scale = scales[sub_block] & 63;
    *min = scales[sub_block + 4] & 63;
  } else {
    *scale = (scales[sub_block + 4] & 0xF) | ((scales[sub_block - 4] >> 6) << 4);
    *min = (scales[sub_block + 4] >> 4) | ((scales[sub_block] >> 6) << 4);
  }
}

}  // namespace

const GgmlTypeInfo* find_ggml_type(uint32_t type_id) {
  for (const GgmlTypeInfo& info : kTypes) {
    if (static_cast<uint32_t>(info.type) == type_id) return &info;
  }
  return nullptr;
}

const GgmlTypeInfo& ggml_type_info(GgmlType type) {
  const GgmlTypeInfo* info = find_ggml_type(static_cast<uint32_t>(type));
  ADAMAS_CHECK(info != nullptr, "ggml type id ", static_cast<uint32_t>(type), " is not known");
  return *info;
}

void dequantize_f32_ref(const uint8_t* blocks, int64_t n_blocks, float* out) {
  for (int64_t i = 0; i < n_blocks; ++i) out[i] = read_f32(blocks + 4 * i);
}

void dequantize_f16_ref(const uint8_t* blocks, int64_t n_blocks, float* out) {
  for (int64_t i = 0; i < n_blocks; ++i) out[i] = read_f16(blocks + 2 * i);
}

void dequantize_bf16_ref(const uint8_t* blocks, int64_t n_blocks, float* out) {
  for (int64_t i = 0; i < n_blocks; ++i) out[i] = bf16_to_f32(read_u16(blocks + 2 * i));
}

// Q4_0: f16 d, then 16 bytes; byte j holds value j (low nibble) and value j+16 (high nibble),
// each an unsigned 4-bit q with x = d * (q - 8).
void dequantize_q4_0_ref(const uint8_t* blocks, int64_t n_blocks, float* out) {
  for (int64_t b = 0; b < n_blocks; ++b, blocks += 18, out += kQk) {
    const float d = read_f16(blocks);
    const uint8_t* qs = blocks + 2;
    for (int j = 0; j < 16; ++j) {
      out[j] = d * static_cast<float>((qs[j] & 0xF) - 8);
      out[j + 16] = d * static_cast<float>((qs[j] >> 4) - 8);
    }
  }
}

// Q4_1: f16 d, f16 m, then the Q4_0 nibble layout with x = d * q + m.
void dequantize_q4_1_ref(const uint8_t* blocks, int64_t n_blocks, float* out) {
  for (int64_t b = 0; b < n_blocks; ++b, blocks += 20, out += kQk) {
    const float d = read_f16(blocks);
    const float m = read_f16(blocks + 2);
    const uint8_t* qs = blocks + 4;
    for (int j = 0; j < 16; ++j) {
      out[j] = d * static_cast<float>(qs[j] & 0xF) + m;
      out[j + 16] = d * static_cast<float>(qs[j] >> 4) + m;
    }
  }
}

// Q5_0: f16 d, u32 qh (bit j is the fifth bit of value j), then the Q4_0 nibble layout;
// x = d * (q - 16).
void dequantize_q5_0_ref(const uint8_t* blocks, int64_t n_blocks, float* out) {
  for (int64_t b = 0; b < n_blocks; ++b, blocks += 22, out += kQk) {
    const float d = read_f16(blocks);
    const uint32_t qh = read_u32(blocks + 2);
    const uint8_t* qs = blocks + 6;
    for (int j = 0; j < 16; ++j) {
      const int low = (qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int high = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      out[j] = d * static_cast<float>(low - 16);
      out[j + 16] = d * static_cast<float>(high - 16);
    }
  }
}

// Q5_1: f16 d, f16 m, u32 qh, nibbles; x = d * q + m.
void dequantize_q5_1_ref(const uint8_t* blocks, int64_t n_blocks, float* out) {
  for (int64_t b = 0; b < n_blocks; ++b, blocks += 24, out += kQk) {
    const float d = read_f16(blocks);
    const float m = read_f16(blocks + 2);
    const uint32_t qh = read_u32(blocks + 4);
    const uint8_t* qs = blocks + 8;
    for (int j = 0; j < 16; ++j) {
      const int low = (qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int high = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      out[j] = d * static_cast<float>(low) + m;
      out[j + 16] = d * static_cast<float>(high) + m;
    }
  }
}

// Q8_0: f16 d, 32 signed bytes; x = d * q.
void dequantize_q8_0_ref(const uint8_t* blocks, int64_t n_blocks, float* out) {
  for (int64_t b = 0; b < n_blocks; ++b, blocks += 34, out += kQk) {
    const float d = read_f16(blocks);
    for (int j = 0; j < 32; ++j) out[j] = d * static_cast<float>(static_cast<int8_t>(blocks[2 + j]));
  }
}

// Q4_K: f16 d, f16 dmin, 12 scale bytes, 128 quant bytes. Eight sub-blocks of 32 values; each
// 32-byte run of quants holds two sub-blocks (low nibbles first); x = d*scale*q - dmin*min.
void dequantize_q4_k_ref(const uint8_t* blocks, int64_t n_blocks, float* out) {
  for (int64_t b = 0; b < n_blocks; ++b, blocks += 144, out += kQkK) {
    const float d = read_f16(blocks);
    const float dmin = read_f16(blocks + 2);
    const uint8_t* scales = blocks + 4;
    const uint8_t* qs = blocks + 16;
    for (int pair = 0; pair < 4; ++pair) {
      int scale_lo, min_lo, scale_hi, min_hi;
      k_scale_min(scales, 2 * pair, &scale_lo, &min_lo);
      k_scale_min(scales, 2 * pair + 1, &scale_hi, &min_hi);
      const uint8_t* q = qs + 32 * pair;
      float* y = out + 64 * pair;
      for (int l = 0; l < 32; ++l) {
        y[l] = d * static_cast<float>(scale_lo) * static_cast<float>(q[l] & 0xF) - dmin * static_cast<float>(min_lo);
        y[l + 32] = d * static_cast<float>(scale_hi) * static_cast<float>(q[l] >> 4) - dmin * static_cast<float>(min_hi);
      }
    }
  }
}

// Q5_K: Q4_K plus 32 bytes qh before the quants; bit 2*pair (low sub-block) and 2*pair+1 (high
// sub-block) of qh[l] is the fifth bit of the value at offset l.
void dequantize_q5_k_ref(const uint8_t* blocks, int64_t n_blocks, float* out) {
  for (int64_t b = 0; b < n_blocks; ++b, blocks += 176, out += kQkK) {
    const float d = read_f16(blocks);
    const float dmin = read_f16(blocks + 2);
    const uint8_t* scales = blocks + 4;
    const uint8_t* qh = blocks + 16;
    const uint8_t* qs = blocks + 48;
    for (int pair = 0; pair < 4; ++pair) {
      int scale_lo, min_lo, scale_hi, min_hi;
      k_scale_min(scales, 2 * pair, &scale_lo, &min_lo);
      k_scale_min(scales, 2 * pair + 1, &scale_hi, &min_hi);
      const uint8_t* q = qs + 32 * pair;
      float* y = out + 64 * pair;
      for (int l = 0; l < 32; ++l) {
        const int q_lo = (q[l] & 0xF) | (((qh[l] >> (2 * pair)) & 1) << 4);
        const int q_hi = (q[l] >> 4) | (((qh[l] >> (2 * pair + 1)) & 1) << 4);
        y[l] = d * static_cast<float>(scale_lo) * static_cast<float>(q_lo) - dmin * static_cast<float>(min_lo);
        y[l + 32] = d * static_cast<float>(scale_hi) * static_cast<float>(q_hi) - dmin * static_cast<float>(min_hi);
      }
    }
  }
}

// Q6_K: 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 signed scales (one per 16
// values), f16 d. Each half of 128 values uses 64 ql bytes and 32 qh bytes; value l + 32*k
// (k = 0..3) of a half takes the low (k = 0, 1) or high (k = 2, 3) nibble of ql[l + 32*(k&1)]
// and bits 2k..2k+1 of qh[l]; x = d * scale * (q - 32).
void dequantize_q6_k_ref(const uint8_t* blocks, int64_t n_blocks, float* out) {
  for (int64_t b = 0; b < n_blocks; ++b, blocks += 210, out += kQkK) {
    const uint8_t* ql = blocks;
    const uint8_t* qh = blocks + 128;
    const int8_t* scales = reinterpret_cast<const int8_t*>(blocks + 192);
    const float d = read_f16(blocks + 208);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql_half = ql + 64 * half;
      const uint8_t* qh_half = qh + 32 * half;
      const int8_t* scale_half = scales + 8 * half;
      float* y = out + 128 * half;
      for (int l = 0; l < 32; ++l) {
        const int group = l / 16;
        const int q0 = ((ql_half[l] & 0xF) | (((qh_half[l] >> 0) & 3) << 4)) - 32;
        const int q1 = ((ql_half[l + 32] & 0xF) | (((qh_half[l] >> 2) & 3) << 4)) - 32;
        const int q2 = ((ql_half[l] >> 4) | (((qh_half[l] >> 4) & 3) << 4)) - 32;
        const int q3 = ((ql_half[l + 32] >> 4) | (((qh_half[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * static_cast<float>(scale_half[group]) * static_cast<float>(q0);
        y[l + 32] = d * static_cast<float>(scale_half[group + 2]) * static_cast<float>(q1);
        y[l + 64] = d * static_cast<float>(scale_half[group + 4]) * static_cast<float>(q2);
        y[l + 96] = d * static_cast<float>(scale_half[group + 6]) * static_cast<float>(q3);
      }
    }
  }
}

// Q8_K: f32 d, 256 signed bytes, 16 int16 block sums (unused here); x = d * q.
void dequantize_q8_k_ref(const uint8_t* blocks, int64_t n_blocks, float* out) {
  for (int64_t b = 0; b < n_blocks; ++b, blocks += 292, out += kQkK) {
    const float d = read_f32(blocks);
    for (int j = 0; j < 256; ++j) out[j] = d * static_cast<float>(static_cast<int8_t>(blocks[4 + j]));
  }
}

void dequantize_ref(GgmlType type, const uint8_t* data, int64_t n_elements, float* out) {
  const GgmlTypeInfo& info = ggml_type_info(type);
  ADAMAS_CHECK(n_elements >= 0 && n_elements % info.block_elements == 0, "dequantize ", info.name,
               ": ", n_elements, " values, expected a multiple of the block size ", info.block_elements);
  const int64_t n_blocks = n_elements / info.block_elements;
  switch (type) {
    case GgmlType::kF32: return dequantize_f32_ref(data, n_blocks, out);
    case GgmlType::kF16: return dequantize_f16_ref(data, n_blocks, out);
    case GgmlType::kBF16: return dequantize_bf16_ref(data, n_blocks, out);
    case GgmlType::kQ4_0: return dequantize_q4_0_ref(data, n_blocks, out);
    case GgmlType::kQ4_1: return dequantize_q4_1_ref(data, n_blocks, out);
    case GgmlType::kQ5_0: return dequantize_q5_0_ref(data, n_blocks, out);
    case GgmlType::kQ5_1: return dequantize_q5_1_ref(data, n_blocks, out);
    case GgmlType::kQ8_0: return dequantize_q8_0_ref(data, n_blocks, out);
    case GgmlType::kQ4_K: return dequantize_q4_k_ref(data, n_blocks, out);
    case GgmlType::kQ5_K: return dequantize_q5_k_ref(data, n_blocks, out);
    case GgmlType::kQ6_K: return dequantize_q6_k_ref(data, n_blocks, out);
    case GgmlType::kQ8_K: return dequantize_q8_k_ref(data, n_blocks, out);
    default: break;
  }
  throw Error(detail::concat("dequantize: stored type ", info.name,
                             " is not supported, expected one of F32, F16, BF16, Q4_0, Q4_1, Q5_0, "
                             "Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, Q8_K"));
}

}  // namespace adamas
