// Loads the real SmolLM2-135M-Instruct Q4_1 GGUF when it is present (scripts/fetch_smollm2.sh puts
// it in ~/.cache/adamas/smollm2, or point ADAMAS_SMOLLM2_GGUF at it); skipped otherwise, as in CI.
// Expected values were produced once in Python: token ids with Hugging Face tokenizers 0.21 (BPE
// from the file's vocab and merges, Digits(individual) + ByteLevel pre-tokenizer, the 17 control
// tokens as specials), tensor values with gguf-py 0.x's dequantize plus the inverse of
// llama.cpp's q/k permutation in numpy.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "adamas/model/gguf.h"

namespace adamas {
namespace {

std::string smollm2_path() {
  if (const char* env = std::getenv("ADAMAS_SMOLLM2_GGUF")) return env;
  const char* home = std::getenv("HOME");
  if (home == nullptr) return "";
  return std::string(home) + "/.cache/adamas/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
}

class GgufSmolLM2 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = smollm2_path();
    if (!path.empty() && std::filesystem::exists(path)) checkpoint_ = new Checkpoint(open_gguf_checkpoint(path));
  }
  static void TearDownTestSuite() {
    delete checkpoint_;
    checkpoint_ = nullptr;
  }
  void SetUp() override {
    if (checkpoint_ == nullptr) GTEST_SKIP() << "SmolLM2 GGUF not found at " << smollm2_path();
  }
  static Checkpoint* checkpoint_;
};

Checkpoint* GgufSmolLM2::checkpoint_ = nullptr;

TEST_F(GgufSmolLM2, Config) {
  const ModelConfig& config = checkpoint_->config;
  EXPECT_EQ(config.architecture, "llama");
  EXPECT_EQ(config.vocab_size, 49152);
  EXPECT_EQ(config.hidden_size, 576);
  EXPECT_EQ(config.intermediate_size, 1536);
  EXPECT_EQ(config.num_layers, 30);
  EXPECT_EQ(config.num_heads, 9);
  EXPECT_EQ(config.num_kv_heads, 3);
  EXPECT_EQ(config.head_dim, 64);
  EXPECT_EQ(config.max_position_embeddings, 8192);
  EXPECT_DOUBLE_EQ(config.rope_theta, 100000.0);
  EXPECT_NEAR(config.rms_norm_eps, 1e-5, 1e-11);
  EXPECT_EQ(config.rope_scaling.type, RopeScaling::Type::kNone);
  EXPECT_TRUE(config.tie_word_embeddings);
  EXPECT_EQ(config.bos_token_id, 1);
  EXPECT_EQ(config.eos_token_id, 2);
}

TEST_F(GgufSmolLM2, TensorsNamesShapesAndTypes) {
  const WeightSource& weights = *checkpoint_->weights;
  EXPECT_EQ(weights.tensor_names().size(), 272u);  // 30 x 9 + embedding + final norm
  EXPECT_FALSE(weights.has_tensor("lm_head.weight"));
  EXPECT_EQ(weights.tensor_shape("model.embed_tokens.weight"), (std::vector<int64_t>{49152, 576}));
  EXPECT_EQ(weights.stored_type("model.embed_tokens.weight"), "Q8_0");
  EXPECT_EQ(weights.tensor_shape("model.layers.0.self_attn.q_proj.weight"), (std::vector<int64_t>{576, 576}));
  EXPECT_EQ(weights.tensor_shape("model.layers.29.self_attn.k_proj.weight"), (std::vector<int64_t>{192, 576}));
  EXPECT_EQ(weights.tensor_shape("model.layers.3.mlp.down_proj.weight"), (std::vector<int64_t>{576, 1536}));
  EXPECT_EQ(weights.tensor_shape("model.layers.3.mlp.gate_proj.weight"), (std::vector<int64_t>{1536, 576}));
  EXPECT_EQ(weights.stored_type("model.layers.3.mlp.down_proj.weight"), "Q4_1");
  EXPECT_EQ(weights.tensor_shape("model.norm.weight"), (std::vector<int64_t>{576}));
  EXPECT_EQ(weights.stored_type("model.norm.weight"), "F32");
}

