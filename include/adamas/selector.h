// Token selectors: which cached positions each (sequence, head) attends to at a decode step.
// All produce index lists in one format; one attention routine consumes them.
//   full      every position (dense; attention takes its contiguous fast path)
//   streaming the first `sink_tokens` positions plus the most recent ones
//   quest     pages ranked by the bound sum_i max(q_i min_i, q_i max_i); top max(3, B/P) pages,
//             the last (partial) page always among them
//   adamas    Hadamard + 2-bit codes + exact L1 to the query code; the B-1 nearest positions
//   oracle    the exact top positions by q.k
// Budget B counts the current (last) position, which every policy always selects. A sequence
// with N <= B cached positions is attended densely. GQA: by default one selection per KV head,
// shared by its group (scores combined over the group: min distance for adamas, max q.k for the
// oracle, max page bound for quest); per_query_head gives each query head its own.
// Adamas codes the query with the view's code book (the cache's, per layer) when it has one, so
// queries and keys always share thresholds; SelectorOptions::thresholds serves views without one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "adamas/key_codes.h"
#include "adamas/kv_cache.h"

namespace adamas {

enum class Policy { kFull, kStreaming, kQuest, kAdamas, kOracle };
std::string policy_name(Policy policy);
Policy parse_policy(const std::string& name);  // throws adamas::Error on unknown names

// How the adamas policy scores a cached key's code against the query (smaller distance or
// larger score wins):
//   l1          sum_i |c(q)_i - c(k)_i|                          (the paper)
//   l2          sum_i (c(q)_i - c(k)_i)^2
//   hamming     number of coordinates whose sign bucket differs (level >= levels/2)
//   asymmetric  sum_i q'_i * centroid[c(k)_i], q' the rotated query in full precision (2-bit
//               codes only); larger is better
enum class Estimator { kL1, kL2, kHamming, kAsymmetric };
std::string estimator_name(Estimator estimator);
Estimator parse_estimator(const std::string& name);

struct SelectorOptions {
  Policy policy = Policy::kAdamas;
  int token_budget = 256;
  int sink_tokens = 4;        // streaming
  bool per_query_head = false;
  Thresholds thresholds;      // adamas query codes when the view carries no code book
  Estimator estimator = Estimator::kL1;
};
void check_selector_options(const SelectorOptions& options);  // throws adamas::Error
// Also checks the options against the view's code format (asymmetric needs 2-bit codes).
void check_selector_options(const SelectorOptions& options, const PagedKvView& view);

// Index lists: row r of sequence s holds counts[s*rows+r] ascending positions at
// indices[(s*rows + r) * capacity ...]. rows = num_kv_heads, or num_q_heads when per_query_head.
// dense[s] = 1 when sequence s is attended densely (N <= B, or policy full); its row is empty.
struct TokenSelection {
  int batch = 0;
  int rows_per_seq = 0;
  int capacity = 0;
  bool per_query_head = false;
  std::vector<int32_t> indices;
  std::vector<int32_t> counts;
  std::vector<uint8_t> dense;

  const int32_t* row(int seq, int r) const {
    return indices.data() + (static_cast<size_t>(seq) * rows_per_seq + r) * capacity;
  }
  int count(int seq, int r) const { return counts[static_cast<size_t>(seq) * rows_per_seq + r]; }
};

// Checks q (fp32 [batch][num_q_heads][head_dim], post-RoPE) against the view: num_q_heads a
// positive multiple of num_kv_heads, every value finite, every sequence non-empty.
void check_decode_inputs(const PagedKvView& view, const float* q, int num_q_heads);

// Scalar reference: straightforward loops, full sorts.
void select_tokens_ref(const SelectorOptions& options, const PagedKvView& view, const float* q,
                       int num_q_heads, TokenSelection& selection);

// Stage times of the fast selector, milliseconds (estimate: scoring every candidate; select:
// top-k and writing the index lists).
struct SelectorTimes {
  double estimate_ms = 0, select_ms = 0;
};

// Fast CPU selector: threads over (sequence, row), vectorized scoring, histogram top-k.
// Selects exactly the same sets as select_tokens_ref.
void select_tokens_cpu(const SelectorOptions& options, const PagedKvView& view, const float* q,
                       int num_q_heads, TokenSelection& selection, SelectorTimes* times = nullptr);

}  // namespace adamas
