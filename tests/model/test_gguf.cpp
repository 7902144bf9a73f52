#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "adamas/error.h"
#include "adamas/model/gguf.h"
#include "model/gguf_reader.h"
#include "model/gguf_weights.h"
#include "test_bpe_vocab.h"
#include "test_dequant_packers.h"
#include "test_gguf_writer.h"

namespace adamas {
namespace {

using test::GgufWriter;

// The tiny model: hidden 32, 4 query heads and 2 KV heads of head_dim 8, MLP width 256, 2 layers,
// the 271-token tiny BPE vocabulary; one tensor type per tensor role so every supported type
// appears.
constexpr int64_t kHidden = 32;
constexpr int64_t kHeads = 4;
constexpr int64_t kKvHeads = 2;
constexpr int64_t kHeadDim = 8;
constexpr int64_t kFfn = 256;
constexpr int64_t kLayers = 2;
constexpr int64_t kVocab = 271;

struct ExpectedTensor {
  std::vector<int64_t> hf_shape;
  std::vector<double> values;
  std::vector<double> tolerance;
  std::string stored_type;
};

struct TinyModel {
  GgufWriter writer;
  std::map<std::string, ExpectedTensor> expected;  // by Hugging Face name
};

// GGUF row order of q/k from Hugging Face order, straight from the converter's numpy:
// w.reshape(n_head, 2, head_dim / 2, in).swapaxes(1, 2).reshape(w.shape), i.e. the output at
// [h][i][j] (shape n_head, head_dim/2, 2) is the input at [h][j][i].
std::vector<double> to_gguf_order(const std::vector<double>& hf, int64_t n_heads, int64_t row_len) {
  const int64_t head_dim = static_cast<int64_t>(hf.size()) / row_len / n_heads;
  std::vector<double> out(hf.size());
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t i = 0; i < head_dim / 2; ++i)
      for (int64_t j = 0; j < 2; ++j)
        for (int64_t c = 0; c < row_len; ++c)
          out[((h * (head_dim / 2) + i) * 2 + j) * row_len + c] = hf[((h * 2 + j) * (head_dim / 2) + i) * row_len + c];
  return out;
}

std::vector<double> to_hf_order(const std::vector<double>& gguf, int64_t n_heads, int64_t row_len) {
  const int64_t head_dim = static_cast<int64_t>(gguf.size()) / row_len / n_heads;
  std::vector<double> out(gguf.size());
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t i = 0; i < head_dim / 2; ++i)
      for (int64_t j = 0; j < 2; ++j)
        for (int64_t c = 0; c < row_len; ++c)
          out[((h * 2 + j) * (head_dim / 2) + i) * row_len + c] = gguf[((h * (head_dim / 2) + i) * 2 + j) * row_len + c];
  return out;
}

void add_quantized(TinyModel& model, std::mt19937& rng, const std::string& gguf_name, const std::string& hf_name,
                   std::vector<int64_t> ne, GgmlType type, int64_t qk_heads = 0) {
  const GgmlTypeInfo& info = ggml_type_info(type);
  int64_t n_elements = 1;
  for (int64_t extent : ne) n_elements *= extent;
  test::PackedBlocks packed = test::pack_random_blocks(type, n_elements / info.block_elements, rng);
  model.writer.add_tensor(gguf_name, ne, static_cast<uint32_t>(type), packed.bytes);
  if (qk_heads > 0) {
    packed.expected = to_hf_order(packed.expected, qk_heads, ne[0]);
    packed.tolerance = to_hf_order(packed.tolerance, qk_heads, ne[0]);
  }
  model.expected[hf_name] = {std::vector<int64_t>(ne.rbegin(), ne.rend()), packed.expected, packed.tolerance, info.name};
}

void add_tokenizer_metadata(GgufWriter& writer, const BpeVocab& vocab) {
  writer.add_string("tokenizer.ggml.model", "gpt2");
  writer.add_string("tokenizer.ggml.pre", "smollm");
  writer.add_string_array("tokenizer.ggml.tokens", vocab.tokens);
  std::vector<std::string> merges;
  for (const auto& [left, right] : vocab.merges) merges.push_back(left + " " + right);
  writer.add_string_array("tokenizer.ggml.merges", merges);
  std::vector<int32_t> types(vocab.tokens.size(), 1);
  for (int32_t id : vocab.control_ids) types[id] = 3;
  for (int32_t id : vocab.added_ids) types[id] = 4;
  writer.add_i32_array("tokenizer.ggml.token_type", types);
  writer.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(vocab.bos_id));
  writer.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(vocab.eos_id));
}

