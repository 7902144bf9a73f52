// Reference decode attention: two passes in double precision over the chosen positions.
#include <cmath>
#include <vector>

#include "adamas/attention.h"
#include "attention/attention_common.h"

namespace adamas {

void decode_attention_ref(const PagedKvView& view, const float* q, int num_q_heads, const TokenSelection* selection,
                          float* out, float scale) {
  check_decode_inputs(view, q, num_q_heads);
  check_selection_matches(view, num_q_heads, selection);
  const int d = view.head_dim, group = num_q_heads / view.num_kv_heads;
  if (scale == 0.0f) scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  for (int seq = 0; seq < view.batch; ++seq) {
    const int n = view.seq_lens[seq];
    for (int h = 0; h < num_q_heads; ++h) {
      const int kv_head = h / group;
      std::vector<int32_t> positions;
      if (!selection || selection->dense[seq]) {
        for (int t = 0; t < n; ++t) positions.push_back(t);
      } else {
        const int r = selection_row_for(*selection, h, group);
        positions.assign(selection->row(seq, r), selection->row(seq, r) + selection->count(seq, r));
      }
      const float* query = q + (static_cast<size_t>(seq) * num_q_heads + h) * d;
      std::vector<double> logits(positions.size());
      double max_logit = -INFINITY;
      for (size_t i = 0; i < positions.size(); ++i) {
        const size_t offset = view.kv_offset(seq, kv_head, positions[i]);
        double dot = 0;
        for (int c = 0; c < d; ++c) dot += static_cast<double>(query[c]) * load_as_f32(view.keys, view.dtype, offset + c);
        logits[i] = dot * scale;
        max_logit = std::max(max_logit, logits[i]);
      }
      std::vector<double> acc(d, 0.0);
      double denominator = 0;
      for (size_t i = 0; i < positions.size(); ++i) {
        const double weight = std::exp(logits[i] - max_logit);
        denominator += weight;
        const size_t offset = view.kv_offset(seq, kv_head, positions[i]);
        for (int c = 0; c < d; ++c) acc[c] += weight * load_as_f32(view.values, view.dtype, offset + c);
      }
      float* result = out + (static_cast<size_t>(seq) * num_q_heads + h) * d;
      for (int c = 0; c < d; ++c) result[c] = static_cast<float>(acc[c] / denominator);
    }
  }
}

}  // namespace adamas
