#include "adamas/model/bpe_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <queue>
#include <sstream>

#include <nlohmann/json.hpp>

#include "adamas/error.h"

namespace adamas {

namespace {

constexpr uint32_t kInvalidCodePoint = 0xFFFFFFFFu;

struct CodePoint {
  uint32_t value;  // kInvalidCodePoint for a byte that does not start valid UTF-8
  size_t length;   // bytes consumed (1 for an invalid byte)
};

// Decodes one UTF-8 code point at `pos`. Invalid, overlong or truncated sequences consume a single
// byte and come back as kInvalidCodePoint, so every byte of the input lands in some piece.
CodePoint decode_utf8(const std::string& text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(pos);
  if (lead < 0x80) return {lead, 1};
  size_t length;
  uint32_t value;
  uint32_t min_value;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, value = lead & 0x1F, min_value = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, value = lead & 0x0F, min_value = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, value = lead & 0x07, min_value = 0x10000;
  } else {
    return {kInvalidCodePoint, 1};
  }
  if (pos + length > text.size()) return {kInvalidCodePoint, 1};
  for (size_t i = 1; i < length; ++i) {
    const uint8_t continuation = byte(pos + i);
    if ((continuation & 0xC0) != 0x80) return {kInvalidCodePoint, 1};
    value = (value << 6) | (continuation & 0x3F);
  }
  if (value < min_value || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    return {kInvalidCodePoint, 1};
  }
  return {value, length};
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// ---- Unicode classes for the pre-tokenizer ----
// The regexes need \s (White_Space), \p{L} (letters) and \p{N} (numbers). Rather than carrying
// the full Unicode tables, whitespace and numbers are listed (exactly for ASCII and Latin-1, the
// common decimal-digit, number-form and enclosed-number blocks beyond), and so are the
// punctuation, symbol, mark and control blocks that must not count as letters; every other
// code point counts as a letter. This matches Hugging Face's tokenizers on ASCII, Latin-1,
// Latin/Greek/Cyrillic/CJK text, common punctuation and emoji; it can differ on rare symbols and
// on combining marks of scripts not listed (e.g. most Indic vowel signs outside Devanagari).

struct Range {
  uint32_t first;
  uint32_t last;
};

bool in_ranges(uint32_t cp, const Range* ranges, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (cp >= ranges[i].first && cp <= ranges[i].last) return true;
  }
  return false;
}

constexpr Range kWhitespace[] = {{0x09, 0x0D}, {0x20, 0x20},     {0x85, 0x85},     {0xA0, 0xA0},
                                 {0x1680, 0x1680}, {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F},
                                 {0x205F, 0x205F}, {0x3000, 0x3000}};

constexpr Range kNumbers[] = {
    {0x30, 0x39},       {0xB2, 0xB3},       {0xB9, 0xB9},       {0xBC, 0xBE},       {0x660, 0x669},
    {0x6F0, 0x6F9},     {0x7C0, 0x7C9},     {0x966, 0x96F},     {0x9E6, 0x9EF},     {0xA66, 0xA6F},
    {0xAE6, 0xAEF},     {0xB66, 0xB6F},     {0xBE6, 0xBF2},     {0xC66, 0xC6F},     {0xCE6, 0xCEF},
    {0xD66, 0xD6F},     {0xE50, 0xE59},     {0xED0, 0xED9},     {0xF20, 0xF33},     {0x1040, 0x1049},
    {0x16EE, 0x16F0},   {0x17E0, 0x17E9},   {0x1810, 0x1819},   {0x2070, 0x2070},   {0x2074, 0x2079},
    {0x2080, 0x2089},   {0x2150, 0x2182},   {0x2185, 0x2189},   {0x2460, 0x249B},   {0x24EA, 0x24FF},
    {0x2776, 0x2793},   {0x3007, 0x3007},   {0x3021, 0x3029},   {0x3038, 0x303A},   {0x3192, 0x3195},
    {0x3220, 0x3229},   {0x3248, 0x324F},   {0x3251, 0x325F},   {0x3280, 0x3289},   {0x32B1, 0x32BF},
    {0xFF10, 0xFF19},   {0x1D7CE, 0x1D7FF}, {0x1F100, 0x1F10C},
};

// Non-letters beyond Latin-1 (whitespace and numbers are tested first).
constexpr Range kNonLetters[] = {
    {0x02C2, 0x02C5},   {0x02D2, 0x02DF},   {0x02E5, 0x02EB},   {0x02ED, 0x02ED},   {0x02EF, 0x036F},
    {0x0375, 0x0375},   {0x037E, 0x037E},   {0x0384, 0x0385},   {0x0387, 0x0387},   {0x03F6, 0x03F6},
    {0x0482, 0x0489},   {0x055A, 0x055F},   {0x0589, 0x058F},   {0x0591, 0x05C7},   {0x05F3, 0x05F4},
    {0x0600, 0x061F},   {0x064B, 0x065F},   {0x066A, 0x066D},   {0x0670, 0x0670},   {0x06D4, 0x06D4},
    {0x06D6, 0x06ED},   {0x0900, 0x0903},   {0x093A, 0x093C},   {0x093E, 0x094F},   {0x0951, 0x0957},
    {0x0962, 0x0965},   {0x0970, 0x0970},   {0x0E31, 0x0E31},   {0x0E34, 0x0E3F},   {0x0E47, 0x0E4F},
    {0x0E5A, 0x0E5B},   {0x1AB0, 0x1AFF},   {0x1DC0, 0x1DFF},   {0x2010, 0x206F},   {0x207A, 0x207E},
    {0x208A, 0x208E},   {0x20A0, 0x20FF},   {0x2100, 0x2101},   {0x2103, 0x2106},   {0x2108, 0x2109},
    {0x2114, 0x2114},   {0x2116, 0x2118},   {0x211E, 0x2123},   {0x2125, 0x2125},   {0x2127, 0x2127},
    {0x2129, 0x2129},   {0x212E, 0x212E},   {0x213A, 0x213B},   {0x2140, 0x2144},   {0x214A, 0x214D},
    {0x214F, 0x214F},   {0x218A, 0x245F},   {0x249C, 0x24E9},   {0x2500, 0x2775},   {0x2794, 0x2BFF},
    {0x2CE5, 0x2CEA},   {0x2CEF, 0x2CF1},   {0x2CF9, 0x2CFF},   {0x2DE0, 0x2E7F},   {0x2E80, 0x2FFF},
    {0x3001, 0x3004},   {0x3008, 0x3020},   {0x302A, 0x3030},   {0x3036, 0x3037},   {0x303D, 0x303F},
    {0x3099, 0x309C},   {0x30A0, 0x30A0},   {0x30FB, 0x30FB},   {0x3190, 0x3191},   {0x3196, 0x319F},
    {0x31C0, 0x31EF},   {0x3200, 0x321E},   {0x322A, 0x3247},   {0x3250, 0x3250},   {0x3260, 0x327F},
    {0x328A, 0x32B0},   {0x32C0, 0x33FF},   {0x4DC0, 0x4DFF},   {0xA490, 0xA4C6},   {0xA4FE, 0xA4FF},
    {0xD800, 0xF8FF},   {0xFB29, 0xFB29},   {0xFD3E, 0xFD3F},   {0xFDFC, 0xFDFF},   {0xFE00, 0xFE6F},
    {0xFEFF, 0xFEFF},   {0xFF01, 0xFF0F},   {0xFF1A, 0xFF20},   {0xFF3B, 0xFF40},   {0xFF5B, 0xFF65},
    {0xFFE0, 0xFFFF},   {0x1D000, 0x1D24F}, {0x1F000, 0x1F0FF}, {0x1F10D, 0x1FBFF}, {0xE0000, 0xE01EF},
    {0xF0000, 0x10FFFF},
};

enum class CharClass : uint8_t { kLetter, kNumber, kSpace, kOther };

CharClass classify(uint32_t cp) {
  if (cp == kInvalidCodePoint) return CharClass::kOther;
  if (cp < 0x80) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return CharClass::kLetter;
    if (cp >= '0' && cp <= '9') return CharClass::kNumber;
    if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x20) return CharClass::kSpace;
    return CharClass::kOther;
  }
  if (in_ranges(cp, kWhitespace, std::size(kWhitespace))) return CharClass::kSpace;
  if (in_ranges(cp, kNumbers, std::size(kNumbers))) return CharClass::kNumber;
  if (cp < 0x100) {  // Latin-1: letters are ª µ º and À..ÿ except × and ÷
    const bool letter = cp == 0xAA || cp == 0xB5 || cp == 0xBA || (cp >= 0xC0 && cp != 0xD7 && cp != 0xF7);
    return letter ? CharClass::kLetter : CharClass::kOther;
  }
  if (in_ranges(cp, kNonLetters, std::size(kNonLetters))) return CharClass::kOther;
  return CharClass::kLetter;
}

