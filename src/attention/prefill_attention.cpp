#include "attention/prefill_attention.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "adamas/error.h"

namespace adamas {

namespace {

// 64 query tokens x group heads share each widened key block of 128 positions: the K/V widening
// (the only per-element dtype work) is amortized over >= 64 rows, the two sgemm calls per block
// are large enough to run near peak, and a 128 x 128 fp32 K/V block pair (128 KiB) stays in L2.
constexpr int kQueryBlock = 64;
constexpr int kKeyBlock = 128;

void check_prefill_inputs(const PagedKvView& view, int seq, int first, int count, const float* q, int num_q_heads,
                          const float* out) {
  ADAMAS_CHECK(seq >= 0 && seq < view.batch, "prefill attention: sequence ", seq, " out of range [0, ", view.batch, ")");
  ADAMAS_CHECK(num_q_heads > 0 && view.num_kv_heads > 0 && num_q_heads % view.num_kv_heads == 0,
               "prefill attention: ", num_q_heads, " query heads is not a multiple of ", view.num_kv_heads, " KV heads");
  ADAMAS_CHECK(count >= 0 && first >= 0 && first + count <= view.seq_lens[seq], "prefill attention: positions [", first,
               ", ", first + count, ") are not all in the cache (sequence length ", view.seq_lens[seq], ")");
  ADAMAS_CHECK(count == 0 || (q != nullptr && out != nullptr), "prefill attention: null q or out");
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
  const int query_blocks = (count + kQueryBlock - 1) / kQueryBlock;
  const int units = view.num_kv_heads * query_blocks;
  const int max_rows = kQueryBlock * group;

#pragma omp parallel
  {
    std::vector<float> keys(static_cast<size_t>(kKeyBlock) * d), values(static_cast<size_t>(kKeyBlock) * d);
    std::vector<float> queries(static_cast<size_t>(max_rows) * d), acc(static_cast<size_t>(max_rows) * d);
    std::vector<float> scores(static_cast<size_t>(max_rows) * kKeyBlock), row_max(max_rows), row_sum(max_rows);
#pragma omp for schedule(dynamic, 1)
    for (int unit = 0; unit < units; ++unit) {
      // Later query blocks see more keys; handing them out first balances the threads.
      const int block = query_blocks - 1 - unit / view.num_kv_heads;
      const int kv_head = unit % view.num_kv_heads;
      const int q_begin = block * kQueryBlock;
      const int q_end = std::min(count, q_begin + kQueryBlock);
      // Row r = (token i - q_begin) * group + g: the group's heads of one token are adjacent in q.
      const int rows = (q_end - q_begin) * group;
      for (int i = q_begin; i < q_end; ++i)
        std::copy_n(q + (static_cast<size_t>(i) * num_q_heads + kv_head * group) * d, static_cast<size_t>(group) * d,
                    queries.data() + static_cast<size_t>(i - q_begin) * group * d);
      std::fill(acc.begin(), acc.begin() + static_cast<size_t>(rows) * d, 0.0f);
      std::fill(row_max.begin(), row_max.end(), -std::numeric_limits<float>::infinity());
      std::fill(row_sum.begin(), row_sum.end(), 0.0f);
      const int last_position = first + q_end - 1;  // the block's last query sees keys up to here
      for (int k_begin = 0; k_begin <= last_position; k_begin += kKeyBlock) {
        const int n = std::min(last_position + 1, k_begin + kKeyBlock) - k_begin;
        for (int t = 0; t < n; ++t) {
          const size_t offset = view.kv_offset(seq, kv_head, k_begin + t);
          widen_row(view, view.keys, offset, keys.data() + static_cast<size_t>(t) * d);
          widen_row(view, view.values, offset, values.data() + static_cast<size_t>(t) * d);
        }
        // scores[rows][n] = scale * queries * keys^T (OpenBLAS single-threaded inside this thread).
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, d, scale, queries.data(), d, keys.data(), d, 0.0f,
                    scores.data(), kKeyBlock);
        for (int r = 0; r < rows; ++r) {
          const int visible = std::min(n, first + q_begin + r / group + 1 - k_begin);  // causal: keys <= own position
          float* s = scores.data() + static_cast<size_t>(r) * kKeyBlock;
          float* row_acc = acc.data() + static_cast<size_t>(r) * d;
          if (visible <= 0) {
            std::fill(s, s + n, 0.0f);
            continue;
          }
          float block_max = -std::numeric_limits<float>::infinity();
          for (int j = 0; j < visible; ++j) block_max = std::max(block_max, s[j]);
          const float new_max = std::max(row_max[r], block_max);
          const float rescale = std::exp(row_max[r] - new_max);  // exp(-inf) = 0 on the first block
          float sum = 0;
          for (int j = 0; j < visible; ++j) sum += (s[j] = std::exp(s[j] - new_max));
          std::fill(s + visible, s + n, 0.0f);
          if (rescale != 1.0f)
            for (int c = 0; c < d; ++c) row_acc[c] *= rescale;
          row_sum[r] = row_sum[r] * rescale + sum;
          row_max[r] = new_max;
        }
        // acc[rows][d] += probabilities[rows][n] * values[n][d]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d, n, 1.0f, scores.data(), kKeyBlock,
                    values.data(), d, 1.0f, acc.data(), d);
      }
      for (int r = 0; r < rows; ++r) {
        const int i = q_begin + r / group, g = r % group;
        const float inverse = 1.0f / row_sum[r];
        float* result = out + (static_cast<size_t>(i) * num_q_heads + kv_head * group + g) * d;
        const float* row_acc = acc.data() + static_cast<size_t>(r) * d;
        for (int c = 0; c < d; ++c) result[c] = row_acc[c] * inverse;
      }
    }
  }
}

}  // namespace adamas
