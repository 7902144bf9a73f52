// Scalar reference selectors: plain loops and full sorts, kept obviously right.
#include <algorithm>
#include <limits>
#include <vector>

#include "adamas/hadamard.h"
#include "adamas/top_k.h"
#include "select/canonical_sums.h"
#include "select/code_scores.h"
#include "select/selector_common.h"

namespace adamas {

namespace {

void write_row(TokenSelection& selection, int seq, int row, const std::vector<int32_t>& tokens) {
  int32_t* out = selection.indices.data() + (static_cast<size_t>(seq) * selection.rows_per_seq + row) * selection.capacity;
  std::copy(tokens.begin(), tokens.end(), out);
  selection.counts[static_cast<size_t>(seq) * selection.rows_per_seq + row] = static_cast<int32_t>(tokens.size());
}

}  // namespace

void select_tokens_ref(const SelectorOptions& options, const PagedKvView& view, const float* q, int num_q_heads,
                       TokenSelection& selection) {
  check_selector_options(options, view);
  check_decode_inputs(view, q, num_q_heads);
  const SelectionShape shape = selection_shape(options, view, num_q_heads);
  prepare_selection(selection, view.batch, shape, options.per_query_head);
  const int d = view.head_dim, budget = options.token_budget;
  const size_t element_bytes = dtype_size_bytes(view.dtype);

  for (int seq = 0; seq < view.batch; ++seq) {
    const int n = view.seq_lens[seq];
    if (options.policy == Policy::kFull || n <= budget) {
      selection.dense[seq] = 1;
      continue;
    }
    for (int r = 0; r < shape.rows; ++r) {
      const int kv_head = row_kv_head(options, shape, r);
      const int first_head = row_first_q_head(options, shape, r);
      const int heads = row_q_head_count(options, shape);
      auto query = [&](int j) { return q + (static_cast<size_t>(seq) * num_q_heads + first_head + j) * d; };
      std::vector<int32_t> tokens;
      std::vector<uint64_t> keys;

      switch (options.policy) {
        case Policy::kStreaming:
          streaming_positions(n, budget, options.sink_tokens, [&](int t) { tokens.push_back(t); });
          break;
        case Policy::kAdamas: {
          const CodeBook book = selection_code_book(options, view);
          // Query levels, unpacked: the definition, with no packing tricks.
          std::vector<std::vector<float>> rotated(heads);
          std::vector<std::vector<int>> query_levels(heads, std::vector<int>(d));
          for (int j = 0; j < heads; ++j) {
            rotated[j].assign(query(j), query(j) + d);
            if (book.hadamard) hadamard_transform_ref(rotated[j].data(), d);
            for (int i = 0; i < d; ++i) query_levels[j][i] = bucket_of(rotated[j][i], book);
          }
          const int half = book.levels() / 2;
          for (int t = 0; t < n - 1; ++t) {
            const uint8_t* key_code = view.key_codes + view.code_offset(seq, kv_head, t);
            if (options.estimator == Estimator::kAsymmetric) {
              float best = -std::numeric_limits<float>::infinity();
              for (int j = 0; j < heads; ++j) best = std::max(best, asymmetric_score_ref(rotated[j].data(), key_code, book, d));
              keys.push_back(score_key(best, static_cast<uint32_t>(t)));
              continue;
            }
            int distance = std::numeric_limits<int>::max();
            for (int j = 0; j < heads; ++j) {
              int sum = 0;
              for (int i = 0; i < d; ++i) {
                const int x = query_levels[j][i], y = code_level(key_code, book.bits, i);
                if (options.estimator == Estimator::kL1) sum += std::abs(x - y);
                else if (options.estimator == Estimator::kL2) sum += (x - y) * (x - y);
                else sum += (x >= half) != (y >= half);
              }
              distance = std::min(distance, sum);
            }
            keys.push_back(distance_key(static_cast<uint32_t>(distance), static_cast<uint32_t>(t)));
          }
          select_smallest_keys_ref(keys, budget - 1, tokens);
          tokens.push_back(n - 1);
          break;
        }
        case Policy::kOracle: {
          for (int t = 0; t < n - 1; ++t) {
            const auto* key_row = static_cast<const uint8_t*>(view.keys) + view.kv_offset(seq, kv_head, t) * element_bytes;
            float best = -std::numeric_limits<float>::infinity();
            for (int j = 0; j < heads; ++j) best = std::max(best, canonical_dot(query(j), key_row, view.dtype, d));
            keys.push_back(score_key(best, static_cast<uint32_t>(t)));
          }
          select_smallest_keys_ref(keys, budget - 1, tokens);
          tokens.push_back(n - 1);
          break;
        }
        case Policy::kQuest: {
          const int pages = (n + view.page_size - 1) / view.page_size;
          std::vector<int32_t> kept_pages;
          for (int page = 0; page < pages - 1; ++page) {
            const size_t meta = view.page_meta_offset(seq, kv_head, page);
            float best = -std::numeric_limits<float>::infinity();
            for (int j = 0; j < heads; ++j)
              best = std::max(best, canonical_page_bound(query(j), view.page_min + meta, view.page_max + meta, d));
            keys.push_back(score_key(best, static_cast<uint32_t>(page)));
          }
          select_smallest_keys_ref(keys, quest_pages_kept(budget, view.page_size) - 1, kept_pages);
          kept_pages.push_back(pages - 1);
          for (int page : kept_pages)
            for (int t = page * view.page_size; t < std::min(n, (page + 1) * view.page_size); ++t) tokens.push_back(t);
          break;
        }
        case Policy::kFull:
          break;
      }
      write_row(selection, seq, r, tokens);
    }
  }
}

}  // namespace adamas
