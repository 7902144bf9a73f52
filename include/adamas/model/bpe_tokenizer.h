// GPT-2 style byte-level BPE: text is split by a pre-tokenizer regex (implemented by hand, see
// bpe_tokenizer.cpp for the Unicode approximation), each piece's bytes are mapped to printable
// code points (GPT-2's bytes_to_unicode), and adjacent symbols are merged by merge rank. Used by
// GGUF files with tokenizer.ggml.model = "gpt2" and by Hugging Face tokenizer.json BPE models.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "adamas/model/tokenizer.h"

namespace adamas {

enum class BpePreTokenizer {
  kGpt2,          // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kDigitsThenGpt2 // every \p{N} code point split off on its own first, then kGpt2 (SmolLM, StarCoder)
};

// Maps a GGUF tokenizer.ggml.pre name ("gpt2", "smollm", "starcoder"). Throws adamas::Error
// naming the value and the supported names.
BpePreTokenizer parse_bpe_pre_tokenizer(const std::string& name);

struct BpeVocab {
  std::vector<std::string> tokens;  // id -> token text in byte-level form ("Ġthe")
  std::vector<std::pair<std::string, std::string>> merges;  // rank order, first merges first
  // Tokens matched whole in the input text before pre-tokenization (chat markers like
  // <|im_start|>). Control ids are dropped by decode; other added ids decode to their text.
  std::vector<int32_t> control_ids;
  std::vector<int32_t> added_ids;
  BpePreTokenizer pre_tokenizer = BpePreTokenizer::kGpt2;
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t unk_id = -1;  // used for a byte with no token (a vocab without all 256 byte symbols)
};

class BpeTokenizer : public Tokenizer {
 public:
  // Validates the vocab (unique tokens, merges naming known tokens, ids in range) and builds the
  // lookup tables. `source_name` prefixes error messages. Throws adamas::Error.
  BpeTokenizer(BpeVocab vocab, const std::string& source_name);

  std::vector<int32_t> encode(const std::string& text, bool add_bos) const override;
  // Throws adamas::Error for an id outside [0, vocab_size).
  std::string decode(const std::vector<int32_t>& ids) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.tokens.size()); }
  int32_t bos_id() const override { return vocab_.bos_id; }
  int32_t eos_id() const override { return vocab_.eos_id; }

  // Byte ranges [begin, end) of `text` as split by the pre-tokenizer (no special-token handling).
  std::vector<std::pair<size_t, size_t>> pre_tokenize(const std::string& text) const;
  // The token ids of one pre-tokenized piece (raw bytes), by rank-ordered merges.
  std::vector<int32_t> encode_piece(const std::string& piece) const;

 private:
  enum class TokenKind : uint8_t { kNormal, kControl, kAdded };

  BpeVocab vocab_;
  std::vector<TokenKind> kinds_;
  std::unordered_map<std::string, int32_t> token_ids_;
  std::unordered_map<std::string, int32_t> merge_ranks_;  // key: left + '\0' + right
  std::vector<std::pair<std::string, int32_t>> specials_;  // matched whole, longest first
  std::string byte_symbols_[256];                          // bytes_to_unicode, UTF-8 encoded
  std::unordered_map<uint32_t, uint8_t> symbol_bytes_;     // inverse, by code point
};

// Loads a Hugging Face tokenizer.json whose model is byte-level BPE: model.vocab, model.merges
// ("a b" strings or [a, b] pairs), added_tokens (special ones become control tokens), and a
// ByteLevel pre-tokenizer (add_prefix_space false), optionally preceded by
// Digits(individual_digits). BOS/EOS come from "bos_token"/"eos_token" of a tokenizer_config.json
// in the same directory when there is one, else none. Throws adamas::Error naming the file.
std::unique_ptr<Tokenizer> load_bpe_tokenizer_json(const std::string& tokenizer_json_path);

}  // namespace adamas
