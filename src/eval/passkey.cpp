#include "adamas/eval/passkey.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <random>
#include <sstream>

#include "adamas/error.h"

namespace adamas {

namespace {

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream stream(text);
  std::string word;
  while (stream >> word) words.push_back(word);
  return words;
}

std::string join(const std::vector<std::string>& words, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) {
    if (i > begin) out.push_back(' ');
    out += words[i];
  }
  return out;
}

std::string strip(const std::string& text) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return text.substr(begin, end - begin);
}

std::string needle_for(const std::string& key) {
  const std::string pattern = kPasskeyNeedle;
  const size_t slot = pattern.find("{}");
  ADAMAS_CHECK(slot != std::string::npos, "kPasskeyNeedle has no {} for the key");
  return pattern.substr(0, slot) + key + pattern.substr(slot + 2);
}

// train_model.py's build(nw): words[:nw] with the needle before word round(depth * nw) (Python's
// round: half to even, as std::nearbyint in the default rounding mode), then the question.
std::string build_prompt_text(const std::vector<std::string>& words, size_t word_count, double depth,
                              const std::string& needle) {
  const size_t d = static_cast<size_t>(std::nearbyint(depth * static_cast<double>(word_count)));
  std::string text = join(words, 0, d) + needle + (d < word_count ? " " : "") + join(words, d, word_count) +
                     kPasskeyQuestion;
  return strip(text);
}

}  // namespace