struct Char {
  size_t begin;  // byte offset
  size_t end;
  uint32_t cp;
  CharClass cls;
};

// GPT-2's pattern over chars[first, last), appending byte ranges to `pieces`. Alternatives are
// tried in the regex's order at each position, each greedy, the first that matches wins.
void split_gpt2(const std::vector<Char>& chars, size_t first, size_t last,
                std::vector<std::pair<size_t, size_t>>& pieces) {
  const auto cls = [&](size_t i) { return i < last ? chars[i].cls : CharClass::kSpace; };
  const auto cp = [&](size_t i) { return i < last ? chars[i].cp : 0u; };
  const auto run_end = [&](size_t i, CharClass c) {
    while (i < last && chars[i].cls == c) ++i;
    return i;
  };
  size_t i = first;
  while (i < last) {
    size_t end = i;
    // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive, as in GPT-2)
    if (cp(i) == '\'' && i + 1 < last) {
      const uint32_t a = cp(i + 1);
      const uint32_t b = i + 2 < last ? cp(i + 2) : 0;
      if (a == 's' || a == 't' || a == 'm' || a == 'd') {
        end = i + 2;
      } else if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
        end = i + 3;
      }
    }
    if (end == i) {
      const bool space_prefix = cp(i) == ' ' && i + 1 < last;
      const size_t body = space_prefix ? i + 1 : i;
      const CharClass body_class = cls(body);
      if (body_class == CharClass::kLetter || body_class == CharClass::kNumber ||
          (body_class == CharClass::kOther && body < last)) {
        //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+
        end = run_end(body, body_class);
      } else if (cls(i) == CharClass::kSpace) {
        // \s+(?!\S) backs off one char when non-space follows the run; \s+ takes a lone one.
        const size_t space_end = run_end(i, CharClass::kSpace);
        end = (space_end < last && space_end - i >= 2) ? space_end - 1 : space_end;
      } else {
        end = i + 1;  // unreachable: every class is covered above
      }
    }
    pieces.emplace_back(chars[i].begin, chars[end - 1].end);
    i = end;
  }
}

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the other 68 to U+0100.. in order.
void build_byte_symbols(std::string* byte_symbols, std::unordered_map<uint32_t, uint8_t>& symbol_bytes) {
  uint32_t next_extra = 0x100;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const uint32_t cp = printable ? b : next_extra++;
    append_utf8(byte_symbols[b], cp);
    symbol_bytes[cp] = static_cast<uint8_t>(b);
  }
}

