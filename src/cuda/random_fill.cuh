// Reproducible normal samples on the device, for benchmark inputs and random weights:
// Box-Muller on a counter-based hash (splitmix64 of seed and index), so a seed gives the same
// values whatever the launch shape.
#pragma once

#include "cuda/cuda_common.cuh"

namespace adamas::cuda {

__device__ __forceinline__ uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// out[i] = mean + stddev * N(0, 1), stored as T (float, __half or __nv_bfloat16).
template <typename T>
__global__ void fill_normal_kernel(T* out, size_t count, uint64_t seed, float stddev, float mean) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const uint64_t bits = splitmix64(seed * 0x100000001b3ull + i);
    const float u1 = (static_cast<float>(bits >> 40) + 1.0f) * (1.0f / 16777217.0f);
    const float u2 = static_cast<float>((bits >> 16) & 0xffffff) * (1.0f / 16777216.0f);
    out[i] = Elem<T>::from_float(mean + stddev * sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2));
  }
}

template <typename T>
void fill_normal(T* out, size_t count, uint64_t seed, float stddev, cudaStream_t stream, float mean = 0.0f) {
  fill_normal_kernel<T><<<1024, 256, 0, stream>>>(out, count, seed, stddev, mean);
  ADAMAS_CUDA_CHECK_LAUNCH();
}

}  // namespace adamas::cuda
