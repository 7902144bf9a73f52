#include "adamas/hadamard.h"

#include <cmath>

#include "adamas/error.h"
#include "cpu/cpu_features.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace adamas {

void check_head_dim(int head_dim) {
  ADAMAS_CHECK(head_dim >= 4 && head_dim <= kMaxHeadDim && (head_dim & (head_dim - 1)) == 0,
               "head_dim ", head_dim, " is not supported: expected a power of two in [4, ", kMaxHeadDim,
               "] (the Hadamard transform and the 2-bit code packing need it)");
}

float hadamard_scale(int head_dim) { return static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim))); }

void hadamard_transform_ref(float* x, int head_dim) {
  check_head_dim(head_dim);
  for (int span = 1; span < head_dim; span *= 2) {
    for (int block = 0; block < head_dim; block += 2 * span) {
      for (int i = block; i < block + span; ++i) {
        const float a = x[i], b = x[i + span];
        x[i] = a + b;
        x[i + span] = a - b;
      }
    }
  }
  const float scale = hadamard_scale(head_dim);
  for (int i = 0; i < head_dim; ++i) x[i] *= scale;
}

#if defined(__x86_64__)
// Spans 1, 2, 4 inside each 8-float register, then whole-register butterflies: the same
// additions in the same pairs as the reference, so the result is identical bit for bit.
__attribute__((target("avx2,fma,f16c"))) static void hadamard_transform_avx2(float* x, int head_dim) {
  for (int base = 0; base < head_dim; base += 8) {
    __m256 v = _mm256_loadu_ps(x + base);
    // span 1: lanes (0,1),(2,3),...
    __m256 swapped = _mm256_permute_ps(v, 0xB1);
    __m256 sum = _mm256_add_ps(v, swapped), diff = _mm256_sub_ps(swapped, v);
    v = _mm256_blend_ps(sum, diff, 0xAA);  // odd lanes take a - b with a the even lane
    // span 2: lanes (0,2),(1,3),...
    swapped = _mm256_permute_ps(v, 0x4E);
    sum = _mm256_add_ps(v, swapped);
    diff = _mm256_sub_ps(swapped, v);
    v = _mm256_blend_ps(sum, diff, 0xCC);
    // span 4: the two 128-bit halves
    swapped = _mm256_permute2f128_ps(v, v, 0x01);
    sum = _mm256_add_ps(v, swapped);
    diff = _mm256_sub_ps(swapped, v);
    v = _mm256_blend_ps(sum, diff, 0xF0);
    _mm256_storeu_ps(x + base, v);
  }
  for (int span = 8; span < head_dim; span *= 2) {
    for (int block = 0; block < head_dim; block += 2 * span) {
      for (int i = block; i < block + span; i += 8) {
        const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + span);
        _mm256_storeu_ps(x + i, _mm256_add_ps(a, b));
        _mm256_storeu_ps(x + i + span, _mm256_sub_ps(a, b));
      }
    }
  }
  const __m256 scale = _mm256_set1_ps(hadamard_scale(head_dim));
  for (int i = 0; i < head_dim; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), scale));
}
#endif

void hadamard_transform(float* x, int head_dim) {
  check_head_dim(head_dim);
#if defined(__x86_64__)
  if (head_dim >= 8 && vector_paths_enabled()) {
    hadamard_transform_avx2(x, head_dim);
    return;
  }
#endif
  hadamard_transform_ref(x, head_dim);
}

std::vector<float> hadamard_matrix(int head_dim) {
  check_head_dim(head_dim);
  std::vector<float> matrix(static_cast<size_t>(head_dim) * head_dim);
  const float scale = hadamard_scale(head_dim);
  for (int i = 0; i < head_dim; ++i)
    for (int j = 0; j < head_dim; ++j)
      matrix[static_cast<size_t>(i) * head_dim + j] = (__builtin_popcount(i & j) & 1) ? -scale : scale;
  return matrix;
}

}  // namespace adamas