// gguf-py and this library both compute d * q + m in fp32; allow an ulp or two.
void expect_values(const std::vector<float>& values, size_t at, const std::vector<double>& expected) {
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(values[at + i], expected[i], 1e-6 * std::abs(expected[i]) + 1e-9) << "element " << at + i;
  }
}

TEST_F(GgufSmolLM2, DequantizedValues) {
  const WeightSource& weights = *checkpoint_->weights;
  const std::vector<float> embed = weights.load_f32("model.embed_tokens.weight");
  ASSERT_EQ(embed.size(), 49152u * 576u);
  expect_values(embed, 0, {-0.10654449462890625, 0.032978057861328125, 0.048198699951171875, -0.022830963134765625});
  expect_values(embed, 49151u * 576u + 573u, {0.12858200073242188, -0.11989402770996094, -0.0417022705078125});
  // q rows in Hugging Face order: row 1 is GGUF row 2, row 32 is GGUF row 1.
  const std::vector<float> q = weights.load_f32("model.layers.0.self_attn.q_proj.weight");
  expect_values(q, 1 * 576, {-0.1591796875, 0.39794921875, -0.0198974609375, -1.2734375});
  expect_values(q, 32 * 576, {-0.1173095703125, -0.1173095703125, -0.19281005859375, 0.26019287109375});
  const std::vector<float> k = weights.load_f32("model.layers.29.self_attn.k_proj.weight");
  expect_values(k, 100 * 576 + 572, {0.035308837890625, 0.1651611328125, -0.0426025390625, 0.087249755859375});
  expect_values(weights.load_f32("model.norm.weight"), 0, {1.7578125, 1.8203125, 1.78125, 1.6015625});
  expect_values(weights.load_f32("model.layers.3.mlp.down_proj.weight"), 575 * 1536 + 1530,
                {0.045654296875, -0.32861328125, 0.045654296875, -0.1414794921875, -0.203857421875, 0.3575439453125});
}

TEST_F(GgufSmolLM2, TokenizerKnownIds) {
  const Tokenizer& tokenizer = *checkpoint_->tokenizer;
  EXPECT_EQ(tokenizer.vocab_size(), 49152);
  EXPECT_EQ(tokenizer.bos_id(), 1);
  EXPECT_EQ(tokenizer.eos_id(), 2);
  const std::vector<std::pair<std::string, std::vector<int32_t>>> cases = {
      {"Hello, world!", {19556, 28, 905, 17}},
      {"The capital of France is Paris.", {504, 3575, 282, 4649, 314, 7042, 30}},
      {"<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
       {1, 4093, 198, 1780, 314, 216, 34, 27, 34, 47, 2, 198, 1, 520, 9531, 198}},
      {"  leading spaces and 12345 digits\n\ttabs", {216, 2899, 5600, 284, 216, 33, 34, 35, 36, 37, 18638, 198, 197, 100, 7366}},
      {"café naïve – “quotes” 日本語 😀",
       {83, 1939, 2756, 15486, 46494, 816, 619, 385, 2346, 573, 17097, 241, 115, 40993, 179, 120, 248, 40303, 218}},
      {"def f(x):\n    return x**2  # square", {1604, 275, 24, 104, 727, 472, 1003, 1792, 828, 34, 216, 907, 5222}},
  };
  for (const auto& [text, ids] : cases) {
    EXPECT_EQ(tokenizer.encode(text, false), ids) << text;
    if (text.find("<|") == std::string::npos) {
      EXPECT_EQ(tokenizer.decode(ids), text);
    }
  }
  EXPECT_EQ(tokenizer.encode("Hi", true), (std::vector<int32_t>{1, 26843}));
}

}  // namespace
}  // namespace adamas
