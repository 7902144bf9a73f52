#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adamas/error.h"
#include "adamas/model/bpe_tokenizer.h"
#include "test_bpe_vocab.h"

namespace adamas {
namespace {

using test::tiny_vocab;

std::vector<std::string> pieces_of(const BpeTokenizer& tokenizer, const std::string& text) {
  std::vector<std::string> pieces;
  for (const auto& [begin, end] : tokenizer.pre_tokenize(text)) pieces.push_back(text.substr(begin, end - begin));
  return pieces;
}

using Pieces = std::vector<std::string>;

// Expected splits recorded from Hugging Face tokenizers 0.21 (pre_tokenizers.ByteLevel with
// add_prefix_space=False, and Sequence[Digits(individual_digits=True), ByteLevel] for smollm).
TEST(BpePreTokenizer, Gpt2Splits) {
  const BpeTokenizer tokenizer(tiny_vocab(BpePreTokenizer::kGpt2), "tiny");
  EXPECT_EQ(pieces_of(tokenizer, "Hello, world!  It's 2024."),
            (Pieces{"Hello", ",", " world", "!", " ", " It", "'s", " 2024", "."}));
  EXPECT_EQ(pieces_of(tokenizer, "a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_EQ(pieces_of(tokenizer, "a\n\nb"), (Pieces{"a", "\n", "\n", "b"}));
  EXPECT_EQ(pieces_of(tokenizer, "trailing  "), (Pieces{"trailing", "  "}));
  EXPECT_EQ(pieces_of(tokenizer, "?!'s x"), (Pieces{"?!'", "s", " x"}));
  EXPECT_EQ(pieces_of(tokenizer, "don'T 'll'"), (Pieces{"don", "'", "T", " '", "ll", "'"}));
  EXPECT_EQ(pieces_of(tokenizer, "x1.5e10 "), (Pieces{"x", "1", ".", "5", "e", "10", " "}));
  EXPECT_EQ(pieces_of(tokenizer, " \t\n x"), (Pieces{" \t\n", " x"}));
  EXPECT_EQ(pieces_of(tokenizer, "café naïve ½ ²"), (Pieces{"café", " naïve", " ½", " ²"}));
  EXPECT_EQ(pieces_of(tokenizer, "日本語 テスト。"), (Pieces{"日本語", " テスト", "。"}));
  EXPECT_EQ(pieces_of(tokenizer, "emoji 😀😀 ok"), (Pieces{"emoji", " 😀😀", " ok"}));
  EXPECT_EQ(pieces_of(tokenizer, "a\u00a0b"), (Pieces{"a", "\u00a0", "b"}));
  EXPECT_EQ(pieces_of(tokenizer, "\u2003x"), (Pieces{"\u2003", "x"}));
  EXPECT_EQ(pieces_of(tokenizer, ""), Pieces{});
}

TEST(BpePreTokenizer, SmollmSplitsDigitsIndividually) {
  const BpeTokenizer tokenizer(tiny_vocab(BpePreTokenizer::kDigitsThenGpt2), "tiny");
  EXPECT_EQ(pieces_of(tokenizer, "Hello, world!  It's 2024."),
            (Pieces{"Hello", ",", " world", "!", " ", " It", "'s", " ", "2", "0", "2", "4", "."}));
  EXPECT_EQ(pieces_of(tokenizer, "x1.5e10 "), (Pieces{"x", "1", ".", "5", "e", "1", "0", " "}));
  EXPECT_EQ(pieces_of(tokenizer, "café naïve ½ ²"), (Pieces{"café", " naïve", " ", "½", " ", "²"}));
  EXPECT_EQ(pieces_of(tokenizer, "a   b"), (Pieces{"a", "  ", " b"}));
}

TEST(BpePreTokenizer, ParsesGgufNames) {
  EXPECT_EQ(parse_bpe_pre_tokenizer("gpt2"), BpePreTokenizer::kGpt2);
  EXPECT_EQ(parse_bpe_pre_tokenizer("smollm"), BpePreTokenizer::kDigitsThenGpt2);
  EXPECT_THROW(parse_bpe_pre_tokenizer("llama-bpe"), Error);
}

TEST(BpeTokenizer, KnownAnswersOnTinyVocab) {
  const BpeTokenizer tokenizer(tiny_vocab(), "tiny");
  // "hello": he (rank 1), ll (2), hell (3), hello (4). " world": Ġw (5), or (6), Ġwor (7), l, d.
  EXPECT_EQ(tokenizer.encode("hello world", false), (std::vector<int32_t>{test::kTinyHello, test::kTinySpaceWor, 'l', 'd'}));
  // (b, c) has a lower rank than (a, b), so "abc" is a + bc, not ab + c.
  EXPECT_EQ(tokenizer.encode("abc", false), (std::vector<int32_t>{'a', test::kTinyBc}));
  EXPECT_EQ(tokenizer.encode(" the", false), (std::vector<int32_t>{test::kTinySpaceThe}));
  // Bytes of "é" (C3 A9) are their own symbols, ids equal to the byte values.
  EXPECT_EQ(tokenizer.encode("é", false), (std::vector<int32_t>{0xC3, 0xA9}));
  EXPECT_EQ(tokenizer.encode("hi", true), (std::vector<int32_t>{test::kTinyImStart, 'h', 'i'}));
  EXPECT_EQ(tokenizer.encode("", false), std::vector<int32_t>{});
  EXPECT_EQ(tokenizer.bos_id(), test::kTinyImStart);
  EXPECT_EQ(tokenizer.eos_id(), test::kTinyEndOfText);
  EXPECT_EQ(tokenizer.vocab_size(), 271);
}

TEST(BpeTokenizer, SpecialTokensMatchWhole) {
  const BpeTokenizer tokenizer(tiny_vocab(), "tiny");
  const std::vector<int32_t> ids = tokenizer.encode("<|im_start|>hello<|im_end|>", false);
  EXPECT_EQ(ids, (std::vector<int32_t>{test::kTinyImStart, test::kTinyHello, test::kTinyImEnd}));
  EXPECT_EQ(tokenizer.decode(ids), "hello");  // control tokens dropped
  const std::vector<int32_t> added = tokenizer.encode("x<extra>y", false);
  EXPECT_EQ(added, (std::vector<int32_t>{'x', test::kTinyExtra, 'y'}));
  EXPECT_EQ(tokenizer.decode(added), "x<extra>y");  // user-defined tokens keep their text
  // A broken marker is ordinary text.
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("<|im_sta", false)), "<|im_sta");
}

TEST(BpeTokenizer, ByteSymbolAnchors) {
  // Fixed points of GPT-2's byte map, spelled out: NUL -> U+0100, '\n' -> U+010A 'Ċ',
  // ' ' -> U+0120 'Ġ', DEL -> U+0121, soft hyphen -> U+0143.
  const std::vector<std::string> table = test::byte_symbol_table();
  EXPECT_EQ(table[0x00], "\u0100");
  EXPECT_EQ(table[0x0A], "\u010A");
  EXPECT_EQ(table[0x20], "\u0120");
  EXPECT_EQ(table[0x7F], "\u0121");
  EXPECT_EQ(table[0xAD], "\u0143");
  EXPECT_EQ(table['a'], "a");
  const BpeTokenizer tokenizer(tiny_vocab(), "tiny");
  EXPECT_EQ(tokenizer.decode({0x0A, 0x20, 0x00, 0x7F, 0xAD}), std::string("\n \0\x7F\xAD", 5));
}

TEST(BpeTokenizer, DecodeRejectsOutOfRangeIds) {
  const BpeTokenizer tokenizer(tiny_vocab(), "tiny");
  EXPECT_THROW(tokenizer.decode({271}), Error);
  EXPECT_THROW(tokenizer.decode({-1}), Error);
}

TEST(BpeTokenizer, RejectsBadVocab) {
  BpeVocab vocab = tiny_vocab();
  vocab.bos_id = 5000;
  EXPECT_THROW(BpeTokenizer(vocab, "tiny"), Error);
  vocab = tiny_vocab();
  vocab.control_ids.push_back(-3);
  EXPECT_THROW(BpeTokenizer(vocab, "tiny"), Error);
  vocab = tiny_vocab();
  vocab.merges.emplace_back("", "x");
  EXPECT_THROW(BpeTokenizer(vocab, "tiny"), Error);
  EXPECT_THROW(BpeTokenizer(BpeVocab{}, "empty"), Error);
}

std::string random_utf8(std::mt19937& rng, size_t n_chars) {
  // Code points from ASCII (letters, digits, spaces, punctuation), Latin-1, Greek/Cyrillic, CJK,
  // general punctuation and emoji, with the odd raw invalid byte.
  static const std::vector<std::pair<uint32_t, uint32_t>> ranges = {
      {0x20, 0x7E}, {0x09, 0x0D}, {0x30, 0x39}, {0xA0, 0xFF}, {0x370, 0x3FF}, {0x400, 0x4FF},
      {0x4E00, 0x4E80}, {0x2000, 0x206F}, {0x1F600, 0x1F64F}, {0x300, 0x36F}, {0x660, 0x669}};
  std::string text;
  for (size_t i = 0; i < n_chars; ++i) {
    const auto& range = ranges[std::uniform_int_distribution<size_t>(0, ranges.size() - 1)(rng)];
    if (std::uniform_int_distribution<int>(0, 40)(rng) == 0) {
      text += static_cast<char>(std::uniform_int_distribution<int>(0x80, 0xFF)(rng));  // invalid UTF-8
      continue;
    }
    text += test::utf8_of(std::uniform_int_distribution<uint32_t>(range.first, range.second)(rng));
  }
  return text;
}

TEST(BpeTokenizer, RoundTripsRandomText) {
  for (const BpePreTokenizer pre : {BpePreTokenizer::kGpt2, BpePreTokenizer::kDigitsThenGpt2}) {
    const BpeTokenizer tokenizer(tiny_vocab(pre), "tiny");
    for (unsigned seed = 0; seed < 300; ++seed) {
      std::mt19937 rng(seed);
      const std::string text = random_utf8(rng, std::uniform_int_distribution<size_t>(0, 60)(rng));
      const std::vector<int32_t> ids = tokenizer.encode(text, false);
      ASSERT_EQ(tokenizer.decode(ids), text) << "seed " << seed;
      // Pieces cover the text exactly, in order.
      size_t expected_begin = 0;
      for (const auto& [begin, end] : tokenizer.pre_tokenize(text)) {
        ASSERT_EQ(begin, expected_begin) << "seed " << seed;
        ASSERT_LT(begin, end) << "seed " << seed;
        expected_begin = end;
      }
      ASSERT_EQ(expected_begin, text.size()) << "seed " << seed;
    }
  }
}

TEST(BpeTokenizer, RoundTripsAsciiText) {
  const BpeTokenizer tokenizer(tiny_vocab(BpePreTokenizer::kDigitsThenGpt2), "tiny");
  const std::string text =
      "The quick brown fox jumps over the lazy dog.\n\n  It's 3.14159 -- or is it?\tdon't 'quote' x=42;\r\n";
  EXPECT_EQ(tokenizer.decode(tokenizer.encode(text, true)), text);
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes += static_cast<char>(b);
  EXPECT_EQ(tokenizer.decode(tokenizer.encode(all_bytes, false)), all_bytes);
}

TEST(BpeTokenizer, LongRunsStayLinearithmic) {
  // One piece of 100k chars each: a quadratic merge loop would take minutes here.
  const BpeTokenizer tokenizer(tiny_vocab(), "tiny");
  const std::string letters(100000, 'l');
  const std::vector<int32_t> ids = tokenizer.encode(letters, false);
  EXPECT_EQ(ids, std::vector<int32_t>(50000, 258));  // "ll" (rank 2), no merge of "ll" with "ll"
  const std::string spaces(100000, ' ');
  EXPECT_EQ(tokenizer.decode(tokenizer.encode(spaces + "x", false)), spaces + "x");
}

TEST(BpeTokenizer, DigitsAreSingleTokens) {
  BpeVocab vocab = tiny_vocab(BpePreTokenizer::kDigitsThenGpt2);
  vocab.merges.emplace_back("1", "2");  // would merge "12" if digits were not split first
  vocab.tokens.push_back("12");
  const BpeTokenizer tokenizer(std::move(vocab), "tiny");
  EXPECT_EQ(tokenizer.encode("a 123", false), (std::vector<int32_t>{'a', ' ', '1', '2', '3'}));
}

// tokenizer.json: the same tiny vocab in Hugging Face's format.
class TempJsonDir {
 public:
  TempJsonDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "adamas_bpe_test_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempJsonDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string file = (path_ / name).string();
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }

