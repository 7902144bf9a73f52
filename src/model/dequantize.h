// ggml tensor types as stored in GGUF files: block geometry of each type and scalar reference
// dequantization to fp32. Block layouts follow ggml's definitions (ggml-common.h): each block
// holds `block_elements` consecutive values of one row in `block_bytes` little-endian bytes.
#pragma once

#include <cstdint>
#include <string>

namespace adamas {

// The numeric ids GGUF stores in a tensor info's type field.
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
};

struct GgmlTypeInfo {
  GgmlType type;
  const char* name;        // "Q4_1", as llama.cpp prints it
  int64_t block_elements;  // values per block; rows must hold a whole number of blocks
  int64_t block_bytes;     // bytes per block
  bool dequantizable;      // whether dequantize_ref supports it
};

// Geometry of a type id read from a file, or nullptr for ids this reader does not know
// (the IQ* types, removed ids, garbage).
const GgmlTypeInfo* find_ggml_type(uint32_t type_id);
const GgmlTypeInfo& ggml_type_info(GgmlType type);

// Bytes of a row of `n_elements` values; n_elements must be a multiple of block_elements.
inline int64_t ggml_row_bytes(const GgmlTypeInfo& info, int64_t n_elements) {
  return n_elements / info.block_elements * info.block_bytes;
}

// Scalar references, one per type: `n_blocks` consecutive blocks at `blocks` become
// n_blocks * block_elements floats at `out`.
void dequantize_f32_ref(const uint8_t* blocks, int64_t n_blocks, float* out);
void dequantize_f16_ref(const uint8_t* blocks, int64_t n_blocks, float* out);
void dequantize_bf16_ref(const uint8_t* blocks, int64_t n_blocks, float* out);
void dequantize_q4_0_ref(const uint8_t* blocks, int64_t n_blocks, float* out);
void dequantize_q4_1_ref(const uint8_t* blocks, int64_t n_blocks, float* out);
void dequantize_q5_0_ref(const uint8_t* blocks, int64_t n_blocks, float* out);
void dequantize_q5_1_ref(const uint8_t* blocks, int64_t n_blocks, float* out);
void dequantize_q8_0_ref(const uint8_t* blocks, int64_t n_blocks, float* out);
void dequantize_q4_k_ref(const uint8_t* blocks, int64_t n_blocks, float* out);
void dequantize_q5_k_ref(const uint8_t* blocks, int64_t n_blocks, float* out);
void dequantize_q6_k_ref(const uint8_t* blocks, int64_t n_blocks, float* out);
void dequantize_q8_k_ref(const uint8_t* blocks, int64_t n_blocks, float* out);

// Dispatches on `type`: `n_elements` values (a multiple of the block size) from `data` to `out`.
// Throws adamas::Error for a type that is not dequantizable or a partial block.
void dequantize_ref(GgmlType type, const uint8_t* data, int64_t n_elements, float* out);

}  // namespace adamas
