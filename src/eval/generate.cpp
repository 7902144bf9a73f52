#include "adamas/eval/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "adamas/error.h"

namespace adamas {

namespace {

// splitmix64: a small seeded generator whose state is one integer the caller keeps.
uint64_t next_random(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Prompt tokens kept as left context when decoding the generated text, so that a leading space
// of the first generated piece survives sentencepiece's strip of the first "▁".
constexpr size_t kDecodeContextTokens = 8;

}  // namespace

int32_t sample_token(const float* logits, int64_t vocab, const GenerateOptions& options, uint64_t& rng_state) {
  if (options.temperature <= 0.0f) return static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits);
  std::vector<std::pair<float, int32_t>> candidates(vocab);
  for (int64_t v = 0; v < vocab; ++v) candidates[v] = {logits[v], static_cast<int32_t>(v)};
  int64_t keep = vocab;
  if (options.top_k > 0 && options.top_k < vocab) {
    keep = options.top_k;
    std::partial_sort(candidates.begin(), candidates.begin() + keep, candidates.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first; });
  }
  float max_logit = -INFINITY;
  for (int64_t i = 0; i < keep; ++i) max_logit = std::max(max_logit, candidates[i].first);
  std::vector<double> weights(keep);
  double total = 0;
  for (int64_t i = 0; i < keep; ++i)
    total += (weights[i] = std::exp((candidates[i].first - max_logit) / options.temperature));
  double u = (next_random(rng_state) >> 11) * (1.0 / 9007199254740992.0) * total;
  for (int64_t i = 0; i < keep; ++i) {
    if (u < weights[i]) return candidates[i].second;
    u -= weights[i];
  }
  return candidates[keep - 1].second;
}

GenerateResult generate_text(DecoderRuntime& runtime, const Tokenizer& tokenizer, const std::string& prompt,
                             const GenerateOptions& options, const std::function<void(const std::string&)>& on_text) {
  ADAMAS_CHECK(options.max_new_tokens >= 0, "max new tokens must be >= 0, got ", options.max_new_tokens);
  ADAMAS_CHECK(options.temperature >= 0.0f && std::isfinite(options.temperature), "temperature must be >= 0");
  GenerateResult result;
  result.prompt_tokens = tokenizer.encode(prompt, /*add_bos=*/true);
  const bool has_bos = tokenizer.bos_id() >= 0;
  ADAMAS_CHECK(result.prompt_tokens.size() > (has_bos ? 1u : 0u), "generate: the prompt is empty");
  const int total = static_cast<int>(result.prompt_tokens.size()) + options.max_new_tokens;
  ADAMAS_CHECK(total <= runtime.options().max_context, "generate: prompt of ", result.prompt_tokens.size(),
               " tokens + ", options.max_new_tokens, " new tokens exceed the runtime's max context ",
               runtime.options().max_context);
  const int64_t vocab = runtime.config().vocab_size;
  runtime.reset();
  std::vector<float> logits;
  const auto start = std::chrono::steady_clock::now();
  runtime.prefill(result.prompt_tokens, &logits, false);
  result.prefill_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.prefill_tokens_per_second =
      result.prefill_seconds > 0 ? result.prompt_tokens.size() / result.prefill_seconds : 0;

  const size_t context = std::min(kDecodeContextTokens, result.prompt_tokens.size());
  std::vector<int32_t> window(result.prompt_tokens.end() - context, result.prompt_tokens.end());
  const std::string window_text = tokenizer.decode(window);
  uint64_t rng_state = options.seed;
  std::string emitted, latest;
  for (int i = 0; i < options.max_new_tokens; ++i) {
    if (i > 0) {
      runtime.decode(result.generated.back(), logits.data());
      result.decode.add(runtime.last_step());
    }
    const int32_t next = sample_token(logits.data(), vocab, options, rng_state);
    if (options.stop_at_eos && next == tokenizer.eos_id()) break;
    result.generated.push_back(next);
    window.push_back(next);
    std::string text = tokenizer.decode(window);
    text = text.size() >= window_text.size() && text.compare(0, window_text.size(), window_text) == 0
               ? text.substr(window_text.size())
               : tokenizer.decode(result.generated);
    latest = text;
    // Emit only what is new; a multi-byte character split across tokens waits for its last byte.
    if (text.size() > emitted.size() && text.compare(0, emitted.size(), emitted) == 0) {
      const std::string piece = text.substr(emitted.size());
      if (on_text) on_text(piece);
      emitted = text;
    }
  }
  result.text = latest;
  if (on_text && latest.size() > emitted.size() && latest.compare(0, emitted.size(), emitted) == 0)
    on_text(latest.substr(emitted.size()));
  return result;
}

}  // namespace adamas