std::string merge_key(const std::string& left, const std::string& right) {
  std::string key;
  key.reserve(left.size() + 1 + right.size());
  key.append(left).push_back('\0');
  key.append(right);
  return key;
}

}  // namespace

BpePreTokenizer parse_bpe_pre_tokenizer(const std::string& name) {
  if (name == "gpt2" || name == "default") return BpePreTokenizer::kGpt2;
  if (name == "smollm" || name == "starcoder") return BpePreTokenizer::kDigitsThenGpt2;
  throw Error("tokenizer pre-tokenizer '" + name + "' is not supported, expected gpt2, smollm or starcoder");
}

BpeTokenizer::BpeTokenizer(BpeVocab vocab, const std::string& source_name) : vocab_(std::move(vocab)) {
  const int64_t n_tokens = static_cast<int64_t>(vocab_.tokens.size());
  ADAMAS_CHECK(n_tokens > 0 && n_tokens <= std::numeric_limits<int32_t>::max(), source_name,
               ": tokenizer has ", n_tokens, " tokens, expected 1..", std::numeric_limits<int32_t>::max());
  build_byte_symbols(byte_symbols_, symbol_bytes_);
  kinds_.assign(vocab_.tokens.size(), TokenKind::kNormal);
  token_ids_.reserve(vocab_.tokens.size());
  for (int32_t id = 0; id < n_tokens; ++id) {
    // Duplicates happen in real vocabularies (unused placeholder entries); the first id wins, as
    // in llama.cpp.
    token_ids_.emplace(vocab_.tokens[id], id);
  }
  const auto check_id = [&](int32_t id, const char* what) {
    ADAMAS_CHECK(id >= -1 && id < n_tokens, source_name, ": ", what, " id ", id, " is outside the vocabulary [0, ",
                 n_tokens, ")");
  };
  check_id(vocab_.bos_id, "BOS");
  check_id(vocab_.eos_id, "EOS");
  check_id(vocab_.unk_id, "unknown-token");
  for (int32_t id : vocab_.control_ids) {
    ADAMAS_CHECK(id >= 0 && id < n_tokens, source_name, ": control token id ", id, " is outside [0, ", n_tokens, ")");
    kinds_[id] = TokenKind::kControl;
  }
  for (int32_t id : vocab_.added_ids) {
    ADAMAS_CHECK(id >= 0 && id < n_tokens, source_name, ": added token id ", id, " is outside [0, ", n_tokens, ")");
    kinds_[id] = TokenKind::kAdded;
  }
  for (int32_t id = 0; id < n_tokens; ++id) {
    if (kinds_[id] != TokenKind::kNormal && !vocab_.tokens[id].empty()) specials_.emplace_back(vocab_.tokens[id], id);
  }
  // Longest first, so that a special token that extends another wins.
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  merge_ranks_.reserve(vocab_.merges.size());
  for (size_t rank = 0; rank < vocab_.merges.size(); ++rank) {
    const auto& [left, right] = vocab_.merges[rank];
    ADAMAS_CHECK(!left.empty() && !right.empty(), source_name, ": merge ", rank, " ('", left, "' '", right,
                 "') has an empty side, expected two tokens");
    // Keep the first (lowest) rank of a repeated merge.
    merge_ranks_.emplace(merge_key(left, right), static_cast<int32_t>(rank));
  }
}

