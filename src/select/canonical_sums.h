// Float scores that must be bit-identical across backends (oracle q.k, Quest page bounds) are
// summed in one fixed order: eight partial sums, lane j taking coordinates i = j (mod 8) in
// increasing i, each product rounded to fp32 before it is added (no FMA); then
// ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)). An 8-lane vector unit does exactly this, and
// the scalar version below is the reference the vector and GPU versions must match.
#pragma once

#include "adamas/dtype.h"

namespace adamas {

inline float reduce_lanes(const float* lane) {
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// q . k with k read from a cache row of `dtype` (widened to fp32 first).
inline float canonical_dot(const float* q, const void* key_row, DType dtype, int head_dim) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < head_dim; ++i) {
    const float product = q[i] * load_as_f32(key_row, dtype, static_cast<size_t>(i));
    lane[i & 7] += product;
  }
  return reduce_lanes(lane);
}

// Quest's page bound sum_i max(q_i * min_i, q_i * max_i): never below q.k of any key in the page.
inline float canonical_page_bound(const float* q, const float* page_min, const float* page_max, int head_dim) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < head_dim; ++i) {
    const float low = q[i] * page_min[i], high = q[i] * page_max[i];
    lane[i & 7] += low > high ? low : high;
  }
  return reduce_lanes(lane);
}

}  // namespace adamas
