#include "adamas/eval/perplexity.h"

#include <cmath>
#include <fstream>

#include "adamas/error.h"

namespace adamas {

double token_nll(const float* logits, int64_t vocab, int32_t target) {
  double max_logit = logits[0];
  for (int64_t v = 1; v < vocab; ++v) max_logit = std::max(max_logit, static_cast<double>(logits[v]));
  double total = 0;
  for (int64_t v = 0; v < vocab; ++v) total += std::exp(static_cast<double>(logits[v]) - max_logit);
  return std::log(total) + max_logit - static_cast<double>(logits[target]);
}

PerplexityResult evaluate_perplexity(DecoderRuntime& runtime, const std::vector<int32_t>& tokens,
                                     const ProgressFn& progress) {
  const int64_t count = static_cast<int64_t>(tokens.size());
  ADAMAS_CHECK(count >= 2, "perplexity: need at least 2 tokens, got ", count);
  ADAMAS_CHECK(count - 1 <= runtime.options().max_context, "perplexity: ", count - 1,
               " decode steps exceed the runtime's max context ", runtime.options().max_context);
  const int64_t vocab = runtime.config().vocab_size;
  runtime.reset();
  PerplexityResult result;
  result.cumulative_perplexity.reserve(count - 1);
  std::vector<float> logits(vocab);
  for (int64_t i = 0; i + 1 < count; ++i) {
    runtime.decode(tokens[i], logits.data());
    result.decode.add(runtime.last_step());
    result.nll_sum += token_nll(logits.data(), vocab, tokens[i + 1]);
    result.predicted_tokens = i + 1;
    result.cumulative_perplexity.push_back(std::exp(result.nll_sum / result.predicted_tokens));
    if (progress && ((i + 1) % 16 == 0 || i + 2 == count)) progress(i + 1, count - 1);
  }
  result.perplexity = result.cumulative_perplexity.back();
  return result;
}

void write_perplexity_csv(const std::string& path, const PerplexityResult& result, int every) {
  ADAMAS_CHECK(every > 0, "perplexity CSV: row interval must be positive, got ", every);
  std::ofstream out(path);
  ADAMAS_CHECK(out, path, ": cannot open for writing");
  out << "tokens,perplexity\n";
  const size_t n = result.cumulative_perplexity.size();
  for (size_t k = 0; k < n; ++k)
    if ((k + 1) % every == 0 || k + 1 == n) out << (k + 1) << ',' << result.cumulative_perplexity[k] << '\n';
  ADAMAS_CHECK(out.good(), path, ": write failed");
}

}  // namespace adamas
