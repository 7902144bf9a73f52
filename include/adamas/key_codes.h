// 2-bit codes of Hadamard-rotated vectors, and the exact Manhattan (L1) distance between them.
//
// Code of coordinate x: [x > t0] + [x > t1] + [x > t2] in {0,1,2,3} (torch.bucketize, right=False).
// Packing: coordinate i lives in byte i/4 at bits 2*(i%4) (low bit) and 2*(i%4)+1 (high bit), so a
// vector takes head_dim/4 bytes (32 B at d = 128) and byte order equals coordinate order.
#pragma once

#include <cstddef>
#include <cstdint>

namespace adamas {

struct Thresholds {
  float t0 = -10.0f, t1 = 0.0f, t2 = 10.0f;  // the paper's constants for Llama-2-7B scale
};

// Throws adamas::Error unless all three are finite and t0 < t1 < t2.
void check_thresholds(const Thresholds& thresholds);

inline int code_bytes(int head_dim) { return head_dim / 4; }

inline uint8_t bucketize(float x, const Thresholds& t) {
  return static_cast<uint8_t>((x > t.t0) + (x > t.t1) + (x > t.t2));
}

// Packs the codes of `rotated` (head_dim floats, already Hadamard-transformed) into
// code_bytes(head_dim) bytes at `code`.
void encode_code_ref(const float* rotated, int head_dim, const Thresholds& thresholds, uint8_t* code);
void encode_code(const float* rotated, int head_dim, const Thresholds& thresholds, uint8_t* code);

// Unpacked code of coordinate i.
inline int code_at(const uint8_t* code, int i) { return (code[i >> 2] >> (2 * (i & 3))) & 3; }

// sum_i |a_i - b_i| over head_dim coordinates, in [0, 3 * head_dim].
int l1_distance_ref(const uint8_t* a, const uint8_t* b, int head_dim);

// Exact L1 of two packed 64-bit words (32 coordinates) with three popcounts. With X = a ^ b, the
// low-bit lanes L and high-bit lanes H of X: |a - b| = 2h + l, except when both bits differ and
// the larger code's low bit is 0 (pairs (1,2) and (2,1)), where it is 1 instead of 3. The larger
// code is the one with the high bit set, and its low bit is 0 exactly when a_hi == b_lo; those
// lanes are C = H & L & ~(a_hi ^ b_lo), and the distance is 2 * |H & ~C| + |L|.
inline int l1_distance_word(uint64_t a, uint64_t b) {
  constexpr uint64_t kLowLanes = 0x5555555555555555ull;
  const uint64_t diff = a ^ b;
  const uint64_t low = diff & kLowLanes;
  const uint64_t high = (diff >> 1) & kLowLanes;
  const uint64_t correction = high & low & ~((a >> 1) ^ b);
  return 2 * __builtin_popcountll(high & ~correction) + __builtin_popcountll(low);
}

// Bit-parallel exact L1, one 64-bit word (32 coordinates) at a time; for head_dim < 32 the
// single partial word is zero-padded in both codes, which adds 0.
int l1_distance(const uint8_t* a, const uint8_t* b, int head_dim);

}  // namespace adamas
