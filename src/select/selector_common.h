// Pieces shared by the reference and fast selectors: shapes of the selection and the policy's
// budget arithmetic, so both backends agree on them by construction.
#pragma once

#include <algorithm>

#include "adamas/code_book.h"
#include "adamas/selector.h"

namespace adamas {

struct SelectionShape {
  int group_size;  // query heads per KV head
  int rows;        // selection rows per sequence
  int capacity;    // longest index list any row can get
};

inline int quest_pages_kept(int token_budget, int page_size) { return std::max(3, token_budget / page_size); }

inline SelectionShape selection_shape(const SelectorOptions& options, const PagedKvView& view, int num_q_heads) {
  SelectionShape shape;
  shape.group_size = num_q_heads / view.num_kv_heads;
  shape.rows = options.per_query_head ? num_q_heads : view.num_kv_heads;
  shape.capacity = options.token_budget;
  if (options.policy == Policy::kQuest)
    shape.capacity = std::max(shape.capacity, quest_pages_kept(options.token_budget, view.page_size) * view.page_size);
  if (options.policy == Policy::kFull) shape.capacity = 0;
  return shape;
}

// Query heads scored for selection row r: one head, or the whole group of KV head r.
inline int row_first_q_head(const SelectorOptions& options, const SelectionShape& shape, int r) {
  return options.per_query_head ? r : r * shape.group_size;
}
inline int row_q_head_count(const SelectorOptions& options, const SelectionShape& shape) {
  return options.per_query_head ? 1 : shape.group_size;
}
inline int row_kv_head(const SelectorOptions& options, const SelectionShape& shape, int r) {
  return options.per_query_head ? r / shape.group_size : r;
}

// The code format of the adamas policy: the view's (the cache layer's), else the paper's 2-bit
// Hadamard codes with the options' thresholds.
inline CodeBook selection_code_book(const SelectorOptions& options, const PagedKvView& view) {
  return view.code_book ? *view.code_book : CodeBook::from_thresholds(options.thresholds);
}

// Resets `selection` to the given shape, all rows empty, no sequence dense.
void prepare_selection(TokenSelection& selection, int batch, const SelectionShape& shape, bool per_query_head);

// Streaming's positions for a sequence of n > budget tokens.
template <typename Sink>
void streaming_positions(int n, int token_budget, int sink_tokens, Sink&& emit) {
  const int sinks = std::min(sink_tokens, token_budget - 1);
  for (int t = 0; t < sinks; ++t) emit(t);
  for (int t = n - (token_budget - sinks); t < n; ++t) emit(t);
}

}  // namespace adamas