TinyModel build_tiny_model(bool with_output, uint64_t alignment = 32, unsigned seed = 7) {
  TinyModel model;
  std::mt19937 rng(seed);
  GgufWriter& w = model.writer;
  if (alignment != 32) {
    w.set_alignment(alignment);
    w.add_u32("general.alignment", static_cast<uint32_t>(alignment));
  }
  w.add_string("general.architecture", "llama");
  w.add_string("general.name", "tiny");
  w.add_u32("llama.block_count", kLayers);
  w.add_u32("llama.context_length", 512);
  w.add_u32("llama.embedding_length", kHidden);
  w.add_u32("llama.feed_forward_length", kFfn);
  w.add_u32("llama.attention.head_count", kHeads);
  w.add_u32("llama.attention.head_count_kv", kKvHeads);
  w.add_f32("llama.rope.freq_base", 100000.0f);
  w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.add_u32("llama.rope.dimension_count", kHeadDim);
  w.add_u32("llama.vocab_size", kVocab);
  add_tokenizer_metadata(w, test::tiny_vocab());

  add_quantized(model, rng, "token_embd.weight", "model.embed_tokens.weight", {kHidden, kVocab}, GgmlType::kQ8_0);
  for (int64_t layer = 0; layer < kLayers; ++layer) {
    const std::string blk = "blk." + std::to_string(layer) + ".";
    const std::string hf = "model.layers." + std::to_string(layer) + ".";
    add_quantized(model, rng, blk + "attn_norm.weight", hf + "input_layernorm.weight", {kHidden}, GgmlType::kF32);
    add_quantized(model, rng, blk + "ffn_norm.weight", hf + "post_attention_layernorm.weight", {kHidden},
                  GgmlType::kF16);
    // q is stored F32 in GGUF order made from known Hugging Face rows; k quantized, expected
    // values brought back to Hugging Face order by the test-side inverse.
    {
      std::vector<double> hf_rows(kHeads * kHeadDim * kHidden);
      for (double& value : hf_rows) value = std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
      const std::vector<double> gguf_rows = to_gguf_order(hf_rows, kHeads, kHidden);
      std::vector<uint8_t> bytes(gguf_rows.size() * 4);
      for (size_t i = 0; i < gguf_rows.size(); ++i) {
        const float value = static_cast<float>(gguf_rows[i]);
        std::memcpy(bytes.data() + 4 * i, &value, 4);
      }
      w.add_tensor(blk + "attn_q.weight", {kHidden, kHeads * kHeadDim}, 0, bytes);
      model.expected[hf + "self_attn.q_proj.weight"] = {
          {kHeads * kHeadDim, kHidden}, hf_rows, std::vector<double>(hf_rows.size(), 0.0), "F32"};
    }
    add_quantized(model, rng, blk + "attn_k.weight", hf + "self_attn.k_proj.weight", {kHidden, kKvHeads * kHeadDim},
                  layer == 0 ? GgmlType::kQ5_0 : GgmlType::kBF16, kKvHeads);
    add_quantized(model, rng, blk + "attn_v.weight", hf + "self_attn.v_proj.weight", {kHidden, kKvHeads * kHeadDim},
                  GgmlType::kQ5_1);
    add_quantized(model, rng, blk + "attn_output.weight", hf + "self_attn.o_proj.weight", {kHidden, kHidden},
                  GgmlType::kQ4_1);
    add_quantized(model, rng, blk + "ffn_gate.weight", hf + "mlp.gate_proj.weight", {kHidden, kFfn}, GgmlType::kQ8_0);
    add_quantized(model, rng, blk + "ffn_up.weight", hf + "mlp.up_proj.weight", {kHidden, kFfn}, GgmlType::kQ4_0);
    add_quantized(model, rng, blk + "ffn_down.weight", hf + "mlp.down_proj.weight", {kFfn, kHidden},
                  layer == 0 ? GgmlType::kQ6_K : GgmlType::kQ4_K);
  }
  add_quantized(model, rng, "output_norm.weight", "model.norm.weight", {kHidden}, GgmlType::kF32);
  if (with_output) add_quantized(model, rng, "output.weight", "lm_head.weight", {kHidden, kVocab}, GgmlType::kQ4_0);
  return model;
}

