// Shared device helpers: error checks, cache-dtype loads/stores, the exact L1 word distance and
// the ordered score keys of top_k.h, written for the device.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "adamas/dtype.h"
#include "adamas/error.h"

namespace adamas::cuda {

#define ADAMAS_CUDA_CHECK(call)                                                                          \
  do {                                                                                                   \
    const cudaError_t adamas_status_ = (call);                                                           \
    if (adamas_status_ != cudaSuccess)                                                                   \
      throw ::adamas::Error(::adamas::detail::concat("CUDA error in ", #call, " at ", __FILE__, ":",     \
                                                     __LINE__, ": ", cudaGetErrorString(adamas_status_))); \
  } while (0)

// After every launch: a bad configuration shows up here, not at the next synchronization.
#define ADAMAS_CUDA_CHECK_LAUNCH() ADAMAS_CUDA_CHECK(cudaGetLastError())

inline cudaStream_t to_stream(void* handle) { return static_cast<cudaStream_t>(handle); }

// Cache element types.
template <typename T> struct Elem;
template <> struct Elem<float> {
  static __device__ __forceinline__ float to_float(float x) { return x; }
  static __device__ __forceinline__ float from_float(float x) { return x; }
};
template <> struct Elem<__half> {
  static __device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
  static __device__ __forceinline__ __half from_float(float x) { return __float2half_rn(x); }
};
template <> struct Elem<__nv_bfloat16> {
  static __device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
  static __device__ __forceinline__ __nv_bfloat16 from_float(float x) { return __float2bfloat16_rn(x); }
};

// Exact L1 of two packed 64-bit words (32 coordinates); the derivation is in key_codes.h.
__device__ __forceinline__ int l1_distance_word_dev(uint64_t a, uint64_t b) {
  constexpr uint64_t kLowLanes = 0x5555555555555555ull;
  const uint64_t diff = a ^ b;
  const uint64_t low = diff & kLowLanes;
  const uint64_t high = (diff >> 1) & kLowLanes;
  const uint64_t correction = high & low & ~((a >> 1) ^ b);
  return 2 * __popcll(high & ~correction) + __popcll(low);
}

// High 32 bits of top_k.h's score_key: larger scores get smaller keys; -0 == +0.
__device__ __forceinline__ uint32_t score_order_key(float score) {
  if (score == 0.0f) score = 0.0f;
  const uint32_t bits = __float_as_uint(score);
  const uint32_t ascending = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return ~ascending;
}

// Row-level state of a top-k selection, written by the threshold search and read by the
// index-list writers (docs/cuda_kernels.md, "select").
struct RowSelectState {
  uint32_t threshold;    // key of the k-th smallest candidate (prefix during the radix passes)
  int32_t below;         // candidates with key < threshold
  int32_t ties_needed;   // candidates with key == threshold to take, the most recent ones
  int32_t take_all;      // k >= candidates: every candidate is kept
};

__host__ __device__ inline int ceil_div(long long a, long long b) { return static_cast<int>((a + b - 1) / b); }

}  // namespace adamas::cuda
