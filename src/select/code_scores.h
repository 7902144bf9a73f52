// Scalar definitions of the adamas estimators on packed codes (code_book.h layouts). The
// reference selector uses them directly; fast paths must reproduce them exactly (integers for
// the distances; the asymmetric score in the fixed summation order below).
#pragma once

#include <cstdint>
#include <cstdlib>

#include "adamas/code_book.h"
#include "adamas/selector.h"
#include "select/canonical_sums.h"

namespace adamas {

inline int max_code_distance(Estimator estimator, int bits, int head_dim) {
  const int top = (1 << bits) - 1;
  switch (estimator) {
    case Estimator::kL2: return top * top * head_dim;
    case Estimator::kHamming: return head_dim;
    default: return top * head_dim;
  }
}

inline int code_distance_ref(Estimator estimator, const uint8_t* a, const uint8_t* b, int bits, int head_dim) {
  const int half = 1 << (bits - 1);
  int total = 0;
  for (int i = 0; i < head_dim; ++i) {
    const int x = code_level(a, bits, i), y = code_level(b, bits, i);
    switch (estimator) {
      case Estimator::kL2: total += (x - y) * (x - y); break;
      case Estimator::kHamming: total += (x >= half) != (y >= half); break;
      default: total += std::abs(x - y); break;
    }
  }
  return total;
}

// Asymmetric score of a 2-bit key code: p_i = q'_i * centroid[c_i] (fp32), grouped by code
// byte as s_b = (p_4b + p_4b+1) + (p_4b+2 + p_4b+3), then the bytes summed in the canonical
// 8-lane order (lane b mod 8). A per-byte lookup table reproduces every s_b bit for bit.
inline float asymmetric_score_ref(const float* rotated_query, const uint8_t* key_code, const CodeBook& book,
                                  int head_dim) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int b = 0; b < head_dim / 4; ++b) {
    float p[4];
    for (int j = 0; j < 4; ++j) p[j] = rotated_query[4 * b + j] * book.centroids[code_level(key_code, 2, 4 * b + j)];
    lane[b & 7] += (p[0] + p[1]) + (p[2] + p[3]);
  }
  return reduce_lanes(lane);
}

}  // namespace adamas
