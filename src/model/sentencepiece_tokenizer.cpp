#include <sentencepiece_processor.h>

#include <filesystem>

#include "adamas/error.h"
#include "adamas/model/tokenizer.h"

namespace adamas {
namespace {

class SentencepieceTokenizer final : public Tokenizer {
 public:
  explicit SentencepieceTokenizer(const std::string& model_path) : model_path_(model_path) {
    std::error_code error;
    ADAMAS_CHECK(std::filesystem::is_regular_file(model_path, error), model_path,
                 ": sentencepiece model file does not exist");
    const auto status = processor_.Load(model_path);
    ADAMAS_CHECK(status.ok(), model_path, ": not a valid sentencepiece model: ", status.ToString());
    vocab_size_ = processor_.GetPieceSize();
    ADAMAS_CHECK(vocab_size_ > 0, model_path, ": sentencepiece model has an empty vocabulary");
  }

  std::vector<int32_t> encode(const std::string& text, bool add_bos) const override {
    std::vector<int> pieces;
    const auto status = processor_.Encode(text, &pieces);
    ADAMAS_CHECK(status.ok(), model_path_, ": cannot encode text: ", status.ToString());
    std::vector<int32_t> ids;
    ids.reserve(pieces.size() + 1);
    if (add_bos && bos_id() >= 0) ids.push_back(bos_id());
    ids.insert(ids.end(), pieces.begin(), pieces.end());
    return ids;
  }

  std::string decode(const std::vector<int32_t>& ids) const override {
    std::vector<int> pieces;
    pieces.reserve(ids.size());
    for (const int32_t id : ids) {
      ADAMAS_CHECK(id >= 0 && id < vocab_size_, model_path_, ": cannot decode token id ", id,
                   ", expected an id in [0, ", vocab_size_, ")");
      // BOS, EOS and other control pieces carry no text.
      if (!processor_.IsControl(id)) pieces.push_back(id);
    }
    std::string text;
    const auto status = processor_.Decode(pieces, &text);
    ADAMAS_CHECK(status.ok(), model_path_, ": cannot decode ids: ", status.ToString());
    return text;
  }

  int64_t vocab_size() const override { return vocab_size_; }
  int32_t bos_id() const override { return processor_.bos_id(); }
  int32_t eos_id() const override { return processor_.eos_id(); }

 private:
  std::string model_path_;
  sentencepiece::SentencePieceProcessor processor_;
  int32_t vocab_size_ = 0;
};

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& model_path) {
  return std::make_unique<SentencepieceTokenizer>(model_path);
}

}  // namespace adamas