std::vector<std::pair<size_t, size_t>> BpeTokenizer::pre_tokenize(const std::string& text) const {
  std::vector<Char> chars;
  chars.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const CodePoint cp = decode_utf8(text, pos);
    chars.push_back({pos, pos + cp.length, cp.value, classify(cp.value)});
    pos += cp.length;
  }
  std::vector<std::pair<size_t, size_t>> pieces;
  if (vocab_.pre_tokenizer == BpePreTokenizer::kGpt2) {
    split_gpt2(chars, 0, chars.size(), pieces);
    return pieces;
  }
  // Digits first: each number char is a piece of its own, the text between goes through GPT-2's.
  size_t segment = 0;
  for (size_t i = 0; i <= chars.size(); ++i) {
    if (i == chars.size() || chars[i].cls == CharClass::kNumber) {
      split_gpt2(chars, segment, i, pieces);
      if (i < chars.size()) pieces.emplace_back(chars[i].begin, chars[i].end);
      segment = i + 1;
    }
  }
  return pieces;
}

std::vector<int32_t> BpeTokenizer::encode_piece(const std::string& piece) const {
  // Symbols form a linked list; a min-heap holds candidate merges ordered by (rank, left index),
  // so the lowest-ranked pair merges first and ties go to the leftmost, as in Hugging Face's BPE.
  // Entries go stale when a neighbour changes and are re-validated when popped: O(n log n) in the
  // piece length, so long runs (pages of whitespace, base64) stay cheap.
  struct Symbol {
    std::string text;
    int64_t prev;
    int64_t next;
    bool alive;
  };
  struct Candidate {
    int32_t rank;
    int64_t left;
    int64_t right;
    bool operator>(const Candidate& other) const {
      return rank != other.rank ? rank > other.rank : left > other.left;
    }
  };
  constexpr int32_t kNoMerge = -1;
  const auto rank_of = [&](const std::string& left, const std::string& right) {
    const auto it = merge_ranks_.find(merge_key(left, right));
    return it == merge_ranks_.end() ? kNoMerge : it->second;
  };
  const int64_t n = static_cast<int64_t>(piece.size());
  std::vector<Symbol> symbols;
  symbols.reserve(piece.size());
  for (int64_t i = 0; i < n; ++i) {
    symbols.push_back({byte_symbols_[static_cast<unsigned char>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1, true});
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> candidates;
  const auto push_pair = [&](int64_t left, int64_t right) {
    if (left < 0 || right < 0) return;
    const int32_t rank = rank_of(symbols[left].text, symbols[right].text);
    if (rank != kNoMerge) candidates.push({rank, left, right});
  };
  for (int64_t i = 0; i + 1 < n; ++i) push_pair(i, i + 1);
  while (!candidates.empty()) {
    const Candidate top = candidates.top();
    candidates.pop();
    Symbol& left = symbols[top.left];
    if (!left.alive || left.next != top.right) continue;  // a side was merged away
    Symbol& right = symbols[top.right];
    if (rank_of(left.text, right.text) != top.rank) continue;  // the right side grew since
    left.text += right.text;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    push_pair(left.prev, top.left);
    push_pair(top.left, left.next);
  }
  std::vector<std::string> merged;
  for (int64_t i = n > 0 ? 0 : -1; i >= 0; i = symbols[i].next) merged.push_back(std::move(symbols[i].text));

  std::vector<int32_t> ids;
  ids.reserve(merged.size());
  for (const std::string& symbol : merged) {
    const auto it = token_ids_.find(symbol);
    if (it != token_ids_.end()) {
      ids.push_back(it->second);
      continue;
    }
    // A merge result missing from the vocab: fall back to its single-byte symbols.
    for (size_t pos = 0; pos < symbol.size();) {
      const CodePoint cp = decode_utf8(symbol, pos);
      std::string one = symbol.substr(pos, cp.length);
      pos += cp.length;
      const auto byte_it = token_ids_.find(one);
      if (byte_it != token_ids_.end()) {
        ids.push_back(byte_it->second);
      } else {
        ADAMAS_CHECK(vocab_.unk_id >= 0, "BPE tokenizer: symbol '", one,
                     "' is not in the vocabulary and there is no unknown token");
        ids.push_back(vocab_.unk_id);
      }
    }
  }
  return ids;
}

std::vector<int32_t> BpeTokenizer::encode(const std::string& text, bool add_bos) const {
  std::vector<int32_t> ids;
  if (add_bos && vocab_.bos_id >= 0) ids.push_back(vocab_.bos_id);
  const auto encode_plain = [&](size_t begin, size_t end) {
    if (begin == end) return;
    const std::string plain = text.substr(begin, end - begin);
    for (const auto& [piece_begin, piece_end] : pre_tokenize(plain)) {
      const std::vector<int32_t> piece_ids = encode_piece(plain.substr(piece_begin, piece_end - piece_begin));
      ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
    }
  };
  size_t plain_begin = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const std::pair<std::string, int32_t>* match = nullptr;
    for (const auto& special : specials_) {
      if (text.compare(pos, special.first.size(), special.first) == 0) {
        match = &special;
        break;
      }
    }
    if (match == nullptr) {
      ++pos;
      continue;
    }
    encode_plain(plain_begin, pos);
    ids.push_back(match->second);
    pos += match->first.size();
    plain_begin = pos;
  }
  encode_plain(plain_begin, text.size());
  return ids;
}

std::string BpeTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string text;
  for (int32_t id : ids) {
    ADAMAS_CHECK(id >= 0 && id < vocab_size(), "BPE decode: token id ", id, " is outside the vocabulary [0, ",
                 vocab_size(), ")");
    const std::string& token = vocab_.tokens[id];
    switch (kinds_[id]) {
      case TokenKind::kControl: break;
      case TokenKind::kAdded: text += token; break;
      case TokenKind::kNormal:
        for (size_t pos = 0; pos < token.size();) {
          const CodePoint cp = decode_utf8(token, pos);
          const auto it = cp.value == kInvalidCodePoint ? symbol_bytes_.end() : symbol_bytes_.find(cp.value);
          if (it != symbol_bytes_.end()) {
            text.push_back(static_cast<char>(it->second));
          } else {
            text.append(token, pos, cp.length);  // not a byte symbol: the token's own text
          }
          pos += cp.length;
        }
        break;
    }
  }
  return text;
}

