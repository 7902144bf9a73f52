// Helpers for the model-format tests: a scratch directory, a minimal safetensors writer (so tests
// build their own files byte by byte), a tiny Llama checkpoint and a sentencepiece model trained at
// test time.
#pragma once

#include <gtest/gtest.h>
#include <sentencepiece_trainer.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adamas/dtype.h"
#include "adamas/error.h"

namespace adamas::test {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "adamas_model_test_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code error;
    fs::remove_all(path_, error);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline void write_text(const std::string& path, const std::string& text) {
  write_bytes(path, std::vector<uint8_t>(text.begin(), text.end()));
}

// A tensor as it will be stored: dtype name, shape and raw little-endian bytes.
struct StoredTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

// Stores fp32 values as "F32", "F16" or "BF16" (rounded with dtype.h's conversions).
inline StoredTensor stored_tensor(const std::string& name, const std::string& dtype, std::vector<int64_t> shape,
                                  const std::vector<float>& values) {
  StoredTensor tensor{name, dtype, std::move(shape), {}};
  for (const float value : values) {
    uint8_t word[4];
    size_t size = 4;
    if (dtype == "F32") {
      std::memcpy(word, &value, 4);
    } else {
      const uint16_t half = dtype == "F16" ? f32_to_f16(value) : f32_to_bf16(value);
      std::memcpy(word, &half, 2);
      size = 2;
    }
    tensor.bytes.insert(tensor.bytes.end(), word, word + size);
  }
  return tensor;
}

// The value a stored element reads back as.
inline float round_trip(const std::string& dtype, float value) {
  if (dtype == "F16") return f16_to_f32(f32_to_f16(value));
  if (dtype == "BF16") return bf16_to_f32(f32_to_bf16(value));
  return value;
}

// Serializes tensors in order, data packed back to back; the header is padded with spaces to a
// multiple of 8 bytes as the reference writer does. `header_edit` may rewrite the header JSON
// before it is serialized (to build malformed files).
inline std::vector<uint8_t> safetensors_bytes(const std::vector<StoredTensor>& tensors,
                                              const std::function<void(nlohmann::json&)>& header_edit = {}) {
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::vector<uint8_t> data;
  for (const StoredTensor& tensor : tensors) {
    header[tensor.name] = {{"dtype", tensor.dtype},
                           {"shape", tensor.shape},
                           {"data_offsets", {data.size(), data.size() + tensor.bytes.size()}}};
    data.insert(data.end(), tensor.bytes.begin(), tensor.bytes.end());
  }
  if (header_edit) header_edit(header);
  std::string text = header.dump();
  while (text.size() % 8 != 0) text.push_back(' ');
  const uint64_t length = text.size();
  std::vector<uint8_t> bytes(8 + text.size() + data.size());
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(length >> (8 * i));
  std::copy(text.begin(), text.end(), bytes.begin() + 8);
  std::copy(data.begin(), data.end(), bytes.begin() + 8 + static_cast<std::ptrdiff_t>(text.size()));
  return bytes;
}

inline std::vector<float> random_values(size_t count, uint32_t seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(count);
  for (float& value : values) value = normal(generator);
  return values;
}

// Runs `action`, which must throw adamas::Error whose message contains every one of `parts`.
inline void expect_error(const std::function<void()>& action, const std::vector<std::string>& parts) {
  try {
    action();
    ADD_FAILURE() << "expected adamas::Error containing '" << (parts.empty() ? "" : parts[0]) << "'";
  } catch (const Error& error) {
    const std::string message = error.what();
    for (const std::string& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "message: " << message << "\nexpected to contain: " << part;
    }
  }
}

// Shape of the tiny Llama used by the checkpoint tests.
struct TinyLlama {
  int64_t vocab_size = 64;
  int64_t hidden_size = 16;
  int64_t intermediate_size = 32;
  int64_t num_layers = 2;
  int64_t num_heads = 2;
  int64_t num_kv_heads = 1;
  int64_t head_dim = 8;
  bool tie_word_embeddings = false;