// Parses in memory and exercises everything a loader would: config, tokenizer, every tensor.
Checkpoint open_bytes(const std::vector<uint8_t>& bytes, const std::string& name = "memory.gguf") {
  auto storage = std::make_shared<std::vector<uint8_t>>(bytes);
  auto file = std::make_shared<const GgufFile>(
      GgufFile::parse(std::span<const uint8_t>(storage->data(), storage->size()), storage, name));
  Checkpoint checkpoint = gguf_checkpoint(file);
  for (const std::string& tensor : checkpoint.weights->tensor_names()) {
    const std::vector<float> values = checkpoint.weights->load_f32(tensor);
    int64_t n = 1;
    for (int64_t extent : checkpoint.weights->tensor_shape(tensor)) n *= extent;
    if (static_cast<int64_t>(values.size()) != n) throw std::logic_error("size mismatch for " + tensor);
  }
  const std::vector<int32_t> ids = checkpoint.tokenizer->encode("<|im_start|>hello 42 world", true);
  checkpoint.tokenizer->decode(ids);
  return checkpoint;
}

class TempFile {
 public:
  explicit TempFile(const std::vector<uint8_t>& bytes) {
    std::string pattern = (std::filesystem::temp_directory_path() / "adamas_gguf_test_XXXXXX").string();
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(fd);
    path_ = pattern;
    std::ofstream(path_, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                 static_cast<std::streamsize>(bytes.size()));
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void expect_tensors(const Checkpoint& checkpoint, const TinyModel& model) {
  const WeightSource& weights = *checkpoint.weights;
  EXPECT_EQ(weights.tensor_names().size(), model.expected.size());
  for (const auto& [name, expected] : model.expected) {
    ASSERT_TRUE(weights.has_tensor(name)) << name;
    EXPECT_EQ(weights.tensor_shape(name), expected.hf_shape) << name;
    EXPECT_EQ(weights.stored_type(name), expected.stored_type) << name;
    const std::vector<float> values = weights.load_f32(name);
    ASSERT_EQ(values.size(), expected.values.size()) << name;
    for (size_t i = 0; i < values.size(); ++i) {
      ASSERT_NEAR(values[i], expected.values[i], expected.tolerance[i]) << name << " element " << i;
    }
  }
}

TEST(GgufCheckpoint, LoadsTinyModelFromFile) {
  const TinyModel model = build_tiny_model(false);
  const TempFile file(model.writer.bytes());
  const Checkpoint checkpoint = open_gguf_checkpoint(file.path());
  const ModelConfig& config = checkpoint.config;
  EXPECT_EQ(config.architecture, "llama");
  EXPECT_EQ(config.vocab_size, kVocab);
  EXPECT_EQ(config.hidden_size, kHidden);
  EXPECT_EQ(config.intermediate_size, kFfn);
  EXPECT_EQ(config.num_layers, kLayers);
  EXPECT_EQ(config.num_heads, kHeads);
  EXPECT_EQ(config.num_kv_heads, kKvHeads);
  EXPECT_EQ(config.head_dim, kHeadDim);
  EXPECT_EQ(config.max_position_embeddings, 512);
  EXPECT_DOUBLE_EQ(config.rope_theta, 100000.0);
  EXPECT_NEAR(config.rms_norm_eps, 1e-5, 1e-12);
  EXPECT_TRUE(config.tie_word_embeddings);
  EXPECT_EQ(config.bos_token_id, test::kTinyImStart);
  EXPECT_EQ(config.eos_token_id, test::kTinyEndOfText);
  EXPECT_FALSE(checkpoint.weights->has_tensor("lm_head.weight"));
  expect_tensors(checkpoint, model);

  const BpeTokenizer reference(test::tiny_vocab(BpePreTokenizer::kDigitsThenGpt2), "tiny");
  for (const std::string text : {"hello world", "<|im_start|>the 2024 abc<|im_end|>", "x<extra>y é"}) {
    EXPECT_EQ(checkpoint.tokenizer->encode(text, false), reference.encode(text, false)) << text;
  }
  EXPECT_EQ(checkpoint.tokenizer->decode(checkpoint.tokenizer->encode("<|im_start|>a 12<|im_end|>", true)), "a 12");

  const std::unique_ptr<WeightSource> weights = open_gguf_weights(file.path());
  EXPECT_EQ(weights->tensor_names(), checkpoint.weights->tensor_names());
}

TEST(GgufCheckpoint, UntiedOutputAndOtherAlignment) {
  for (const uint64_t alignment : {32u, 64u, 8u}) {
    const TinyModel model = build_tiny_model(true, alignment, 11);
    const Checkpoint checkpoint = open_bytes(model.writer.bytes());
    EXPECT_FALSE(checkpoint.config.tie_word_embeddings);
    EXPECT_TRUE(checkpoint.weights->has_tensor("lm_head.weight"));
    expect_tensors(checkpoint, model);
  }
}

TEST(GgufCheckpoint, AcceptsVersion2) {
  TinyModel model = build_tiny_model(false);
  model.writer.set_version(2);
  const Checkpoint checkpoint = open_bytes(model.writer.bytes());
  EXPECT_EQ(checkpoint.config.num_layers, kLayers);
}

TEST(GgufNames, MapsLlamaCppNamesToHuggingFace) {
  EXPECT_EQ(gguf_to_hf_tensor_name("token_embd.weight"), "model.embed_tokens.weight");
  EXPECT_EQ(gguf_to_hf_tensor_name("output.weight"), "lm_head.weight");
  EXPECT_EQ(gguf_to_hf_tensor_name("output_norm.weight"), "model.norm.weight");
  EXPECT_EQ(gguf_to_hf_tensor_name("blk.17.attn_output.weight"), "model.layers.17.self_attn.o_proj.weight");
  EXPECT_EQ(gguf_to_hf_tensor_name("blk.0.ffn_down.weight"), "model.layers.0.mlp.down_proj.weight");
  EXPECT_EQ(gguf_to_hf_tensor_name("blk.3.attn_norm.weight"), "model.layers.3.input_layernorm.weight");
  EXPECT_EQ(gguf_to_hf_tensor_name("blk.3.ffn_norm.weight"), "model.layers.3.post_attention_layernorm.weight");
  EXPECT_EQ(gguf_to_hf_tensor_name("rope_freqs.weight"), "");
  EXPECT_EQ(gguf_to_hf_tensor_name("blk.x.attn_q.weight"), "");
}

TEST(GgufQkPermutation, SmallExampleAndRoundTrip) {
  // One head of head_dim 4, rows of length 1: GGUF stores HF rows in the order 0, 2, 1, 3.
  EXPECT_EQ(unpermute_qk_rows({10, 12, 11, 13}, 1, 1), (std::vector<float>{10, 11, 12, 13}));
  EXPECT_EQ(permute_qk_rows({10, 11, 12, 13}, 1, 1), (std::vector<float>{10, 12, 11, 13}));
  for (const auto& [heads, head_dim, row_len] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {1, 2, 3}, {4, 8, 5}, {9, 64, 3}, {3, 64, 2}}) {
    std::mt19937 rng(static_cast<unsigned>(heads * 1000 + head_dim));
    std::vector<float> rows(static_cast<size_t>(heads * head_dim * row_len));
    for (float& value : rows) value = std::uniform_real_distribution<float>(-1, 1)(rng);
    EXPECT_EQ(unpermute_qk_rows(permute_qk_rows(rows, heads, row_len), heads, row_len), rows);
    std::vector<double> as_double(rows.begin(), rows.end());
    const std::vector<double> reference = to_gguf_order(as_double, heads, row_len);
    const std::vector<float> permuted = permute_qk_rows(rows, heads, row_len);
    ASSERT_EQ(std::vector<double>(permuted.begin(), permuted.end()), reference) << heads << "x" << head_dim;
  }
  EXPECT_THROW(unpermute_qk_rows(std::vector<float>(12), 2, 2), Error);  // head_dim 3 is odd
}

// ---- malformed files: every one must come back as adamas::Error ----

std::vector<uint8_t> small_valid_file() { return build_tiny_model(true).writer.bytes(); }

TEST(GgufMalformed, EveryTruncationIsAnError) {
  const std::vector<uint8_t> bytes = small_valid_file();
  ASSERT_NO_THROW(open_bytes(bytes));
  for (size_t length = 0; length < bytes.size(); ++length) {
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length));
    EXPECT_THROW(open_bytes(prefix), Error) << "truncated to " << length << " of " << bytes.size() << " bytes";
  }
}

