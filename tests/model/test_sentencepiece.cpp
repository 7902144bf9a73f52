#include <gtest/gtest.h>

#include <memory>

#include "adamas/error.h"
#include "adamas/model/tokenizer.h"
#include "model/model_test_support.h"

namespace adamas {
namespace {

using test::expect_error;
using test::TempDir;

// One tiny model trained per suite (training takes a fraction of a second, but why repeat it).
class Sentencepiece : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    model_path_ = new std::string(test::train_tiny_sentencepiece(dir_->path()));
  }
  static void TearDownTestSuite() {
    delete model_path_;
    delete dir_;
    model_path_ = nullptr;
    dir_ = nullptr;
  }
  static TempDir* dir_;
  static std::string* model_path_;
};

TempDir* Sentencepiece::dir_ = nullptr;
std::string* Sentencepiece::model_path_ = nullptr;

TEST_F(Sentencepiece, LoadsWithLlamaSpecialIds) {
  const auto tokenizer = load_sentencepiece_tokenizer(*model_path_);
  EXPECT_EQ(tokenizer->vocab_size(), 64);
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
}

TEST_F(Sentencepiece, EncodeDecodeRoundTrip) {
  const auto tokenizer = load_sentencepiece_tokenizer(*model_path_);
  for (const std::string text : {std::string(test::kTokenizerCorpus[0]), std::string(test::kTokenizerCorpus[5]),
                                 std::string("the fox reads the keys of a small cache"), std::string("")}) {
    SCOPED_TRACE(text);
    const std::vector<int32_t> ids = tokenizer->encode(text, false);
    for (const int32_t id : ids) {
      EXPECT_GE(id, 0);
      EXPECT_LT(id, tokenizer->vocab_size());
    }
    EXPECT_EQ(tokenizer->decode(ids), text);
  }
}

TEST_F(Sentencepiece, BosIsPrependedOnRequestAndControlTokensDecodeToNothing) {
  const auto tokenizer = load_sentencepiece_tokenizer(*model_path_);
  const std::string text = "The quick brown fox";
  const std::vector<int32_t> plain = tokenizer->encode(text, false);
  const std::vector<int32_t> with_bos = tokenizer->encode(text, true);
  ASSERT_EQ(with_bos.size(), plain.size() + 1);
  EXPECT_EQ(with_bos[0], tokenizer->bos_id());
  EXPECT_EQ(std::vector<int32_t>(with_bos.begin() + 1, with_bos.end()), plain);
  std::vector<int32_t> framed = with_bos;
  framed.push_back(tokenizer->eos_id());
  EXPECT_EQ(tokenizer->decode(framed), text);
}

TEST_F(Sentencepiece, DecodeRejectsIdsOutsideTheVocabulary) {
  const auto tokenizer = load_sentencepiece_tokenizer(*model_path_);
  expect_error([&] { tokenizer->decode({5, 64}); }, {"token id 64", "[0, 64)"});
  expect_error([&] { tokenizer->decode({-1}); }, {"token id -1"});
}

TEST_F(Sentencepiece, ModelWithoutBos) {
  TempDir dir;
  const std::string path = test::train_tiny_sentencepiece(dir.path(), "nobos", 64, "--unk_id=0 --bos_id=-1 --eos_id=1 --pad_id=-1");
  const auto tokenizer = load_sentencepiece_tokenizer(path);
  EXPECT_EQ(tokenizer->bos_id(), -1);
  EXPECT_EQ(tokenizer->encode("fox", true), tokenizer->encode("fox", false));
}

TEST(SentencepieceErrors, MissingOrMalformedModel) {
  TempDir dir;
  expect_error([&] { load_sentencepiece_tokenizer(dir.file("tokenizer.model")); },
               {"tokenizer.model", "does not exist"});
  test::write_text(dir.file("tokenizer.model"), "this is not a protobuf");
  expect_error([&] { load_sentencepiece_tokenizer(dir.file("tokenizer.model")); },
               {"tokenizer.model", "not a valid sentencepiece model"});
}

}  // namespace
}  // namespace adamas
