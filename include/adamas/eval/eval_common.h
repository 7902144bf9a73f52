// Shared pieces of the evaluations (perplexity, passkey, recall, sweeps): progress reporting,
// reading text, and a few statistics over decode steps.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "adamas/model/tokenizer.h"

namespace adamas {

struct DecodeStepStats;  // adamas/model/llama_model.h

// Called as work advances: (units done, units in total). May be empty.
using ProgressFn = std::function<void(int64_t done, int64_t total)>;

// Whole file as text. Throws adamas::Error naming the path when it cannot be read or is empty.
std::string read_text_file(const std::string& path);

// Token ids of `text` with BOS first (when the tokenizer has one), cut to max_tokens (0: all).
// Throws adamas::Error when the text yields fewer than `min_tokens` tokens.
std::vector<int32_t> tokenize_for_eval(const Tokenizer& tokenizer, const std::string& text, int max_tokens,
                                       int min_tokens, const std::string& source_name);

// Running means of the per-step decode statistics (DecodeStepStats of the runtime).
struct DecodeTotals {
  int64_t steps = 0;
  double seconds = 0, attention_seconds = 0, kv_bytes = 0, dense_kv_bytes = 0;
  double tokens_per_second() const { return seconds > 0 ? steps / seconds : 0; }
  double kv_bytes_per_token() const { return steps ? kv_bytes / steps : 0; }
  double dense_kv_bytes_per_token() const { return steps ? dense_kv_bytes / steps : 0; }
  void add(const DecodeStepStats& step);  // one more decode step
  void add(const DecodeTotals& more);     // the steps of another run
};

}  // namespace adamas