void patch_u32(std::vector<uint8_t>& bytes, size_t at, uint32_t value) { std::memcpy(bytes.data() + at, &value, 4); }
void patch_u64(std::vector<uint8_t>& bytes, size_t at, uint64_t value) { std::memcpy(bytes.data() + at, &value, 8); }

void expect_error_containing(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  try {
    open_bytes(bytes);
    ADD_FAILURE() << "no error, expected one mentioning '" << fragment << "'";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
  }
}

TEST(GgufMalformed, HeaderFields) {
  const std::vector<uint8_t> valid = small_valid_file();
  std::vector<uint8_t> bytes = valid;
  bytes[0] = 'X';
  expect_error_containing(bytes, "bad magic");
  for (const uint32_t version : {0u, 1u, 4u, 0x03000000u}) {
    bytes = valid;
    patch_u32(bytes, 4, version);
    expect_error_containing(bytes, version == 0x03000000u ? "big-endian" : "version");
  }
  bytes = valid;
  patch_u64(bytes, 8, uint64_t{1} << 60);
  expect_error_containing(bytes, "tensors");
  bytes = valid;
  patch_u64(bytes, 16, ~uint64_t{0});
  expect_error_containing(bytes, "metadata entries");
  bytes = valid;
  patch_u64(bytes, 24, uint64_t{1} << 62);  // length of the first key
  expect_error_containing(bytes, "has length");
  expect_error_containing({}, "too short");
}

