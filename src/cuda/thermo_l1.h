// The exact L1 of two 2-bit codes in thermometer form: a level v in 0..3 as the three bits
// (v >= 1, v >= 2, v >= 3), so |q - k| is the number of those bits that differ. The query side is
// built once per row; per 64-bit key word (32 coordinates) it takes three popcounts and about a
// dozen logic operations, where the XOR form (key_codes.h, l1_distance_word) takes four popcounts
// and more operations: the code scan is bound by issue as much as by memory (bench/probes/
// scan_probe.cu). Plain C++ with host-device markers, so the CPU tests check it against the
// reference. Packing (key_codes.h): coordinate i of a word in bits 2i (low) and 2i + 1 (high).
#pragma once

#include <cstdint>

#include "cuda/host_device.h"

namespace adamas::cuda {

ADAMAS_HOST_DEVICE inline int popcount32(uint32_t x) {
#if defined(__CUDA_ARCH__)
  return __popc(x);
#else
  return __builtin_popcount(x);
#endif
}

// One 32-bit half (16 coordinates): (v >= 1) = low | high at the even bits, (v >= 3) = low & high
// at the odd bits.
ADAMAS_HOST_DEVICE inline uint32_t thermo_levels_13(uint32_t half) {
  return ((half | (half >> 1)) & 0x55555555u) | ((half & (half << 1)) & 0xaaaaaaaau);
}
// (v >= 2) = the high bits of both halves in one word: the low half's at the odd bits, the high
// half's at the even bits.
ADAMAS_HOST_DEVICE inline uint32_t thermo_levels_2(uint32_t low_half, uint32_t high_half) {
  return (low_half & 0xaaaaaaaau) | ((high_half >> 1) & 0x55555555u);
}

// A query word (32 coordinates) in thermometer form.
struct ThermoWord {
  uint32_t levels_13[2];
  uint32_t levels_2;
};

ADAMAS_HOST_DEVICE inline ThermoWord thermo_word(uint64_t query) {
  const uint32_t low = static_cast<uint32_t>(query), high = static_cast<uint32_t>(query >> 32);
  return ThermoWord{{thermo_levels_13(low), thermo_levels_13(high)}, thermo_levels_2(low, high)};
}

// Exact L1 between the query word and a packed key word.
ADAMAS_HOST_DEVICE inline int l1_distance_thermo(uint64_t key, const ThermoWord& query) {
  const uint32_t low = static_cast<uint32_t>(key), high = static_cast<uint32_t>(key >> 32);
  return popcount32(thermo_levels_13(low) ^ query.levels_13[0]) + popcount32(thermo_levels_13(high) ^ query.levels_13[1]) +
         popcount32(thermo_levels_2(low, high) ^ query.levels_2);
}

}  // namespace adamas::cuda
