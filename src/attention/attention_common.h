// Shape checks shared by the attention backends.
#pragma once

#include "adamas/error.h"
#include "adamas/selector.h"

namespace adamas {

inline void check_selection_matches(const PagedKvView& view, int num_q_heads, const TokenSelection* selection) {
  if (!selection) return;
  ADAMAS_CHECK(selection->batch == view.batch, "selection is for batch ", selection->batch, ", the cache view has ",
               view.batch);
  const int expected_rows = selection->per_query_head ? num_q_heads : view.num_kv_heads;
  ADAMAS_CHECK(selection->rows_per_seq == expected_rows, "selection has ", selection->rows_per_seq,
               " rows per sequence, expected ", expected_rows);
  for (int seq = 0; seq < view.batch; ++seq) {
    if (selection->dense[seq]) continue;
    for (int r = 0; r < selection->rows_per_seq; ++r) {
      const int count = selection->count(seq, r);
      ADAMAS_CHECK(count > 0 && count <= selection->capacity, "selection row (", seq, ", ", r, ") has ", count,
                   " positions, expected 1..", selection->capacity);
      const int32_t* row = selection->row(seq, r);
      for (int i = 0; i < count; ++i)
        ADAMAS_CHECK(row[i] >= 0 && row[i] < view.seq_lens[seq], "selection row (", seq, ", ", r, ") holds position ",
                     row[i], ", sequence length is ", view.seq_lens[seq]);
    }
  }
}

inline int selection_row_for(const TokenSelection& selection, int q_head, int group_size) {
  return selection.per_query_head ? q_head : q_head / group_size;
}

}  // namespace adamas
