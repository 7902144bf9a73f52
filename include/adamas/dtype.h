// Element types of the KV cache and model weights, and scalar conversions between them.
// fp16 is IEEE binary16; bf16 is the top 16 bits of an IEEE binary32 (round to nearest even).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace adamas {

enum class DType : uint8_t { kF32, kF16, kBF16 };

inline size_t dtype_size_bytes(DType dtype) { return dtype == DType::kF32 ? 4 : 2; }
std::string dtype_name(DType dtype);
DType parse_dtype(const std::string& name);  // "f32"|"fp32"|"float32", "f16"|"fp16", "bf16"; throws

inline float bf16_to_f32(uint16_t bits) {
  uint32_t word = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &word, 4);
  return value;
}

inline uint16_t f32_to_bf16(float value) {
  uint32_t word;
  std::memcpy(&word, &value, 4);
  if ((word & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((word >> 16) | 0x40);  // quiet NaN
  word += 0x7fffu + ((word >> 16) & 1u);  // round to nearest even
  return static_cast<uint16_t>(word >> 16);
}

float f16_to_f32(uint16_t bits);
uint16_t f32_to_f16(float value);  // round to nearest even, overflow to inf

// Reads element `index` of a buffer of the given dtype as fp32.
inline float load_as_f32(const void* data, DType dtype, size_t index) {
  switch (dtype) {
    case DType::kF32: return static_cast<const float*>(data)[index];
    case DType::kF16: return f16_to_f32(static_cast<const uint16_t*>(data)[index]);
    default: return bf16_to_f32(static_cast<const uint16_t*>(data)[index]);
  }
}

// Writes `value` rounded to the dtype into element `index`.
inline void store_from_f32(void* data, DType dtype, size_t index, float value) {
  switch (dtype) {
    case DType::kF32: static_cast<float*>(data)[index] = value; break;
    case DType::kF16: static_cast<uint16_t*>(data)[index] = f32_to_f16(value); break;
    default: static_cast<uint16_t*>(data)[index] = f32_to_bf16(value); break;
  }
}

}  // namespace adamas
