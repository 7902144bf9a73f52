#include <cmath>

#include "adamas/error.h"
#include "adamas/hadamard.h"
#include "select/selector_common.h"

namespace adamas {

std::string policy_name(Policy policy) {
  switch (policy) {
    case Policy::kFull: return "full";
    case Policy::kStreaming: return "streaming";
    case Policy::kQuest: return "quest";
    case Policy::kAdamas: return "adamas";
    default: return "oracle";
  }
}

Policy parse_policy(const std::string& name) {
  for (Policy p : {Policy::kFull, Policy::kStreaming, Policy::kQuest, Policy::kAdamas, Policy::kOracle})
    if (policy_name(p) == name) return p;
  throw Error("unknown attention policy '" + name + "', expected full, streaming, quest, adamas or oracle");
}

std::string estimator_name(Estimator estimator) {
  switch (estimator) {
    case Estimator::kL1: return "l1";
    case Estimator::kL2: return "l2";
    case Estimator::kHamming: return "hamming";
    default: return "asymmetric";
  }
}

Estimator parse_estimator(const std::string& name) {
  for (Estimator e : {Estimator::kL1, Estimator::kL2, Estimator::kHamming, Estimator::kAsymmetric})
    if (estimator_name(e) == name) return e;
  throw Error("unknown estimator '" + name + "', expected l1, l2, hamming or asymmetric");
}

void check_selector_options(const SelectorOptions& options) {
  ADAMAS_CHECK(options.token_budget >= 1, "token budget must be at least 1, got ", options.token_budget);
  ADAMAS_CHECK(options.sink_tokens >= 0, "sink token count must be non-negative, got ", options.sink_tokens);
  check_thresholds(options.thresholds);
}

void check_selector_options(const SelectorOptions& options, const PagedKvView& view) {
  check_selector_options(options);
  if (options.policy != Policy::kAdamas) return;
  const CodeBook book = selection_code_book(options, view);
  check_code_book(book);
  ADAMAS_CHECK(options.estimator != Estimator::kAsymmetric || book.bits == 2,
               "the asymmetric estimator reads 2-bit codes; this cache layer holds ", book.bits, "-bit codes");
}

void check_decode_inputs(const PagedKvView& view, const float* q, int num_q_heads) {
  check_head_dim(view.head_dim);
  ADAMAS_CHECK(view.num_kv_heads > 0, "KV view has ", view.num_kv_heads, " KV heads");
  ADAMAS_CHECK(num_q_heads > 0 && num_q_heads % view.num_kv_heads == 0, "query heads (", num_q_heads,
               ") must be a positive multiple of KV heads (", view.num_kv_heads, ")");
  ADAMAS_CHECK(view.batch > 0, "decode step with an empty batch");
  for (int seq = 0; seq < view.batch; ++seq)
    ADAMAS_CHECK(view.seq_lens[seq] > 0, "sequence ", seq, " has no cached tokens: append the current token first");
  const size_t count = static_cast<size_t>(view.batch) * num_q_heads * view.head_dim;
  for (size_t i = 0; i < count; ++i)
    ADAMAS_CHECK(std::isfinite(q[i]), "query has a non-finite value (", q[i], ") at sequence ",
                 i / (static_cast<size_t>(num_q_heads) * view.head_dim), ", head ",
                 (i / view.head_dim) % num_q_heads);
}

void prepare_selection(TokenSelection& selection, int batch, const SelectionShape& shape, bool per_query_head) {
  selection.batch = batch;
  selection.rows_per_seq = shape.rows;
  selection.capacity = shape.capacity;
  selection.per_query_head = per_query_head;
  selection.indices.assign(static_cast<size_t>(batch) * shape.rows * shape.capacity, -1);
  selection.counts.assign(static_cast<size_t>(batch) * shape.rows, 0);
  selection.dense.assign(static_cast<size_t>(batch), 0);
}

}  // namespace adamas