 private:
  std::filesystem::path path_;
};

nlohmann::json tiny_tokenizer_json(bool merges_as_pairs, bool digits) {
  const BpeVocab vocab = tiny_vocab();
  nlohmann::json model = {{"type", "BPE"}, {"unk_token", nullptr}};
  nlohmann::json vocab_json = nlohmann::json::object();
  for (size_t id = 0; id < 267; ++id) vocab_json[vocab.tokens[id]] = id;
  model["vocab"] = vocab_json;
  nlohmann::json merges = nlohmann::json::array();
  for (const auto& [left, right] : vocab.merges) {
    if (merges_as_pairs) {
      merges.push_back({left, right});
    } else {
      merges.push_back(left + " " + right);
    }
  }
  model["merges"] = merges;
  nlohmann::json added = nlohmann::json::array();
  for (int32_t id = 267; id <= 270; ++id) {
    added.push_back({{"id", id}, {"content", vocab.tokens[id]}, {"special", id != test::kTinyExtra}});
  }
  nlohmann::json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  nlohmann::json pre = byte_level;
  if (digits) {
    pre = {{"type", "Sequence"},
           {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level}}};
  }
  return {{"version", "1.0"}, {"added_tokens", added}, {"normalizer", nullptr}, {"pre_tokenizer", pre},
          {"model", model}};
}