  nlohmann::json config_json() const {
    return {{"architectures", {"LlamaForCausalLM"}},
            {"model_type", "llama"},
            {"vocab_size", vocab_size},
            {"hidden_size", hidden_size},
            {"intermediate_size", intermediate_size},
            {"num_hidden_layers", num_layers},
            {"num_attention_heads", num_heads},
            {"num_key_value_heads", num_kv_heads},
            {"rms_norm_eps", 1e-5},
            {"rope_theta", 10000.0},
            {"rope_scaling", nullptr},
            {"max_position_embeddings", 256},
            {"tie_word_embeddings", tie_word_embeddings},
            {"hidden_act", "silu"},
            {"bos_token_id", 1},
            {"eos_token_id", 2}};
  }

  // Every tensor a Llama with this shape reads, in HF names and shapes, as BF16.
  std::vector<StoredTensor> tensors() const {
    std::vector<StoredTensor> result;
    uint32_t seed = 1;
    auto add = [&](const std::string& name, std::vector<int64_t> shape) {
      size_t count = 1;
      for (const int64_t extent : shape) count *= static_cast<size_t>(extent);
      result.push_back(stored_tensor(name, "BF16", std::move(shape), random_values(count, seed++)));
    };
    const int64_t q_features = num_heads * head_dim;
    const int64_t kv_features = num_kv_heads * head_dim;
    add("model.embed_tokens.weight", {vocab_size, hidden_size});
    for (int64_t layer = 0; layer < num_layers; ++layer) {
      const std::string prefix = "model.layers." + std::to_string(layer) + ".";
      add(prefix + "self_attn.q_proj.weight", {q_features, hidden_size});
      add(prefix + "self_attn.k_proj.weight", {kv_features, hidden_size});
      add(prefix + "self_attn.v_proj.weight", {kv_features, hidden_size});
      add(prefix + "self_attn.o_proj.weight", {hidden_size, q_features});
      add(prefix + "mlp.gate_proj.weight", {intermediate_size, hidden_size});
      add(prefix + "mlp.up_proj.weight", {intermediate_size, hidden_size});
      add(prefix + "mlp.down_proj.weight", {hidden_size, intermediate_size});
      add(prefix + "input_layernorm.weight", {hidden_size});
      add(prefix + "post_attention_layernorm.weight", {hidden_size});
    }
    add("model.norm.weight", {hidden_size});
    if (!tie_word_embeddings) add("lm_head.weight", {vocab_size, hidden_size});
    return result;
  }
};

inline const char* const kTokenizerCorpus[] = {
    "The quick brown fox jumps over the lazy dog.",
    "Hadamard transforms spread the energy of a key vector across all coordinates.",
    "Sparse attention reads only the pages whose keys are close to the query.",
    "A small model can still tell a passkey hidden in a long haystack of text.",
    "The cache stores keys and values for every token the model has seen so far.",
    "Quantized key codes make the distance estimate cheap to compute.",
    "Every layer of the decoder has attention and a gated feed forward network.",
    "Numbers like 42, 1024 and 65536 appear in the text as well.",
};

// Trains a small BPE sentencepiece model, by default with Llama's special ids (unk 0, bos 1,
// eos 2), and writes it to `directory`/`stem`.model. Returns the model path.
inline std::string train_tiny_sentencepiece(
    const fs::path& directory, const std::string& stem = "tokenizer", int vocab_size = 64,
    const std::string& special_id_flags = "--unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1") {
  const fs::path corpus = directory / (stem + "_corpus.txt");
  std::string text;
  for (const char* line : kTokenizerCorpus) text += std::string(line) + "\n";
  write_text(corpus.string(), text);
  const std::string prefix = (directory / stem).string();
  const std::string flags = "--input=" + corpus.string() + " --model_prefix=" + prefix +
                            " --vocab_size=" + std::to_string(vocab_size) +
                            " --model_type=bpe --character_coverage=1.0 --minloglevel=2 " + special_id_flags;
  const auto status = sentencepiece::SentencePieceTrainer::Train(flags);
  if (!status.ok()) throw std::runtime_error("sentencepiece training failed: " + status.ToString());
  return prefix + ".model";
}

}  // namespace adamas::test
