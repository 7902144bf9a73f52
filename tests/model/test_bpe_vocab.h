// A tiny byte-level BPE vocabulary with hand-picked merges, for known-answer tests: ids 0..255 are
// the byte symbols in byte order, 256.. the merge results, then four added tokens.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "adamas/model/bpe_tokenizer.h"

namespace adamas::test {

inline std::string utf8_of(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// GPT-2's byte symbols: the 188 bytes that print as Latin-1 stand for themselves; the 68 others
// (controls, space, DEL, NBSP, soft hyphen) take U+0100, U+0101, ... in byte order.
inline std::vector<std::string> byte_symbol_table() {
  std::vector<std::string> symbols(256);
  uint32_t next = 0x100;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool stands_for_itself = (b > 0x20 && b < 0x7F) || (b > 0xA0 && b != 0xAD);
    symbols[b] = utf8_of(stands_for_itself ? b : next++);
  }
  return symbols;
}

constexpr int32_t kTinyHello = 260;
constexpr int32_t kTinySpaceWor = 263;
constexpr int32_t kTinyBc = 264;
constexpr int32_t kTinySpaceThe = 266;
constexpr int32_t kTinyEndOfText = 267;
constexpr int32_t kTinyImStart = 268;
constexpr int32_t kTinyImEnd = 269;
constexpr int32_t kTinyExtra = 270;

inline BpeVocab tiny_vocab(BpePreTokenizer pre = BpePreTokenizer::kGpt2) {
  BpeVocab vocab;
  vocab.tokens = byte_symbol_table();
  const std::string g = utf8_of(0x120);  // "Ġ": the space byte's symbol
  const std::vector<std::pair<std::string, std::string>> merges = {
      {g, "t"},    {"h", "e"}, {"l", "l"},     {"he", "ll"}, {"hell", "o"}, {g, "w"},
      {"o", "r"},  {g + "w", "or"}, {"b", "c"}, {"a", "b"},  {g + "t", "he"},
  };
  for (const auto& [left, right] : merges) {
    vocab.merges.emplace_back(left, right);
    vocab.tokens.push_back(left + right);  // ids 256..266 in merge order
  }
  vocab.tokens.push_back("<|endoftext|>");
  vocab.tokens.push_back("<|im_start|>");
  vocab.tokens.push_back("<|im_end|>");
  vocab.tokens.push_back("<extra>");
  vocab.control_ids = {kTinyEndOfText, kTinyImStart, kTinyImEnd};
  vocab.added_ids = {kTinyExtra};
  vocab.bos_id = kTinyImStart;
  vocab.eos_id = kTinyEndOfText;
  vocab.pre_tokenizer = pre;
  return vocab;
}

}  // namespace adamas::test
