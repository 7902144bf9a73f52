// Division by the cache's page size without a divide instruction sequence: a position's page and
// its offset in the page with one multiply-high and a shift. The scans compute both for every
// token they read; the general integer division (about 20 instructions on the GPU) was a fifth of
// the code scan's loop (bench/results/2026-11-29-s14). Plain C++ with host-device markers, so the
// CPU tests check it exhaustively.
#pragma once

#include <cstdint>

#include "cuda/host_device.h"

namespace adamas::cuda {

// For a divisor d >= 1 with s = ceil(log2 d) and m = ceil(2^(31+s) / d) (< 2^32):
//   floor(n / d) = floor(n * m / 2^(31+s)) = umulhi(2n, m) >> s   for every 0 <= n < 2^31.
// Why exact: m * d = 2^(31+s) + e with 0 <= e < d <= 2^s, so n * m / 2^(31+s) = n / d + n * e /
// (d * 2^(31+s)), and the added term is below 1 / d because n * e < 2^31 * 2^s; n / d's fraction
// is at most (d - 1) / d, so the floor does not move.
struct PageDivisor {  // default: the divisor 1 (page_divisor(1))
  int size = 1;                   // d
  uint32_t multiplier = 1u << 31;  // m
  int shift = 0;                  // s

  ADAMAS_HOST_DEVICE int page(int position) const {
    const uint64_t product = static_cast<uint64_t>(2u * static_cast<uint32_t>(position)) * multiplier;
    return static_cast<int>(static_cast<uint32_t>(product >> 32) >> shift);
  }
  ADAMAS_HOST_DEVICE int offset(int position) const { return position - page(position) * size; }
};

// `size` in [1, 2^30].
inline PageDivisor page_divisor(int size) {
  PageDivisor d;
  d.size = size;
  while ((1ll << d.shift) < size) ++d.shift;
  const uint64_t numerator = 1ull << (31 + d.shift);
  d.multiplier = static_cast<uint32_t>((numerator + static_cast<uint64_t>(size) - 1) / static_cast<uint64_t>(size));
  return d;
}

}  // namespace adamas::cuda
