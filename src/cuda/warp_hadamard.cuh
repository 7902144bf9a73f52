// The Hadamard butterfly of one vector by one warp, in registers, bit for bit as hadamard.h computes
// it (spans 1, 2, 4, ..., each (x + y, x - y) rounded once; no scale). Lane l holds the D/32
// consecutive coordinates [l * D/32, (l + 1) * D/32): spans below D/32 run inside a lane, the others
// across lanes with shuffles. Used where a kernel needs a rotated query without a block barrier.
#pragma once

namespace adamas::cuda {

template <int D>
constexpr int warp_hadamard_per_lane() {
  static_assert(D % 32 == 0 && (D & (D - 1)) == 0, "a power of two, at least 32");
  return D / 32;
}

// This lane's coordinates of x (D floats in global or shared memory; the whole warp reads them).
template <int D>
__device__ __forceinline__ void warp_hadamard_load(const float* x, float (&v)[warp_hadamard_per_lane<D>()]) {
  constexpr int kPerLane = warp_hadamard_per_lane<D>();
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int k = 0; k < kPerLane; ++k) v[k] = x[lane * kPerLane + k];
}

// Rotates the vector the warp holds (warp_hadamard_load's layout) in place.
template <int D>
__device__ __forceinline__ void warp_hadamard_rotate(float (&v)[warp_hadamard_per_lane<D>()]) {
  constexpr int kPerLane = warp_hadamard_per_lane<D>();
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int span = 1; span < D; span *= 2) {
    if (span < kPerLane) {
#pragma unroll
      for (int k = 0; k < kPerLane; ++k)
        if ((k & span) == 0) {
          const float lo = v[k], hi = v[k + span];
          v[k] = __fadd_rn(lo, hi);
          v[k + span] = __fsub_rn(lo, hi);
        }
    } else {
      const int mask = span / kPerLane;
      const bool upper = lane & mask;
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) {
        const float other = __shfl_xor_sync(0xffffffffu, v[k], mask);
        // Lower lane holds x[i], upper lane x[i + span]: (x + y, x - y) as on the CPU.
        v[k] = upper ? __fsub_rn(other, v[k]) : __fadd_rn(v[k], other);
      }
    }
  }
}

// x: D floats in global or shared memory (the whole warp reads them); v: this lane's coordinates.
template <int D>
__device__ __forceinline__ void warp_hadamard(const float* x, float (&v)[warp_hadamard_per_lane<D>()]) {
  warp_hadamard_load<D>(x, v);
  warp_hadamard_rotate<D>(v);
}

}  // namespace adamas::cuda