// Builds a file with one tiny F32 tensor after `configure` has had its way with the writer.
std::vector<uint8_t> file_with(const std::function<void(GgufWriter&)>& configure) {
  GgufWriter writer;
  configure(writer);
  return writer.bytes();
}

void parse_only(const std::vector<uint8_t>& bytes) {
  auto storage = std::make_shared<std::vector<uint8_t>>(bytes);
  GgufFile::parse(std::span<const uint8_t>(storage->data(), storage->size()), storage, "memory.gguf");
}

void expect_parse_error(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  try {
    parse_only(bytes);
    ADD_FAILURE() << "no error, expected one mentioning '" << fragment << "'";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
  }
}

std::vector<uint8_t> f32_bytes(size_t n) { return std::vector<uint8_t>(n * 4, 0); }

TEST(GgufMalformed, MetadataValues) {
  expect_parse_error(file_with([](GgufWriter& w) { w.add_raw("k", 13, {0}); }), "unknown value type 13");
  expect_parse_error(file_with([](GgufWriter& w) { w.add_raw("k", GgufWriter::kBool, {2}); }), "expected 0 or 1");
  expect_parse_error(file_with([](GgufWriter& w) {
                       w.add_u32("k", 1);
                       w.add_u32("k", 2);
                     }),
                     "appears twice");
  // An array claiming 2^40 u32 elements.
  std::vector<uint8_t> huge_array;
  GgufWriter::put<uint32_t>(huge_array, GgufWriter::kU32);
  GgufWriter::put<uint64_t>(huge_array, uint64_t{1} << 40);
  expect_parse_error(file_with([&](GgufWriter& w) { w.add_raw("k", GgufWriter::kArray, huge_array); }),
                     "array elements");
  // Arrays nested four deep.
  std::vector<uint8_t> nested;
  for (int depth = 0; depth < 4; ++depth) {
    GgufWriter::put<uint32_t>(nested, GgufWriter::kArray);
    GgufWriter::put<uint64_t>(nested, 1);
  }
  GgufWriter::put<uint32_t>(nested, GgufWriter::kU8);
  GgufWriter::put<uint64_t>(nested, 0);
  expect_parse_error(file_with([&](GgufWriter& w) { w.add_raw("k", GgufWriter::kArray, nested); }), "nests arrays");
  std::vector<uint8_t> bad_element_type;
  GgufWriter::put<uint32_t>(bad_element_type, 77);
  GgufWriter::put<uint64_t>(bad_element_type, 0);
  expect_parse_error(file_with([&](GgufWriter& w) { w.add_raw("k", GgufWriter::kArray, bad_element_type); }),
                     "unknown value type 77");
  // Alignment must be a u32 power of two.
  expect_parse_error(file_with([](GgufWriter& w) { w.add_u32("general.alignment", 48); }), "power of two");
  expect_parse_error(file_with([](GgufWriter& w) { w.add_u32("general.alignment", 0); }), "power of two");
  expect_parse_error(file_with([](GgufWriter& w) { w.add_u64("general.alignment", 32); }), "expected u32");
}

