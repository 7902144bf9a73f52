#include "adamas/eval/eval_common.h"

#include <fstream>
#include <sstream>

#include "adamas/error.h"
#include "adamas/model/llama_model.h"

namespace adamas {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ADAMAS_CHECK(in, path, ": cannot open for reading");
  std::ostringstream text;
  text << in.rdbuf();
  ADAMAS_CHECK(!in.bad(), path, ": read failed");
  const std::string result = text.str();
  ADAMAS_CHECK(!result.empty(), path, ": file is empty");
  return result;
}

std::vector<int32_t> tokenize_for_eval(const Tokenizer& tokenizer, const std::string& text, int max_tokens,
                                       int min_tokens, const std::string& source_name) {
  ADAMAS_CHECK(max_tokens >= 0, "max tokens must be >= 0, got ", max_tokens);
  std::vector<int32_t> tokens = tokenizer.encode(text, /*add_bos=*/true);
  if (max_tokens > 0 && static_cast<int>(tokens.size()) > max_tokens) tokens.resize(max_tokens);
  ADAMAS_CHECK(static_cast<int>(tokens.size()) >= min_tokens, source_name, ": text gives ", tokens.size(),
               " tokens, need at least ", min_tokens);
  return tokens;
}

void DecodeTotals::add(const DecodeStepStats& step) {
  steps += 1;
  seconds += step.seconds;
  attention_seconds += step.attention_seconds;
  kv_bytes += step.kv_bytes_read;
  dense_kv_bytes += step.dense_kv_bytes;
}

void DecodeTotals::add(const DecodeTotals& more) {
  steps += more.steps;
  seconds += more.seconds;
  attention_seconds += more.attention_seconds;
  kv_bytes += more.kv_bytes;
  dense_kv_bytes += more.dense_kv_bytes;
}

}  // namespace adamas
