// Generalized key sketches for the estimator study (issue 8): bits per coordinate (1, 2 or 3),
// Hadamard rotation on or off, bucket thresholds, and per-bucket centroids for the asymmetric
// estimator; plus the calibration rule that fits thresholds and centroids to a model's keys.
// The paper's method is CodeBook::paper(): 2 bits, Hadamard, thresholds (-10, 0, 10).
//
// Storage: 1-bit codes pack 8 coordinates a byte (bit i % 8 of byte i / 8); 2-bit codes use the
// key_codes.h layout; 3-bit codes are stored in nibbles (coordinate i in nibble i % 2 of byte i / 2),
// i.e. 4 bits of storage for 3 bits of information (an ablation, not a memory-optimal format).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "adamas/key_codes.h"

namespace adamas {

struct CodeBook {
  int bits = 2;
  bool hadamard = true;
  std::array<float, 7> thresholds{-10.0f, 0.0f, 10.0f, 0, 0, 0, 0};  // first levels()-1 are used
  std::array<float, 8> centroids{-15.0f, -5.0f, 5.0f, 15.0f, 0, 0, 0, 0};  // first levels() are used

  int levels() const { return 1 << bits; }
  static CodeBook paper();                                  // 2 bits, Hadamard, (-10, 0, 10)
  static CodeBook from_thresholds(const Thresholds& thresholds);  // 2 bits, Hadamard
  Thresholds two_bit_thresholds() const;                    // requires bits == 2
  std::string describe() const;
};

// Throws adamas::Error unless bits is 1..3, thresholds finite and strictly increasing,
// centroids finite.
void check_code_book(const CodeBook& book);

inline int code_storage_bits(int bits) { return bits == 3 ? 4 : bits; }
inline int code_stride_bytes(int bits, int head_dim) { return head_dim * code_storage_bits(bits) / 8; }

inline int bucket_of(float x, const CodeBook& book) {
  int level = 0;
  for (int k = 0; k < book.levels() - 1; ++k) level += x > book.thresholds[k];
  return level;
}

// Level of coordinate i of a packed code.
inline int code_level(const uint8_t* code, int bits, int i) {
  switch (bits) {
    case 1: return (code[i >> 3] >> (i & 7)) & 1;
    case 2: return (code[i >> 2] >> (2 * (i & 3))) & 3;
    default: return (code[i >> 1] >> (4 * (i & 1))) & 15;
  }
}

// Code of a vector: rotate (if book.hadamard) a copy of `x` (post-RoPE q or stored k), bucketize,
// pack into code_stride_bytes(book.bits, head_dim) bytes.
void encode_with_code_book(const float* x, int head_dim, const CodeBook& book, uint8_t* code);

// Fits thresholds at the given quantiles of `values` (pooled transformed key coordinates), each
// midway between the two order statistics around its quantile so that no value lies on one, and
// sets each bucket's centroid to the mean of the values that fall in it. `quantiles` must be
// strictly increasing in (0, 1), one per threshold (levels - 1 of them).
CodeBook calibrate_code_book(std::vector<float> values, int bits, bool hadamard, const std::vector<double>& quantiles);

// Equal-mass quantiles for `bits` (1: {0.5}; 2: {.25,.5,.75}; 3: {1/8..7/8}).
std::vector<double> equal_mass_quantiles(int bits);

}  // namespace adamas