TEST(GgufMalformed, TensorInfos) {
  expect_parse_error(file_with([](GgufWriter& w) { w.add_tensor("t", {}, 0, {}); }), "0 dimensions");
  expect_parse_error(file_with([](GgufWriter& w) { w.add_tensor("t", {1, 1, 1, 1, 1}, 0, f32_bytes(1)); }),
                     "5 dimensions");
  expect_parse_error(file_with([](GgufWriter& w) { w.add_tensor("t", {4, 0}, 0, {}); }), "ne[1] = 0");
  expect_parse_error(file_with([](GgufWriter& w) { w.add_tensor("t", {4}, 99, f32_bytes(4)); }), "ggml type 99");
  expect_parse_error(file_with([](GgufWriter& w) { w.add_tensor("t", {4}, 4, f32_bytes(4)); }), "ggml type 4");
  expect_parse_error(file_with([](GgufWriter& w) { w.add_tensor("t", {16, 2}, 8, std::vector<uint8_t>(34)); }),
                     "multiple of the block size 32");
  expect_parse_error(file_with([](GgufWriter& w) {
                       w.add_tensor("t", {4}, 0, f32_bytes(4));
                       w.add_tensor("t", {4}, 0, f32_bytes(4));
                     }),
                     "appears twice");
  // Element count overflow: 4 dims of 2^20 each.
  expect_parse_error(file_with([](GgufWriter& w) {
                       const int64_t big = int64_t{1} << 20;
                       w.add_tensor("t", {big, big, big, big}, 0, {});
                     }),
                     "elements");
  // Data shorter than the tensor: 4 floats declared, 3 present (and the file ends there).
  expect_parse_error(file_with([](GgufWriter& w) { w.add_tensor("t", {4}, 0, f32_bytes(3)); }),
                     "ends past the end");
  // Offsets: patch the stored offset of a one-tensor file.
  std::vector<uint8_t> bytes = file_with([](GgufWriter& w) { w.add_tensor("t", {8}, 0, f32_bytes(8)); });
  // Layout: 24-byte header, then name (8 + 1), n_dims (4), ne[0] (8), type (4), offset (8).
  const size_t offset_at = 24 + 9 + 4 + 8 + 4;
  patch_u64(bytes, offset_at, 4);
  expect_parse_error(bytes, "multiple of the alignment");
  patch_u64(bytes, offset_at, 1024);
  expect_parse_error(bytes, "ends past the end");
  patch_u64(bytes, offset_at, ~uint64_t{0} - 31);
  expect_parse_error(bytes, "ends past the end");
  patch_u64(bytes, offset_at, 0);
  EXPECT_NO_THROW(parse_only(bytes));
}

