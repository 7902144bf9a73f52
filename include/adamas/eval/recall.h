// How well each selector's set covers the true attention at decode time. The text is decoded
// token by token with full attention (so the queries are the exact model's); at every
// `stride`-th step and in every layer, each (policy, budget) selects from the cache and is scored
// per KV head by
//   mass   : the fraction of the true softmax attention mass (over all cached tokens) that falls
//            on the selected tokens, averaged over the query heads of the group;
//   recall : |selected ∩ oracle top-B| / |oracle top-B|, the oracle of the same budget.
// Steps where the context is not above the budget (attended densely by every policy) are skipped
// for that budget.
#pragma once

#include <vector>

#include "adamas/eval/eval_common.h"
#include "adamas/model/llama_model.h"
#include "adamas/selector.h"

namespace adamas {

struct RecallOptions {
  std::vector<int> budgets = {16, 64, 256};
  std::vector<Policy> policies = {Policy::kStreaming, Policy::kQuest, Policy::kAdamas, Policy::kOracle};
  SelectorOptions selector;  // sink_tokens, per_query_head, thresholds, estimator for every policy
  int stride = 8;            // score every stride-th decode step
  int prefill_tokens = 0;    // tokens prefilled densely before decoding starts (0: the largest budget)
};

struct RecallCell {
  Policy policy = Policy::kFull;
  int budget = 0, layer = 0, kv_head = 0;
  double mass = 0, recall = 0;  // means over scored steps
  int64_t steps = 0;
};

struct RecallSummary {
  Policy policy = Policy::kFull;
  int budget = 0;
  double mass = 0, recall = 0;  // means over layers and KV heads
  double min_layer_mass = 0;    // worst layer's mean mass
};

struct RecallResult {
  std::vector<RecallCell> cells;        // [policy][budget][layer][kv_head]
  std::vector<RecallSummary> summary;   // [policy][budget]
  int64_t scored_steps = 0;
};

// The runtime's policy should be full (so decoding follows the exact model); it is reset first.
// Throws adamas::Error on bad options or too few tokens.
RecallResult evaluate_recall(DecoderRuntime& runtime, const std::vector<int32_t>& tokens, const RecallOptions& options,
                             const ProgressFn& progress = {});

}  // namespace adamas
