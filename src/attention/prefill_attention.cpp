#include "attention/prefill_attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "adamas/error.h"
#include "cpu/cpu_features.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace adamas {

namespace {

// 16 query tokens x group heads share each widened key block of 64 positions: the K/V widening
// (the only per-element dtype work) is amortized over >= 16 rows, and a 64 x 128 fp32 block
// pair (64 KiB) stays in L2.
constexpr int kQueryBlock = 16;
constexpr int kKeyBlock = 64;

void check_prefill_inputs(const PagedKvView& view, int seq, int first, int count, const float* q, int num_q_heads,
                          const float* out) {
  ADAMAS_CHECK(seq >= 0 && seq < view.batch, "prefill attention: sequence ", seq, " out of range [0, ", view.batch, ")");
  ADAMAS_CHECK(num_q_heads > 0 && view.num_kv_heads > 0 && num_q_heads % view.num_kv_heads == 0,
               "prefill attention: ", num_q_heads, " query heads is not a multiple of ", view.num_kv_heads, " KV heads");
  ADAMAS_CHECK(count >= 0 && first >= 0 && first + count <= view.seq_lens[seq], "prefill attention: positions [", first,
               ", ", first + count, ") are not all in the cache (sequence length ", view.seq_lens[seq], ")");
  ADAMAS_CHECK(count == 0 || (q != nullptr && out != nullptr), "prefill attention: null q or out");
}

float dot_scalar(const float* a, const float* b, int d) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < d; ++i) lane[i & 7] += a[i] * b[i];
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

void axpy_scalar(float* acc, float weight, const float* row, int d) {
  for (int i = 0; i < d; ++i) acc[i] += weight * row[i];
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const float* b, int d) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= d; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= d; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  const __m256 sum = _mm256_add_ps(acc0, acc1);
  __m128 half = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
  half = _mm_add_ps(half, _mm_movehl_ps(half, half));
  half = _mm_add_ss(half, _mm_movehdup_ps(half));
  float result = _mm_cvtss_f32(half);
  for (; i < d; ++i) result += a[i] * b[i];  // head_dim 4: below one vector
  return result;
}

__attribute__((target("avx2,fma"))) void axpy_avx2(float* acc, float weight, const float* row, int d) {
  const __m256 w = _mm256_set1_ps(weight);
  int i = 0;
  for (; i + 8 <= d; i += 8)
    _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(w, _mm256_loadu_ps(row + i), _mm256_loadu_ps(acc + i)));
  for (; i < d; ++i) acc[i] += weight * row[i];
}
#endif

struct VectorOps {
  float (*dot)(const float*, const float*, int) = dot_scalar;
  void (*axpy)(float*, float, const float*, int) = axpy_scalar;
};

VectorOps vector_ops() {
  VectorOps ops;
#if defined(__x86_64__)
  if (cpu_has_avx2() && vector_paths_enabled()) {
    ops.dot = dot_avx2;
    ops.axpy = axpy_avx2;
  }
#endif
  return ops;
}

void widen_row(const PagedKvView& view, const void* base, size_t offset, float* out) {
  for (int i = 0; i < view.head_dim; ++i) out[i] = load_as_f32(base, view.dtype, offset + i);
}

}  // namespace

void prefill_attention_ref(const PagedKvView& view, int seq, int first, int count, const float* q, int num_q_heads,
                           float* out, float scale) {
  check_prefill_inputs(view, seq, first, count, q, num_q_heads, out);
  const int d = view.head_dim;
  const int group = num_q_heads / view.num_kv_heads;
  if (scale == 0.0f) scale = 1.0f / std::sqrt(static_cast<float>(d));
  std::vector<double> scores;
  for (int i = 0; i < count; ++i) {
    const int position = first + i;
    for (int h = 0; h < num_q_heads; ++h) {
      const int kv_head = h / group;
      const float* query = q + (static_cast<size_t>(i) * num_q_heads + h) * d;
      scores.assign(position + 1, 0.0);
      double max_score = -std::numeric_limits<double>::infinity();
      for (int t = 0; t <= position; ++t) {
        const size_t offset = view.kv_offset(seq, kv_head, t);
        double dot = 0;
        for (int c = 0; c < d; ++c) dot += static_cast<double>(query[c]) * load_as_f32(view.keys, view.dtype, offset + c);
        scores[t] = dot * scale;
        max_score = std::max(max_score, scores[t]);
      }
      double total = 0;
      for (double& s : scores) total += (s = std::exp(s - max_score));
      float* result = out + (static_cast<size_t>(i) * num_q_heads + h) * d;
      for (int c = 0; c < d; ++c) {
        double acc = 0;
        for (int t = 0; t <= position; ++t)
          acc += scores[t] * load_as_f32(view.values, view.dtype, view.kv_offset(seq, kv_head, t) + c);
        result[c] = static_cast<float>(acc / total);
      }
    }
  }
}

