#include <gtest/gtest.h>

#include <filesystem>

#include "adamas/error.h"
#include "adamas/model/checkpoint.h"
#include "model/model_test_support.h"

namespace adamas {
namespace {

using test::expect_error;
using test::StoredTensor;
using test::TempDir;
using test::TinyLlama;
using Json = nlohmann::json;
namespace fs = std::filesystem;

// Writes a complete tiny Llama checkpoint directory; `edit_tensors` may change the tensors first.
void write_checkpoint(const TempDir& dir, const TinyLlama& model,
                      const std::function<void(std::vector<StoredTensor>&)>& edit_tensors = {}) {
  test::write_text(dir.file("config.json"), model.config_json().dump(2));
  std::vector<StoredTensor> tensors = model.tensors();
  if (edit_tensors) edit_tensors(tensors);
  test::write_bytes(dir.file("model.safetensors"), test::safetensors_bytes(tensors));
  test::train_tiny_sentencepiece(dir.path(), "tokenizer", static_cast<int>(model.vocab_size));
}

StoredTensor* find(std::vector<StoredTensor>& tensors, const std::string& name) {
  for (StoredTensor& tensor : tensors) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

TEST(Checkpoint, OpensAHuggingFaceDirectory) {
  TempDir dir;
  const TinyLlama model;
  write_checkpoint(dir, model);
  const Checkpoint checkpoint = open_checkpoint(dir.path().string());
  EXPECT_EQ(checkpoint.path, dir.path().string());
  EXPECT_EQ(checkpoint.config.architecture, "LlamaForCausalLM");
  EXPECT_EQ(checkpoint.config.num_kv_heads, 1);
  EXPECT_EQ(checkpoint.config.head_dim, 8);
  ASSERT_TRUE(checkpoint.weights);
  ASSERT_TRUE(checkpoint.tokenizer);
  EXPECT_EQ(checkpoint.weights->tensor_shape("model.layers.1.mlp.down_proj.weight"), (std::vector<int64_t>{16, 32}));
  EXPECT_EQ(checkpoint.weights->load_f32("model.norm.weight").size(), 16u);
  EXPECT_EQ(checkpoint.tokenizer->decode(checkpoint.tokenizer->encode("the lazy dog", true)), "the lazy dog");
}

TEST(Checkpoint, TiedEmbeddingsNeedNoLmHead) {
  TempDir dir;
  TinyLlama model;
  model.tie_word_embeddings = true;
  write_checkpoint(dir, model);
  const Checkpoint checkpoint = open_checkpoint(dir.path().string());
  EXPECT_TRUE(checkpoint.config.tie_word_embeddings);
  EXPECT_FALSE(checkpoint.weights->has_tensor("lm_head.weight"));
}

TEST(Checkpoint, ShardedDirectory) {
  TempDir dir;
  const TinyLlama model;
  write_checkpoint(dir, model);
  fs::remove(dir.file("model.safetensors"));
  std::vector<StoredTensor> tensors = model.tensors();
  const size_t half = tensors.size() / 2;
  Json weight_map = Json::object();
  std::vector<StoredTensor> first(tensors.begin(), tensors.begin() + static_cast<std::ptrdiff_t>(half));
  std::vector<StoredTensor> second(tensors.begin() + static_cast<std::ptrdiff_t>(half), tensors.end());
  for (const auto& tensor : first) weight_map[tensor.name] = "model-00001-of-00002.safetensors";
  for (const auto& tensor : second) weight_map[tensor.name] = "model-00002-of-00002.safetensors";
  test::write_bytes(dir.file("model-00001-of-00002.safetensors"), test::safetensors_bytes(first));
  test::write_bytes(dir.file("model-00002-of-00002.safetensors"), test::safetensors_bytes(second));
  test::write_text(dir.file("model.safetensors.index.json"), Json{{"weight_map", weight_map}}.dump());
  const Checkpoint checkpoint = open_checkpoint(dir.path().string());
  EXPECT_EQ(checkpoint.weights->tensor_names().size(), tensors.size());
  EXPECT_EQ(checkpoint.weights->load_f32("lm_head.weight").size(), 64u * 16u);
}

TEST(Checkpoint, ShapeMismatchNamesTensorAndShapes) {
  TempDir dir;
  write_checkpoint(dir, TinyLlama{}, [](std::vector<StoredTensor>& tensors) {
    find(tensors, "model.layers.1.self_attn.k_proj.weight")->shape = {16, 8};  // transposed
  });
  expect_error([&] { open_checkpoint(dir.path().string()); },
               {dir.file("model.safetensors") +
                ": tensor 'model.layers.1.self_attn.k_proj.weight' has shape [16, 8], expected [8, 16]"});
}

TEST(Checkpoint, MissingTensors) {
  for (const std::string name : {"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
                                 "model.layers.1.mlp.gate_proj.weight", "model.layers.1.input_layernorm.weight",
                                 "model.layers.0.post_attention_layernorm.weight", "model.norm.weight",
                                 "lm_head.weight"}) {
    SCOPED_TRACE(name);
    TempDir dir;
    write_checkpoint(dir, TinyLlama{}, [&](std::vector<StoredTensor>& tensors) {
      tensors.erase(tensors.begin() + (find(tensors, name) - tensors.data()));
    });
    expect_error([&] { open_checkpoint(dir.path().string()); }, {"missing tensor '" + name + "'", "expected shape"});
  }
}

TEST(Checkpoint, ConfigWithMoreLayersThanWeights) {
  TempDir dir;
  TinyLlama model;
  write_checkpoint(dir, model);
  Json config = model.config_json();
  config["num_hidden_layers"] = 3;
  test::write_text(dir.file("config.json"), config.dump());
  expect_error([&] { open_checkpoint(dir.path().string()); },
               {"missing tensor 'model.layers.2.self_attn.q_proj.weight'"});
}

TEST(Checkpoint, MissingPieces) {
  TempDir dir;
  write_checkpoint(dir, TinyLlama{});
  fs::remove(dir.file("tokenizer.model"));
  expect_error([&] { open_checkpoint(dir.path().string()); },
               {dir.path().string(), "no tokenizer.model or tokenizer.json"});
  // Without tokenizer.model, tokenizer.json is read by the byte-level BPE loader, whose errors name it.
  test::write_text(dir.file("tokenizer.json"), "{}");
  expect_error([&] { open_checkpoint(dir.path().string()); }, {"tokenizer.json"});
  fs::remove(dir.file("config.json"));
  expect_error([&] { open_checkpoint(dir.path().string()); }, {"no config.json"});
  test::write_text(dir.file("config.json"), "{not json");
  expect_error([&] { open_checkpoint(dir.path().string()); }, {"config.json: malformed JSON"});
}

TEST(Checkpoint, TokenizerJsonWhenThereIsNoTokenizerModel) {
  TempDir dir;
  write_checkpoint(dir, TinyLlama{});
  fs::remove(dir.file("tokenizer.model"));
  // A minimal byte-level BPE: two byte symbols and their merge.
  const Json tokenizer = {{"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}}, {"merges", {"a b"}}}},
                          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
                          {"normalizer", nullptr}};
  test::write_text(dir.file("tokenizer.json"), tokenizer.dump());
  const Checkpoint checkpoint = open_checkpoint(dir.path().string());
  EXPECT_EQ(checkpoint.tokenizer->vocab_size(), 3);
  EXPECT_EQ(checkpoint.tokenizer->encode("ab", false), std::vector<int32_t>{2});
}

TEST(Checkpoint, TokenizerLargerThanModelVocabulary) {
  TempDir dir;
  TinyLlama model;
  write_checkpoint(dir, model);
  test::train_tiny_sentencepiece(dir.path(), "tokenizer", 80);
  expect_error([&] { open_checkpoint(dir.path().string()); },
               {"tokenizer.model: tokenizer has 80 tokens, more than the model's vocab_size 64"});
}

TEST(Checkpoint, PathsThatAreNotCheckpoints) {
  TempDir dir;
  expect_error([&] { open_checkpoint(dir.file("absent")); }, {"absent: does not exist"});
  test::write_text(dir.file("weights.bin"), "x");
  expect_error([&] { open_checkpoint(dir.file("weights.bin")); }, {"weights.bin", "a file ending in .gguf"});
  test::write_text(dir.file("model.safetensors"), "x");
  expect_error([&] { open_checkpoint(dir.file("model.safetensors")); },
               {"pass the Hugging Face directory that holds this file"});
  // A .gguf file goes to the GGUF reader, which must reject garbage with adamas::Error.
  test::write_text(dir.file("garbage.gguf"), "definitely not gguf");
  EXPECT_THROW(open_checkpoint(dir.file("garbage.gguf")), Error);
}

}  // namespace
}  // namespace adamas
