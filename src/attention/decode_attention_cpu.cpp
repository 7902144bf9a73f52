// Fast CPU decode attention. One work unit is a (sequence, KV head) whose query heads share an
// index list (or a (sequence, query head) under per-query-head selection). Positions are taken
// in blocks of kBlock: scores for every head of the unit, one online-softmax rescale per block,
// then each V row is widened to fp32 once and accumulated into every head.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "adamas/attention.h"
#include "attention/attention_common.h"
#include "cpu/cpu_features.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace adamas {

namespace {

constexpr int kBlock = 64;

void widen_row_scalar(const void* row, DType dtype, int d, float* out) {
  for (int i = 0; i < d; ++i) out[i] = load_as_f32(row, dtype, static_cast<size_t>(i));
}

float dot_scalar(const float* a, const float* b, int d) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < d; ++i) lane[i & 7] += a[i] * b[i];
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma,f16c"))) void widen_row_avx2(const void* row, DType dtype, int d, float* out) {
  for (int i = 0; i < d; i += 8) {
    __m256 v;
    if (dtype == DType::kF32) {
      v = _mm256_loadu_ps(static_cast<const float*>(row) + i);
    } else {
      const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + i));
      v = dtype == DType::kF16 ? _mm256_cvtph_ps(bits)
                               : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
    }
    _mm256_storeu_ps(out + i, v);
  }
}

__attribute__((target("avx2,fma,f16c"))) float dot_avx2(const float* a, const float* b, int d) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= d; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i < d; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  const __m256 sum = _mm256_add_ps(acc0, acc1);
  __m128 half = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
  half = _mm_add_ps(half, _mm_movehl_ps(half, half));
  half = _mm_add_ss(half, _mm_movehdup_ps(half));
  return _mm_cvtss_f32(half);
}

__attribute__((target("avx2,fma,f16c"))) void axpy_avx2(float* acc, float weight, const float* row, int d) {
  const __m256 w = _mm256_set1_ps(weight);
  for (int i = 0; i < d; i += 8) _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(w, _mm256_loadu_ps(row + i), _mm256_loadu_ps(acc + i)));
}

// exp(x) for x <= 0, eight at a time: x = n ln2 + r with |r| <= ln2/2, a degree-6 Taylor
// polynomial for e^r (relative error < 2e-7 there), and 2^n built in the exponent bits.
__attribute__((target("avx2,fma,f16c"))) __m256 exp_avx2(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);  // ln2 split in two for accuracy
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 720);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(exponent));
}

// weights[i] = exp(weights[i] - max), returns their sum.
__attribute__((target("avx2,fma,f16c"))) float exp_shift_sum_avx2(float* weights, int count, float max) {
  const __m256 shift = _mm256_set1_ps(max);
  __m256 sum = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(weights + i), shift));
    _mm256_storeu_ps(weights + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  alignas(32) float lane[8];
  _mm256_store_ps(lane, sum);
  float total = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
  for (; i < count; ++i) {
    weights[i] = std::exp(weights[i] - max);
    total += weights[i];
  }
  return total;
}
#endif

struct RowOps {
  void (*widen)(const void*, DType, int, float*);
  float (*dot)(const float*, const float*, int);
};