void prefill_attention_cpu(const PagedKvView& view, int seq, int first, int count, const float* q, int num_q_heads,
                           float* out, float scale) {
  check_prefill_inputs(view, seq, first, count, q, num_q_heads, out);
  if (count == 0) return;
  const int d = view.head_dim;
  const int group = num_q_heads / view.num_kv_heads;
  if (scale == 0.0f) scale = 1.0f / std::sqrt(static_cast<float>(d));
  const VectorOps ops = vector_ops();
  const int query_blocks = (count + kQueryBlock - 1) / kQueryBlock;
  const int units = view.num_kv_heads * query_blocks;

#pragma omp parallel
  {
    std::vector<float> keys(static_cast<size_t>(kKeyBlock) * d), values(static_cast<size_t>(kKeyBlock) * d);
    const int rows = kQueryBlock * group;
    std::vector<float> acc(static_cast<size_t>(rows) * d), row_max(rows), row_sum(rows), probs(kKeyBlock);
#pragma omp for schedule(dynamic, 1)
    for (int unit = 0; unit < units; ++unit) {
      // Later query blocks see more keys; handing them out first balances the threads.
      const int block = query_blocks - 1 - unit / view.num_kv_heads;
      const int kv_head = unit % view.num_kv_heads;
      const int q_begin = block * kQueryBlock;
      const int q_end = std::min(count, q_begin + kQueryBlock);
      const int block_rows = (q_end - q_begin) * group;
      std::fill(acc.begin(), acc.begin() + static_cast<size_t>(block_rows) * d, 0.0f);
      std::fill(row_max.begin(), row_max.end(), -std::numeric_limits<float>::infinity());
      std::fill(row_sum.begin(), row_sum.end(), 0.0f);
      const int last_position = first + q_end - 1;  // the block's last query sees keys up to here
      for (int k_begin = 0; k_begin <= last_position; k_begin += kKeyBlock) {
        const int k_end = std::min(last_position + 1, k_begin + kKeyBlock);
        for (int t = k_begin; t < k_end; ++t) {
          const size_t offset = view.kv_offset(seq, kv_head, t);
          widen_row(view, view.keys, offset, keys.data() + static_cast<size_t>(t - k_begin) * d);
          widen_row(view, view.values, offset, values.data() + static_cast<size_t>(t - k_begin) * d);
        }
        for (int i = q_begin; i < q_end; ++i) {
          const int visible_end = std::min(k_end, first + i + 1);  // causal: keys <= own position
          if (visible_end <= k_begin) continue;
          const int n = visible_end - k_begin;
          for (int g = 0; g < group; ++g) {
            const int h = kv_head * group + g;
            const int r = (i - q_begin) * group + g;
            const float* query = q + (static_cast<size_t>(i) * num_q_heads + h) * d;
            float block_max = -std::numeric_limits<float>::infinity();
            for (int j = 0; j < n; ++j) {
              probs[j] = ops.dot(query, keys.data() + static_cast<size_t>(j) * d, d) * scale;
              block_max = std::max(block_max, probs[j]);
            }
            const float new_max = std::max(row_max[r], block_max);
            const float rescale = std::exp(row_max[r] - new_max);  // exp(-inf) = 0 on the first block
            float* row_acc = acc.data() + static_cast<size_t>(r) * d;
            if (rescale != 1.0f)
              for (int c = 0; c < d; ++c) row_acc[c] *= rescale;
            float sum = row_sum[r] * rescale;
            for (int j = 0; j < n; ++j) {
              const float p = std::exp(probs[j] - new_max);
              sum += p;
              ops.axpy(row_acc, p, values.data() + static_cast<size_t>(j) * d, d);
            }
            row_sum[r] = sum;
            row_max[r] = new_max;
          }
        }
      }
      for (int i = q_begin; i < q_end; ++i)
        for (int g = 0; g < group; ++g) {
          const int r = (i - q_begin) * group + g;
          const float inverse = 1.0f / row_sum[r];
          float* result = out + (static_cast<size_t>(i) * num_q_heads + kv_head * group + g) * d;
          const float* row_acc = acc.data() + static_cast<size_t>(r) * d;
          for (int c = 0; c < d; ++c) result[c] = row_acc[c] * inverse;
        }
    }
  }
}

}  // namespace adamas