namespace {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ADAMAS_CHECK(in.good(), path, ": cannot open");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

nlohmann::json parse_json(const std::string& text, const std::string& path) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": malformed JSON: " + e.what());
  }
}

// Whether a tokenizer.json pre_tokenizer is ByteLevel (kGpt2) or Digits + ByteLevel.
BpePreTokenizer parse_json_pre_tokenizer(const nlohmann::json& pre, const std::string& path) {
  const auto check_byte_level = [&](const nlohmann::json& node) {
    ADAMAS_CHECK(node.is_object() && node.value("type", "") == "ByteLevel", path,
                 ": pre_tokenizer ", node.dump(), " is not supported, expected ByteLevel");
    ADAMAS_CHECK(!node.value("add_prefix_space", false), path,
                 ": ByteLevel pre_tokenizer with add_prefix_space=true is not supported");
    ADAMAS_CHECK(node.value("use_regex", true), path,
                 ": ByteLevel pre_tokenizer with use_regex=false is not supported");
  };
  ADAMAS_CHECK(pre.is_object(), path, ": pre_tokenizer is ", pre.dump(), ", expected an object");
  if (pre.value("type", "") == "Sequence") {
    const nlohmann::json& steps = pre.at("pretokenizers");
    if (steps.size() == 1) {
      check_byte_level(steps[0]);
      return BpePreTokenizer::kGpt2;
    }
    ADAMAS_CHECK(steps.size() == 2 && steps[0].value("type", "") == "Digits" &&
                     steps[0].value("individual_digits", false),
                 path, ": pre_tokenizer ", pre.dump(),
                 " is not supported, expected ByteLevel or Digits(individual_digits) then ByteLevel");
    check_byte_level(steps[1]);
    return BpePreTokenizer::kDigitsThenGpt2;
  }
  check_byte_level(pre);
  return BpePreTokenizer::kGpt2;
}

