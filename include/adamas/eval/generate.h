// Text generation: dense prefill of the prompt, then decode steps with the runtime's policy,
// greedy or sampled, streaming the text as it grows.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "adamas/eval/eval_common.h"
#include "adamas/model/llama_model.h"
#include "adamas/model/tokenizer.h"

namespace adamas {

struct GenerateOptions {
  int max_new_tokens = 128;
  float temperature = 0.0f;  // 0: greedy
  int top_k = 0;             // 0: whole vocabulary (when sampling)
  uint64_t seed = 1;
  bool stop_at_eos = true;
};

struct GenerateResult {
  std::vector<int32_t> prompt_tokens, generated;
  std::string text;          // the generated text
  double prefill_seconds = 0;
  double prefill_tokens_per_second = 0;
  DecodeTotals decode;
};

// Picks the next token from logits [vocab]: argmax when temperature is 0, else a sample.
int32_t sample_token(const float* logits, int64_t vocab, const GenerateOptions& options, uint64_t& rng_state);

// Resets the runtime and generates. on_text receives each new piece of text as it is decoded.
// Throws adamas::Error on an empty prompt or one longer than the runtime's max_context.
GenerateResult generate_text(DecoderRuntime& runtime, const Tokenizer& tokenizer, const std::string& prompt,
                             const GenerateOptions& options,
                             const std::function<void(const std::string&)>& on_text = {});

}  // namespace adamas