TEST(GgufMalformed, ModelLevelProblems) {
  const auto with_model = [](const std::function<void(TinyModel&)>& edit) {
    TinyModel model = build_tiny_model(false);
    edit(model);
    return model.writer.bytes();
  };
  // Architecture other than llama.
  {
    GgufWriter w;
    w.add_string("general.architecture", "falcon");
    expect_error_containing(w.bytes(), "expected 'llama'");
  }
  // A required key missing.
  {
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    expect_error_containing(w.bytes(), "llama.embedding_length' is missing");
  }
  // Key length disagreeing with the q/k shapes (and not a power of two), unsupported RoPE scaling.
  expect_error_containing(with_model([](TinyModel& m) { m.writer.add_u32("llama.attention.key_length", 7); }),
                          "head_dim");
  expect_error_containing(with_model([](TinyModel& m) { m.writer.add_string("llama.rope.scaling.type", "yarn"); }),
                          "yarn");
  {
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_u32("llama.block_count", 1);
    w.add_u32("llama.embedding_length", 32);
    w.add_u32("llama.feed_forward_length", 64);
    w.add_u32("llama.attention.head_count", 4);
    w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    w.add_u32("llama.vocab_size", 1000);
    add_tokenizer_metadata(w, test::tiny_vocab());
    expect_error_containing(w.bytes(), "llama.vocab_size is 1000, but tokenizer.ggml.tokens has 271 entries");
  }
  // q projection shaped for the wrong number of heads.
  {
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_u32("llama.block_count", 1);
    w.add_u32("llama.embedding_length", 32);
    w.add_u32("llama.feed_forward_length", 64);
    w.add_u32("llama.attention.head_count", 4);
    w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    add_tokenizer_metadata(w, test::tiny_vocab());
    w.add_tensor("blk.0.attn_q.weight", {32, 16}, 0, f32_bytes(32 * 16));
    expect_error_containing(w.bytes(), "attn_q.weight' has ne [32, 16], expected [32, 32]");
  }
  // A stored type this library cannot dequantize parses, then fails on load naming the type.
  {
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_u32("llama.block_count", 1);
    w.add_u32("llama.embedding_length", 256);
    w.add_u32("llama.feed_forward_length", 64);
    w.add_u32("llama.attention.head_count", 4);
    w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    add_tokenizer_metadata(w, test::tiny_vocab());
    w.add_tensor("output_norm.weight", {256}, 10, std::vector<uint8_t>(84));  // Q2_K
    expect_error_containing(w.bytes(), "Q2_K");
  }
  // Tokenizer problems.
  {
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_u32("llama.block_count", 1);
    w.add_u32("llama.embedding_length", 32);
    w.add_u32("llama.feed_forward_length", 64);
    w.add_u32("llama.attention.head_count", 4);
    w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    w.add_string_array("tokenizer.ggml.tokens", {"a", "b"});
    w.add_string("tokenizer.ggml.model", "llama");
    expect_error_containing(w.bytes(), "tokenizer.ggml.model is 'llama'");
  }
}

// Seeded random mutations of a valid file: whatever happens must be a clean success or an
// adamas::Error, never a crash, a hang or another exception type.
TEST(GgufFuzz, RandomMutationsNeverCrash) {
  const std::vector<uint8_t> valid = small_valid_file();
  int errors = 0;
  for (unsigned seed = 0; seed < 1000; ++seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> bytes = valid;
    const int n_mutations = std::uniform_int_distribution<int>(1, 6)(rng);
    // Most interesting bytes are in the header and infos; aim half the mutations there.
    const size_t header_end = std::min<size_t>(bytes.size(), 12000);
    for (int m = 0; m < n_mutations; ++m) {
      const size_t limit = (rng() & 1) ? header_end : bytes.size();
      const size_t at = std::uniform_int_distribution<size_t>(0, limit - 1)(rng);
      switch (rng() % 4) {
        case 0: bytes[at] = static_cast<uint8_t>(rng()); break;
        case 1: bytes[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 2:
          if (at + 8 <= bytes.size()) {
            const uint64_t values[] = {0, 1, 0xFFFFFFFFull, ~uint64_t{0}, uint64_t{1} << 63, rng()};
            patch_u64(bytes, at, values[rng() % 6]);
          }
          break;
        default: bytes.resize(at); break;
      }
    }
    try {
      open_bytes(bytes);
    } catch (const Error&) {
      ++errors;
    } catch (const std::exception& e) {
      FAIL() << "seed " << seed << ": unexpected exception type: " << e.what();
    }
  }
  EXPECT_GT(errors, 0);
}

TEST(GgufOpen, FileSystemErrors) {
  EXPECT_THROW(open_gguf_checkpoint("/nonexistent/adamas/model.gguf"), Error);
  EXPECT_THROW(open_gguf_checkpoint(std::filesystem::temp_directory_path().string()), Error);
  const TempFile empty({});
  EXPECT_THROW(open_gguf_checkpoint(empty.path()), Error);
}

}  // namespace
}  // namespace adamas