PasskeyPrompt build_passkey_prompt(const Tokenizer& tokenizer, const std::string& filler_text, int n_tokens,
                                   double depth, const std::string& key) {
  ADAMAS_CHECK(depth >= 0.0 && depth <= 1.0, "passkey depth ", depth, " is outside [0, 1]");
  const std::vector<std::string> words = split_words(filler_text);
  ADAMAS_CHECK(!words.empty(), "passkey: the filler text has no words");
  const std::string needle = needle_for(key);
  auto fits = [&](size_t word_count) {
    return static_cast<int>(tokenizer.encode(build_prompt_text(words, word_count, depth, needle), false).size()) + 1 <=
           n_tokens;
  };
  ADAMAS_CHECK(fits(1), "passkey: a prompt of ", n_tokens, " tokens cannot hold the needle and the question");
  size_t lo = 1, hi = std::min(words.size(), static_cast<size_t>(n_tokens) * 2);
  while (lo < hi) {
    const size_t mid = (lo + hi + 1) / 2;
    if (fits(mid)) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  PasskeyPrompt prompt;
  prompt.text = build_prompt_text(words, lo, depth, needle);
  prompt.tokens = tokenizer.encode(prompt.text, /*add_bos=*/true);
  return prompt;
}

PasskeyResult run_passkey(DecoderRuntime& runtime, const Tokenizer& tokenizer, const std::string& filler_text,
                          const PasskeyOptions& options, const ProgressFn& progress) {
  return run_passkey_shared(runtime, tokenizer, filler_text, options, {runtime.options().selector}, progress).front();
}

std::vector<PasskeyResult> run_passkey_shared(DecoderRuntime& runtime, const Tokenizer& tokenizer,
                                              const std::string& filler_text, const PasskeyOptions& options,
                                              const std::vector<SelectorOptions>& selectors,
                                              const ProgressFn& progress) {
  ADAMAS_CHECK(options.length >= 16, "passkey length must be >= 16 tokens, got ", options.length);
  ADAMAS_CHECK(options.trials > 0, "passkey trials must be positive, got ", options.trials);
  ADAMAS_CHECK(!options.depths.empty(), "passkey: no depths");
  ADAMAS_CHECK(options.max_new_tokens > 0, "passkey: max new tokens must be positive");
  ADAMAS_CHECK(!selectors.empty(), "passkey: no decode configurations");
  ADAMAS_CHECK(options.length + options.max_new_tokens <= runtime.options().max_context, "passkey: length ",
               options.length, " + ", options.max_new_tokens, " answer tokens exceed the runtime's max context ",
               runtime.options().max_context);
  const bool switching = selectors.size() > 1;  // one configuration: the runtime's own, as built
  if (switching)
    for (const SelectorOptions& selector : selectors) runtime.set_selector(selector);  // all valid before any work
  const int64_t vocab = runtime.config().vocab_size;
  std::mt19937_64 rng(options.seed);
  std::vector<PasskeyResult> results(selectors.size());
  std::vector<int> correct(selectors.size()), correct_total(selectors.size());
  std::vector<float> logits(vocab);
  const int64_t total = static_cast<int64_t>(options.depths.size()) * options.trials;
  int64_t done = 0;
  for (const double depth : options.depths) {
    std::fill(correct.begin(), correct.end(), 0);
    for (int trial = 0; trial < options.trials; ++trial) {
      char key[8];
      std::snprintf(key, sizeof(key), "%05d", static_cast<int>(rng() % 100000));
      const size_t offset = static_cast<size_t>(rng() % std::max<size_t>(1, filler_text.size() / 3));
      const PasskeyPrompt prompt = build_passkey_prompt(tokenizer, filler_text.substr(offset), options.length, depth, key);

      runtime.reset();
      const std::vector<int32_t> head(prompt.tokens.begin(), prompt.tokens.end() - 1);
      runtime.prefill(head, nullptr);
      for (size_t config = 0; config < selectors.size(); ++config) {
        PasskeyResult& result = results[config];
        if (switching) {
          runtime.rewind(static_cast<int>(head.size()));  // back to the shared prefill
          runtime.set_selector(selectors[config]);
        }
        std::vector<int32_t> answer;
        int32_t next = prompt.tokens.back();
        for (int step = 0; step < options.max_new_tokens; ++step) {
          runtime.decode(next, logits.data());
          result.decode.add(runtime.last_step());
          next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
          if (next == tokenizer.eos_id()) break;
          answer.push_back(next);
        }
        PasskeyTrial record;
        record.depth = depth;
        record.key = key;
        record.answer = tokenizer.decode(answer);
        record.prompt_tokens = static_cast<int>(prompt.tokens.size());
        const std::string stripped = strip(record.answer);
        std::string first_run;
        for (size_t i = 0; i < record.answer.size() && first_run.empty(); ++i) {
          size_t j = i;
          while (j < record.answer.size() && std::isdigit(static_cast<unsigned char>(record.answer[j]))) ++j;
          if (j - i >= 5) first_run = record.answer.substr(i, 5);
          if (j > i) i = j;
        }
        record.correct = first_run == record.key && stripped.rfind(record.key, 0) == 0;
        correct[config] += record.correct;
        result.trials.push_back(record);
      }
      if (progress) progress(++done, total);
    }
    for (size_t config = 0; config < selectors.size(); ++config) {
      results[config].depths.push_back(depth);
      results[config].accuracy_by_depth.push_back(static_cast<double>(correct[config]) / options.trials);
      correct_total[config] += correct[config];
    }
  }
  for (size_t config = 0; config < selectors.size(); ++config)
    results[config].accuracy = static_cast<double>(correct_total[config]) / total;
  return results;
}

std::string find_default_filler(const std::string& model_path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path relative = fs::path("data") / "heldout" / "austen_persuasion.txt";
  const fs::path model = fs::absolute(fs::path(model_path), error);
  fs::path dir = fs::is_directory(model, error) ? model : model.parent_path();
  for (int up = 0; up < 4 && !dir.empty(); ++up, dir = dir.parent_path()) {
    if (fs::is_regular_file(dir / relative, error)) return (dir / relative).string();
    if (dir == dir.parent_path()) break;
  }
  if (fs::is_regular_file(relative, error)) return relative.string();
  return "";
}

std::string load_filler_text(const std::string& path) {
  std::string text = read_text_file(path);
  const size_t chapter = text.find("Chapter 1");
  if (chapter != std::string::npos) text = text.substr(chapter);
  return text;
}

}  // namespace adamas
