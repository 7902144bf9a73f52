// The probes' random bf16 weights (bench/probes/*.cu): a hash of the index and seed, so that every
// probe fills the same way without host copies.
#pragma once

#include <cstddef>
#include <cstdint>

// w[i] for i < n: bf16 in [-1/64, 1/64): sign, exponent 121..122, random mantissa.
__global__ void fill_bf16_kernel(uint16_t* w, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    uint32_t h = static_cast<uint32_t>(i) * 2654435761u ^ seed;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    w[i] = static_cast<uint16_t>(((h >> 31) << 15) | ((121u + ((h >> 7) & 1u)) << 7) | (h & 0x7fu));
  }
}