// Attends `heads` query heads (first_head ...) to `count` positions of (seq, kv_head), taken from
// `positions` or, when it is null, 0..count-1.
void attend_unit(const PagedKvView& view, int seq, int kv_head, int first_head, int heads, int num_q_heads,
                 const int32_t* positions, int count, const float* q, float* out, float scale, bool vectorized) {
  const int d = view.head_dim;
  const size_t element_bytes = dtype_size_bytes(view.dtype);
  thread_local std::vector<float> buffer;
  buffer.resize(static_cast<size_t>(heads) * (d + kBlock) + d + 2 * static_cast<size_t>(heads));
  float* acc = buffer.data();                                   // [heads][d]
  float* scores = acc + static_cast<size_t>(heads) * d;         // [heads][kBlock]
  float* row = scores + static_cast<size_t>(heads) * kBlock;    // [d]
  float* running_max = row + d;                                 // [heads]
  float* running_sum = running_max + heads;                     // [heads]
  std::fill(acc, acc + static_cast<size_t>(heads) * d, 0.0f);
  std::fill(running_max, running_max + heads, -INFINITY);
  std::fill(running_sum, running_sum + heads, 0.0f);
  const float* query = q + (static_cast<size_t>(seq) * num_q_heads + first_head) * d;
#if defined(__x86_64__)
  const RowOps ops = vectorized ? RowOps{widen_row_avx2, dot_avx2} : RowOps{widen_row_scalar, dot_scalar};
#else
  const RowOps ops{widen_row_scalar, dot_scalar};
#endif
  auto position_at = [&](int i) { return positions ? positions[i] : i; };
  // Selected rows are scattered: fetch a few positions ahead, the hardware prefetcher cannot.
  constexpr int kPrefetchDistance = 4;
  const size_t row_bytes = static_cast<size_t>(d) * element_bytes;
  auto prefetch_row = [&](const void* base, int i) {
    if (!positions || i >= count) return;
    const char* row_start = static_cast<const char*>(base) + view.kv_offset(seq, kv_head, positions[i]) * element_bytes;
    for (size_t line = 0; line < row_bytes; line += 64) __builtin_prefetch(row_start + line);
  };

  for (int block = 0; block < count; block += kBlock) {
    const int length = std::min(kBlock, count - block);
    for (int i = 0; i < length; ++i) {
      prefetch_row(view.keys, block + i + kPrefetchDistance);
      prefetch_row(view.values, block + i + kPrefetchDistance);
      const size_t offset = view.kv_offset(seq, kv_head, position_at(block + i));
      ops.widen(static_cast<const uint8_t*>(view.keys) + offset * element_bytes, view.dtype, d, row);
      for (int j = 0; j < heads; ++j) scores[j * kBlock + i] = ops.dot(query + static_cast<size_t>(j) * d, row, d) * scale;
    }
    for (int j = 0; j < heads; ++j) {
      float* s = scores + j * kBlock;
      const float block_max = *std::max_element(s, s + length);
      const float new_max = std::max(running_max[j], block_max);
      const float correction = std::exp(running_max[j] - new_max);  // 0 on the first block
      running_max[j] = new_max;
      if (correction != 1.0f) {
        running_sum[j] *= correction;
        for (int c = 0; c < d; ++c) acc[static_cast<size_t>(j) * d + c] *= correction;
      }
#if defined(__x86_64__)
      if (vectorized) {
        running_sum[j] += exp_shift_sum_avx2(s, length, new_max);
        continue;
      }
#endif
      for (int i = 0; i < length; ++i) {
        s[i] = std::exp(s[i] - new_max);
        running_sum[j] += s[i];
      }
    }
    for (int i = 0; i < length; ++i) {
      const size_t offset = view.kv_offset(seq, kv_head, position_at(block + i));
      ops.widen(static_cast<const uint8_t*>(view.values) + offset * element_bytes, view.dtype, d, row);
      for (int j = 0; j < heads; ++j) {
        float* a = acc + static_cast<size_t>(j) * d;
        const float w = scores[j * kBlock + i];
#if defined(__x86_64__)
        if (vectorized) {
          axpy_avx2(a, w, row, d);
          continue;
        }
#endif
        for (int c = 0; c < d; ++c) a[c] += w * row[c];
      }
    }
  }
  for (int j = 0; j < heads; ++j) {
    float* result = out + (static_cast<size_t>(seq) * num_q_heads + first_head + j) * d;
    const float inverse = 1.0f / running_sum[j];
    for (int c = 0; c < d; ++c) result[c] = acc[static_cast<size_t>(j) * d + c] * inverse;
  }
}

}  // namespace

void decode_attention_cpu(const PagedKvView& view, const float* q, int num_q_heads, const TokenSelection* selection,
                          float* out, float scale) {
  check_decode_inputs(view, q, num_q_heads);
  check_selection_matches(view, num_q_heads, selection);
  const int group = num_q_heads / view.num_kv_heads;
  if (scale == 0.0f) scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(view.head_dim)));
  const bool per_query_head = selection && selection->per_query_head;
  const int rows = per_query_head ? num_q_heads : view.num_kv_heads;
  const int units = view.batch * rows;
  const bool vectorized = view.head_dim >= 8 && vector_paths_enabled();
#pragma omp parallel for schedule(dynamic, 1)
  for (int unit = 0; unit < units; ++unit) {
    const int seq = unit / rows, r = unit % rows;
    const int kv_head = per_query_head ? r / group : r;
    const int first_head = per_query_head ? r : r * group;
    const int heads = per_query_head ? 1 : group;
    if (!selection || selection->dense[seq]) {
      attend_unit(view, seq, kv_head, first_head, heads, num_q_heads, nullptr, view.seq_lens[seq], q, out, scale, vectorized);
    } else {
      attend_unit(view, seq, kv_head, first_head, heads, num_q_heads, selection->row(seq, r), selection->count(seq, r), q,
                  out, scale, vectorized);
    }
  }
}

}  // namespace adamas