// "bos_token" of tokenizer_config.json: a string, an AddedToken object or null.
std::string config_token(const nlohmann::json& config, const char* key) {
  if (!config.contains(key)) return "";
  const nlohmann::json& value = config.at(key);
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value.at("content").is_string()) {
    return value.at("content").get<std::string>();
  }
  return "";
}

}  // namespace

std::unique_ptr<Tokenizer> load_bpe_tokenizer_json(const std::string& tokenizer_json_path) {
  const std::string& path = tokenizer_json_path;
  const nlohmann::json root = parse_json(read_text_file(path), path);
  try {
    const nlohmann::json& model = root.at("model");
    ADAMAS_CHECK(model.value("type", "BPE") == "BPE", path, ": model.type is '", model.value("type", ""),
                 "', expected BPE");
    BpeVocab vocab;
    if (root.contains("pre_tokenizer") && !root.at("pre_tokenizer").is_null()) {
      vocab.pre_tokenizer = parse_json_pre_tokenizer(root.at("pre_tokenizer"), path);
    } else {
      throw Error(path + ": pre_tokenizer is missing, expected ByteLevel (byte-level BPE)");
    }
    ADAMAS_CHECK(!root.contains("normalizer") || root.at("normalizer").is_null(), path,
                 ": normalizer ", root.at("normalizer").dump(), " is not supported, expected null");

    std::vector<std::pair<int64_t, std::string>> entries;
    for (const auto& [text, id] : model.at("vocab").items()) entries.emplace_back(id.get<int64_t>(), text);
    std::vector<int32_t> control_ids;
    std::vector<int32_t> added_ids;
    if (root.contains("added_tokens")) {
      for (const nlohmann::json& added : root.at("added_tokens")) {
        const int64_t id = added.at("id").get<int64_t>();
        entries.emplace_back(id, added.at("content").get<std::string>());
        (added.value("special", false) ? control_ids : added_ids).push_back(static_cast<int32_t>(id));
      }
    }
    int64_t max_id = -1;
    for (const auto& entry : entries) {
      ADAMAS_CHECK(entry.first >= 0 && entry.first < std::numeric_limits<int32_t>::max(), path, ": token '",
                   entry.second, "' has id ", entry.first, ", expected 0..", std::numeric_limits<int32_t>::max() - 1);
      max_id = std::max(max_id, entry.first);
    }
    ADAMAS_CHECK(max_id >= 0, path, ": model.vocab is empty");
    vocab.tokens.assign(static_cast<size_t>(max_id + 1), std::string());
    std::vector<bool> seen(vocab.tokens.size(), false);
    for (const auto& [id, text] : entries) {
      // An added token may repeat a vocab entry with the same id; two different texts may not.
      ADAMAS_CHECK(!seen[id] || vocab.tokens[id] == text, path, ": token id ", id, " is both '",
                   vocab.tokens[id], "' and '", text, "'");
      vocab.tokens[id] = text;
      seen[id] = true;
    }
    for (size_t id = 0; id < seen.size(); ++id) {
      ADAMAS_CHECK(seen[id], path, ": token id ", id, " has no entry, expected ids 0..", max_id, " without gaps");
    }
    for (const nlohmann::json& merge : model.at("merges")) {
      if (merge.is_string()) {
        const std::string text = merge.get<std::string>();
        const size_t space = text.find(' ');
        ADAMAS_CHECK(space != std::string::npos, path, ": merge '", text, "' has no space, expected \"left right\"");
        vocab.merges.emplace_back(text.substr(0, space), text.substr(space + 1));
      } else {
        ADAMAS_CHECK(merge.is_array() && merge.size() == 2, path, ": merge ", merge.dump(),
                     ", expected \"left right\" or [left, right]");
        vocab.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
      }
    }
    vocab.control_ids = std::move(control_ids);
    vocab.added_ids = std::move(added_ids);
    if (model.contains("unk_token") && model.at("unk_token").is_string()) {
      const std::string unk = model.at("unk_token").get<std::string>();
      for (size_t id = 0; id < vocab.tokens.size(); ++id) {
        if (vocab.tokens[id] == unk) vocab.unk_id = static_cast<int32_t>(id);
      }
    }
    const std::filesystem::path config_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
    if (std::filesystem::exists(config_path)) {
      const nlohmann::json config = parse_json(read_text_file(config_path.string()), config_path.string());
      const auto lookup = [&](const char* key) {
        const std::string token = config_token(config, key);
        if (token.empty()) return int32_t{-1};
        for (size_t id = 0; id < vocab.tokens.size(); ++id) {
          if (vocab.tokens[id] == token) return static_cast<int32_t>(id);
        }
        throw Error(detail::concat(config_path.string(), ": ", key, " '", token, "' is not in the vocabulary of ", path));
      };
      vocab.bos_id = lookup("bos_token");
      vocab.eos_id = lookup("eos_token");
    }
    return std::make_unique<BpeTokenizer>(std::move(vocab), path);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": unexpected tokenizer.json structure: " + e.what());
  }
}

}  // namespace adamas
