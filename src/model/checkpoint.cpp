#include "adamas/model/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "adamas/error.h"
#include "adamas/model/bpe_tokenizer.h"
#include "adamas/model/gguf.h"

namespace adamas {
namespace {

namespace fs = std::filesystem;

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

std::string read_text_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  ADAMAS_CHECK(in, path.string(), ": cannot open for reading");
  std::ostringstream text;
  text << in.rdbuf();
  ADAMAS_CHECK(!in.bad(), path.string(), ": read failed");
  return text.str();
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Checkpoint open_hf_directory(const fs::path& directory) {
  Checkpoint checkpoint;
  checkpoint.path = directory.string();
  std::error_code error;

  const fs::path config_path = directory / "config.json";
  ADAMAS_CHECK(fs::is_regular_file(config_path, error), checkpoint.path,
               ": no config.json (a Hugging Face checkpoint directory needs one)");
  checkpoint.config = parse_hf_config(read_text_file(config_path), config_path.string());

  checkpoint.weights = open_safetensors_dir(checkpoint.path);
  const fs::path single = directory / "model.safetensors";
  const std::string weights_name =
      fs::exists(single, error) ? single.string() : (directory / "model.safetensors.index.json").string();
  validate_llama_weights(checkpoint.config, *checkpoint.weights, weights_name);

  // Sentencepiece (Llama 1/2, Mistral) when tokenizer.model is there; otherwise byte-level BPE
  // from tokenizer.json (Llama 3 style checkpoints ship only that).
  fs::path tokenizer_path = directory / "tokenizer.model";
  if (fs::exists(tokenizer_path, error)) {
    checkpoint.tokenizer = load_sentencepiece_tokenizer(tokenizer_path.string());
  } else {
    tokenizer_path = directory / "tokenizer.json";
    ADAMAS_CHECK(fs::exists(tokenizer_path, error), checkpoint.path,
                 ": no tokenizer.model or tokenizer.json");
    checkpoint.tokenizer = load_bpe_tokenizer_json(tokenizer_path.string());
  }
  ADAMAS_CHECK(checkpoint.tokenizer->vocab_size() <= checkpoint.config.vocab_size, tokenizer_path.string(),
               ": tokenizer has ", checkpoint.tokenizer->vocab_size(), " tokens, more than the model's vocab_size ",
               checkpoint.config.vocab_size, " in config.json");
  return checkpoint;
}

}  // namespace

void validate_llama_weights(const ModelConfig& config, const WeightSource& weights,
                            const std::string& source_name) {
  const int64_t hidden = config.hidden_size;
  const int64_t q_features = config.num_heads * config.head_dim;
  const int64_t kv_features = config.num_kv_heads * config.head_dim;
  const int64_t intermediate = config.intermediate_size;

  auto expect = [&](const std::string& name, const std::vector<int64_t>& shape) {
    ADAMAS_CHECK(weights.has_tensor(name), source_name, ": missing tensor '", name, "' (expected shape ",
                 shape_string(shape), ")");
    const std::vector<int64_t> found = weights.tensor_shape(name);
    ADAMAS_CHECK(found == shape, source_name, ": tensor '", name, "' has shape ", shape_string(found),
                 ", expected ", shape_string(shape));
  };

  expect("model.embed_tokens.weight", {config.vocab_size, hidden});
  for (int64_t layer = 0; layer < config.num_layers; ++layer) {
    const std::string prefix = "model.layers." + std::to_string(layer) + ".";
    expect(prefix + "self_attn.q_proj.weight", {q_features, hidden});
    expect(prefix + "self_attn.k_proj.weight", {kv_features, hidden});
    expect(prefix + "self_attn.v_proj.weight", {kv_features, hidden});
    expect(prefix + "self_attn.o_proj.weight", {hidden, q_features});
    expect(prefix + "mlp.gate_proj.weight", {intermediate, hidden});
    expect(prefix + "mlp.up_proj.weight", {intermediate, hidden});
    expect(prefix + "mlp.down_proj.weight", {hidden, intermediate});
    expect(prefix + "input_layernorm.weight", {hidden});
    expect(prefix + "post_attention_layernorm.weight", {hidden});
  }
  expect("model.norm.weight", {hidden});
  // Tied checkpoints may still carry an lm_head copy; check it when present.
  if (!config.tie_word_embeddings || weights.has_tensor("lm_head.weight")) {
    expect("lm_head.weight", {config.vocab_size, hidden});
  }
}

Checkpoint open_checkpoint(const std::string& path) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  ADAMAS_CHECK(fs::exists(status), path, ": does not exist");
  if (fs::is_directory(status)) return open_hf_directory(fs::path(path));
  ADAMAS_CHECK(fs::is_regular_file(status), path, ": not a regular file or directory");
  ADAMAS_CHECK(!ends_with(path, ".safetensors"), path,
               ": pass the Hugging Face directory that holds this file (with config.json and tokenizer.model)");
  ADAMAS_CHECK(ends_with(path, ".gguf"), path,
               ": expected a Hugging Face checkpoint directory or a file ending in .gguf");
  return open_gguf_checkpoint(path);
}

}  // namespace adamas
