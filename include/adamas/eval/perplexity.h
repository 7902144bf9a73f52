// Perplexity by the PG19 protocol of the paper: the cache starts empty and every token after the
// first is predicted by a decode step, so the attention policy applies to every prediction.
#pragma once

#include <string>
#include <vector>

#include "adamas/eval/eval_common.h"
#include "adamas/model/llama_model.h"

namespace adamas {

struct PerplexityResult {
  int64_t predicted_tokens = 0;     // tokens.size() - 1
  double nll_sum = 0;               // natural log
  double perplexity = 0;            // exp(nll_sum / predicted_tokens)
  std::vector<double> cumulative_perplexity;  // [k]: perplexity over the first k + 1 predictions
  DecodeTotals decode;
};

// Resets the runtime, then decodes tokens[0..n-2]; the logits of step i score tokens[i + 1]
// (log-softmax in double). Throws adamas::Error for fewer than 2 tokens or a context beyond the
// runtime's max_context.
PerplexityResult evaluate_perplexity(DecoderRuntime& runtime, const std::vector<int32_t>& tokens,
                                     const ProgressFn& progress = {});

// CSV "tokens,perplexity" of the cumulative curve, one row every `every` predictions and the last.
void write_perplexity_csv(const std::string& path, const PerplexityResult& result, int every = 1);

// -log softmax(logits)[target], in double.
double token_nll(const float* logits, int64_t vocab, int32_t target);

}  // namespace adamas
