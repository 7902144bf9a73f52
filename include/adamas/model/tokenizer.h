// Text <-> token ids. Two implementations behind one interface: sentencepiece (tokenizer.model,
// through libsentencepiece) and GPT-2 style byte-level BPE (from GGUF metadata or tokenizer.json).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace adamas {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Token ids of `text`, with the BOS token first when `add_bos` and the model has one.
  virtual std::vector<int32_t> encode(const std::string& text, bool add_bos) const = 0;
  // Text of a sequence of ids (special tokens like BOS/EOS are dropped).
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 when none
  virtual int32_t eos_id() const = 0;  // -1 when none
};

// Loads tokenizer.model with libsentencepiece. Throws adamas::Error if missing or malformed.
std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& model_path);

}  // namespace adamas