TEST(BpeTokenizerJson, LoadsVocabMergesAndAddedTokens) {
  for (const bool pairs : {false, true}) {
    TempJsonDir dir;
    const std::string path = dir.write("tokenizer.json", tiny_tokenizer_json(pairs, true).dump());
    dir.write("tokenizer_config.json", R"({"bos_token": "<|im_start|>", "eos_token": {"content": "<|im_end|>"}})");
    const std::unique_ptr<Tokenizer> tokenizer = load_bpe_tokenizer_json(path);
    const BpeTokenizer reference(tiny_vocab(BpePreTokenizer::kDigitsThenGpt2), "tiny");
    for (const std::string text : {"hello world", "<|im_start|>abc 2024<|im_end|>", "x<extra>y", " the é"}) {
      EXPECT_EQ(tokenizer->encode(text, false), reference.encode(text, false)) << text;
    }
    EXPECT_EQ(tokenizer->vocab_size(), 271);
    EXPECT_EQ(tokenizer->bos_id(), test::kTinyImStart);
    EXPECT_EQ(tokenizer->eos_id(), test::kTinyImEnd);
    EXPECT_EQ(tokenizer->decode(tokenizer->encode("<|im_start|>a 1<extra>", false)), "a 1<extra>");
  }
}

TEST(BpeTokenizerJson, RejectsUnsupportedOrMalformed) {
  TempJsonDir dir;
  EXPECT_THROW(load_bpe_tokenizer_json(dir.write("a.json", "{not json")), Error);
  nlohmann::json json = tiny_tokenizer_json(false, false);
  json["model"]["type"] = "Unigram";
  EXPECT_THROW(load_bpe_tokenizer_json(dir.write("b.json", json.dump())), Error);
  json = tiny_tokenizer_json(false, false);
  json["pre_tokenizer"]["add_prefix_space"] = true;
  EXPECT_THROW(load_bpe_tokenizer_json(dir.write("c.json", json.dump())), Error);
  json = tiny_tokenizer_json(false, false);
  json["model"]["merges"].push_back("nospace");
  EXPECT_THROW(load_bpe_tokenizer_json(dir.write("d.json", json.dump())), Error);
  json = tiny_tokenizer_json(false, false);
  json["model"]["vocab"].erase("a");  // id 97 missing: a gap
  EXPECT_THROW(load_bpe_tokenizer_json(dir.write("e.json", json.dump())), Error);
  json = tiny_tokenizer_json(false, false);
  json["model"].erase("vocab");
  EXPECT_THROW(load_bpe_tokenizer_json(dir.write("f.json", json.dump())), Error);
  EXPECT_THROW(load_bpe_tokenizer_json((std::filesystem::temp_directory_path() / "no_such_adamas.json").string()),
               Error);
}

}  // namespace
}  // namespace adamas
