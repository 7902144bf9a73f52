// Passkey retrieval: filler text with "The pass key is NNNNN. Remember it." at a chosen depth, then
// " What is the pass key? The pass key is"; the answer is greedy-decoded with the runtime's
// policy. The prompt is built exactly as scripts/train_model.py's passkey_prompt (the format the
// bundled model is trained on): whitespace-split filler words, needle inserted before word
// round(depth * words), the whole string stripped, BOS + tokens, and the largest word count whose
// prompt fits in `length` tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "adamas/eval/eval_common.h"
#include "adamas/model/llama_model.h"
#include "adamas/model/tokenizer.h"

namespace adamas {

inline constexpr const char* kPasskeyNeedle = " The pass key is {}. Remember it.";
inline constexpr const char* kPasskeyQuestion = " What is the pass key? The pass key is";

struct PasskeyPrompt {
  std::string text;
  std::vector<int32_t> tokens;  // BOS first
};

// Throws adamas::Error when the filler has no words or n_tokens cannot hold needle + question.
PasskeyPrompt build_passkey_prompt(const Tokenizer& tokenizer, const std::string& filler_text, int n_tokens,
                                   double depth, const std::string& key);

struct PasskeyOptions {
  int length = 8192;                                  // prompt tokens, BOS included
  std::vector<double> depths = {0.0, 0.25, 0.5, 0.75, 1.0};
  int trials = 5;                                     // per depth
  int max_new_tokens = 8;
  uint64_t seed = 4321;                               // keys and filler offsets
};

struct PasskeyTrial {
  double depth = 0;
  std::string key, answer;
  bool correct = false;
  int prompt_tokens = 0;
};

struct PasskeyResult {
  std::vector<double> depths, accuracy_by_depth;
  double accuracy = 0;
  std::vector<PasskeyTrial> trials;
  DecodeTotals decode;
};

// Per trial: a random 5-digit key and a random start in the first third of the filler; dense
// prefill of all prompt tokens but the last, then decode steps (the policy) for the last prompt
// token and each answer token. Correct when the answer's first 5-digit run is the key and the
// answer (stripped) starts with it. Throws adamas::Error on bad options.
PasskeyResult run_passkey(DecoderRuntime& runtime, const Tokenizer& tokenizer, const std::string& filler_text,
                          const PasskeyOptions& options, const ProgressFn& progress = {});

// run_passkey under several decode configurations from one prefill per trial: each prompt is
// prefilled once, then for every selector the runtime is rewound to the prefill and switched
// (DecoderRuntime::rewind, set_selector) and the answer decoded. results[i] equals run_passkey on
// a runtime built with selectors[i] (decode timings aside). With one selector the runtime's own
// options are used as they are. The runtime is left with the last selector. progress counts
// trials. Throws adamas::Error on bad options or a selector set_selector rejects.
std::vector<PasskeyResult> run_passkey_shared(DecoderRuntime& runtime, const Tokenizer& tokenizer,
                                              const std::string& filler_text, const PasskeyOptions& options,
                                              const std::vector<SelectorOptions>& selectors,
                                              const ProgressFn& progress = {});

// The bundled held-out filler (data/heldout/austen_persuasion.txt from "Chapter 1" on), looked up
// next to the model (<model>/../../data/heldout) and in the working directory; "" when absent.
std::string find_default_filler(const std::string& model_path);
// The text of a filler file, starting at "Chapter 1" when it has one (skips front matter).
std::string load_filler_text(const std::string& path);

}  // namespace adamas
