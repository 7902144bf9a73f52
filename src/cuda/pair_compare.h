// Two 16-bit distances compared with a bound by one 32-bit subtraction (the one-head steps'
// compaction, step_phases.cuh compact_block). A word holds two distances d in [0, 0x7fff] (an L1
// of 2-bit codes is at most 3 * D = 768 at D = 256); for a bound b in [-1, 0x7fff], each half of
// (0x8000 + b) * 0x10001 - word is (0x8000 + b) - d, which lies in [0, 0xffff], so no borrow crosses
// into the other half, and its top bit is set exactly when d <= b. Plain C++ with host-device
// markers, so the CPU tests check it against comparisons (tests/cache/test_pair_compare.cpp).
#pragma once

#include <cstdint>

#include "cuda/host_device.h"

namespace adamas::cuda {

// Distances above every bound the compaction uses (a threshold is at most 3 * D + 1 = 769): slots past
// a span read as this.
constexpr uint32_t kPairPadding = 0x7fffu;

// Eight distances, element 2k in the low half of word k and 2k + 1 in its high half: element i's
// flag (d_i <= bound) at bit 2k + 16 * (i % 2), k = i / 2. Eight distinct bits, so a popcount counts
// them.
ADAMAS_HOST_DEVICE inline uint32_t at_or_below_flags(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3, int bound) {
  const uint32_t bias = (0x8000u + static_cast<uint32_t>(bound)) * 0x00010001u;
  const uint32_t top = 0x80008000u;
  return ((bias - w0) & top) >> 15 | ((bias - w1) & top) >> 13 | ((bias - w2) & top) >> 11 | ((bias - w3) & top) >> 9;
}

// at_or_below_flags' bits with element i at bit i.
ADAMAS_HOST_DEVICE inline uint32_t pair_flags_mask(uint32_t flags) { return (flags | flags >> 15) & 0xffu; }

}  // namespace adamas::cuda
