#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "adamas/error.h"
#include "adamas/model/model_config.h"
#include "model/model_test_support.h"

namespace adamas {
namespace {

using Json = nlohmann::json;
using test::expect_error;

// meta-llama/Llama-2-7b-hf config.json (abridged to the fields HF writes).
Json llama2_7b() {
  return Json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
    "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 11008,
    "max_position_embeddings": 4096, "model_type": "llama", "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 32, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": null, "tie_word_embeddings": false, "torch_dtype": "float16",
    "transformers_version": "4.31.0.dev0", "use_cache": true, "vocab_size": 32000})");
}

ModelConfig parse(const Json& json) { return parse_hf_config(json.dump(), "config.json"); }

TEST(ModelConfig, Llama2) {
  const ModelConfig config = parse(llama2_7b());
  EXPECT_EQ(config.architecture, "LlamaForCausalLM");
  EXPECT_EQ(config.vocab_size, 32000);
  EXPECT_EQ(config.hidden_size, 4096);
  EXPECT_EQ(config.intermediate_size, 11008);
  EXPECT_EQ(config.num_layers, 32);
  EXPECT_EQ(config.num_heads, 32);
  EXPECT_EQ(config.num_kv_heads, 32);
  EXPECT_EQ(config.head_dim, 128);
  EXPECT_DOUBLE_EQ(config.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(config.rope_theta, 10000.0);
  EXPECT_EQ(config.rope_scaling.type, RopeScaling::Type::kNone);
  EXPECT_EQ(config.max_position_embeddings, 4096);
  EXPECT_FALSE(config.tie_word_embeddings);
  EXPECT_EQ(config.bos_token_id, 1);
  EXPECT_EQ(config.eos_token_id, 2);
}

TEST(ModelConfig, DefaultsForOptionalFields) {
  Json json = llama2_7b();
  for (const char* key : {"num_key_value_heads", "rms_norm_eps", "rope_scaling", "max_position_embeddings",
                          "tie_word_embeddings", "bos_token_id", "eos_token_id", "hidden_act"}) {
    json.erase(key);
  }
  json["rope_theta"] = nullptr;  // null means "default" too
  const ModelConfig config = parse(json);
  EXPECT_EQ(config.num_kv_heads, 32);
  EXPECT_EQ(config.head_dim, 128);
  EXPECT_DOUBLE_EQ(config.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(config.rope_theta, 10000.0);
  EXPECT_EQ(config.max_position_embeddings, 2048);
  EXPECT_FALSE(config.tie_word_embeddings);
  EXPECT_EQ(config.bos_token_id, -1);
  EXPECT_EQ(config.eos_token_id, -1);
}

TEST(ModelConfig, LongChatLinearRopeScaling) {
  // lmsys/longchat-7b-16k: Llama 7B with positions interpolated 8x.
  Json json = llama2_7b();
  json["max_position_embeddings"] = 16384;
  json["rope_scaling"] = {{"type", "linear"}, {"factor", 8.0}};
  const ModelConfig config = parse(json);
  EXPECT_EQ(config.rope_scaling.type, RopeScaling::Type::kLinear);
  EXPECT_DOUBLE_EQ(config.rope_scaling.factor, 8.0);
  EXPECT_EQ(config.max_position_embeddings, 16384);

  json["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4}};
  EXPECT_DOUBLE_EQ(parse(json).rope_scaling.factor, 4.0);
}

TEST(ModelConfig, Llama31WithLlama3RopeScalingAndEosList) {
  const Json json = Json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
    "hidden_size": 4096, "intermediate_size": 14336, "max_position_embeddings": 131072,
    "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32,
    "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": false, "vocab_size": 128256})");
  const ModelConfig config = parse(json);
  EXPECT_EQ(config.num_kv_heads, 8);
  EXPECT_EQ(config.head_dim, 128);
  EXPECT_DOUBLE_EQ(config.rope_theta, 500000.0);
  EXPECT_EQ(config.rope_scaling.type, RopeScaling::Type::kLlama3);
  EXPECT_DOUBLE_EQ(config.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(config.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(config.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(config.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(config.max_position_embeddings, 131072);
  EXPECT_EQ(config.bos_token_id, 128000);
  EXPECT_EQ(config.eos_token_id, 128001);
}

TEST(ModelConfig, Mistral) {
  Json json = llama2_7b();
  json["architectures"] = {"MistralForCausalLM"};
  json["num_key_value_heads"] = 8;
  json["max_position_embeddings"] = 32768;
  json["sliding_window"] = 4096;
  ModelConfig config = parse(json);
  EXPECT_EQ(config.architecture, "MistralForCausalLM");
  EXPECT_EQ(config.num_kv_heads, 8);
  // The sliding window is not implemented; the usable context is capped at it instead.
  EXPECT_EQ(config.max_position_embeddings, 4096);
  json["sliding_window"] = nullptr;  // Mistral v0.2 and later
  EXPECT_EQ(parse(json).max_position_embeddings, 32768);
}

TEST(ModelConfig, ExplicitHeadDimAndLenientNumbers) {
  Json json = llama2_7b();
  json["hidden_size"] = 5120;
  json["head_dim"] = 128;  // 5120 / 32 = 160, but the config says 128 (Mistral Nemo style)
  json["num_hidden_layers"] = 40.0;
  const ModelConfig config = parse(json);
  EXPECT_EQ(config.head_dim, 128);
  EXPECT_EQ(config.num_layers, 40);
}

TEST(ModelConfig, ArchitectureFromModelType) {
  Json json = llama2_7b();
  json.erase("architectures");
  EXPECT_EQ(parse(json).architecture, "LlamaForCausalLM");
  json["model_type"] = "mistral";
  EXPECT_EQ(parse(json).architecture, "MistralForCausalLM");
  json["model_type"] = "gpt2";
  expect_error([&] { parse(json); }, {"config.json", "unsupported model_type 'gpt2'"});
  json.erase("model_type");
  expect_error([&] { parse(json); }, {"neither architectures nor model_type"});
}

TEST(ModelConfig, DefaultRopeType) {
  Json json = llama2_7b();
  json["rope_scaling"] = {{"rope_type", "default"}};
  EXPECT_EQ(parse(json).rope_scaling.type, RopeScaling::Type::kNone);
}

// One malformed config per row: the edit, then pieces the message must contain.
struct ConfigErrorCase {
  const char* label;
  std::function<void(Json&)> edit;
  std::vector<std::string> message_parts;
};

class ModelConfigErrors : public ::testing::TestWithParam<ConfigErrorCase> {};

TEST_P(ModelConfigErrors, NamesTheProblem) {
  Json json = llama2_7b();
  GetParam().edit(json);
  std::vector<std::string> parts = GetParam().message_parts;
  parts.insert(parts.begin(), "config.json: ");
  expect_error([&] { parse(json); }, parts);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ModelConfigErrors,
    ::testing::Values(
        ConfigErrorCase{"Architecture", [](Json& j) { j["architectures"] = {"Qwen2ForCausalLM"}; },
                        {"unsupported architecture 'Qwen2ForCausalLM'", "LlamaForCausalLM or MistralForCausalLM"}},
        ConfigErrorCase{"ArchitecturesNotList", [](Json& j) { j["architectures"] = "LlamaForCausalLM"; },
                        {"expected a list of names"}},
        ConfigErrorCase{"RopeDynamic", [](Json& j) { j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}}; },
                        {"unsupported rope_scaling type 'dynamic'"}},
        ConfigErrorCase{"RopeYarn", [](Json& j) { j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}}; },
                        {"unsupported rope_scaling type 'yarn'"}},
        ConfigErrorCase{"RopeNoType", [](Json& j) { j["rope_scaling"] = {{"factor", 4.0}}; },
                        {"no rope_type or type"}},
        ConfigErrorCase{"RopeNotObject", [](Json& j) { j["rope_scaling"] = 8; }, {"rope_scaling is 8"}},
        ConfigErrorCase{"LinearNoFactor", [](Json& j) { j["rope_scaling"] = {{"type", "linear"}}; },
                        {"rope_scaling of type linear has no factor"}},
        ConfigErrorCase{"LinearFactorBelowOne",
                        [](Json& j) { j["rope_scaling"] = {{"type", "linear"}, {"factor", 0.5}}; },
                        {"rope_scaling.factor is 0.5", "expected a number >= 1"}},
        ConfigErrorCase{"Llama3Incomplete",
                        [](Json& j) {
                          j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"high_freq_factor", 4.0},
                                               {"original_max_position_embeddings", 8192}};
                        },
                        {"rope_scaling of type llama3 has no low_freq_factor"}},
        ConfigErrorCase{"Llama3NoOriginal",
                        [](Json& j) {
                          j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                                               {"high_freq_factor", 4.0}};
                        },
                        {"has no original_max_position_embeddings"}},
        ConfigErrorCase{"Llama3FrequencyOrder",
                        [](Json& j) {
                          j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 4.0},
                                               {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
                        },
                        {"high_freq_factor is 4", "larger than low_freq_factor"}},
        ConfigErrorCase{"MissingHiddenSize", [](Json& j) { j.erase("hidden_size"); },
                        {"missing required field 'hidden_size'"}},
        ConfigErrorCase{"MissingVocab", [](Json& j) { j["vocab_size"] = nullptr; },
                        {"missing required field 'vocab_size'"}},
        ConfigErrorCase{"StringNumber", [](Json& j) { j["hidden_size"] = "4096"; },
                        {"hidden_size is \"4096\"", "expected an integer"}},
        ConfigErrorCase{"FractionalInteger", [](Json& j) { j["num_hidden_layers"] = 32.5; },
                        {"num_hidden_layers is 32.5", "expected an integer"}},
        ConfigErrorCase{"NegativeVocab", [](Json& j) { j["vocab_size"] = -5; },
                        {"vocab_size is -5", "expected a positive integer"}},
        ConfigErrorCase{"ZeroLayers", [](Json& j) { j["num_hidden_layers"] = 0; }, {"num_hidden_layers is 0"}},
        ConfigErrorCase{"KvHeadsDoNotDivide", [](Json& j) { j["num_key_value_heads"] = 5; },
                        {"num_attention_heads 32 is not a multiple of num_key_value_heads 5"}},
        ConfigErrorCase{"HiddenNotMultipleOfHeads", [](Json& j) { j["hidden_size"] = 4100; },
                        {"hidden_size 4100 is not a multiple of num_attention_heads 32"}},
        ConfigErrorCase{"HeadDimNotPowerOfTwo", [](Json& j) { j["hidden_size"] = 4800; },
                        {"head_dim is 150", "power of two", "Hadamard"}},
        ConfigErrorCase{"HeadDimTooLarge", [](Json& j) { j["head_dim"] = 512; },
                        {"head_dim is 512", "no larger than 256"}},
        ConfigErrorCase{"BadEps", [](Json& j) { j["rms_norm_eps"] = 0; }, {"rms_norm_eps is 0"}},
        ConfigErrorCase{"BadTheta", [](Json& j) { j["rope_theta"] = -1.0; }, {"rope_theta is -1"}},
        ConfigErrorCase{"TieNotBool", [](Json& j) { j["tie_word_embeddings"] = 1; },
                        {"tie_word_embeddings is 1", "expected true or false"}},
        ConfigErrorCase{"BosOutOfRange", [](Json& j) { j["bos_token_id"] = 32000; },
                        {"bos_token_id is 32000", "below vocab_size 32000"}},
        ConfigErrorCase{"EosListOutOfRange", [](Json& j) { j["eos_token_id"] = {99999, 2}; },
                        {"eos_token_id is 99999"}},
        ConfigErrorCase{"AttentionBias", [](Json& j) { j["attention_bias"] = true; },
                        {"attention_bias is true", "not supported"}},
        ConfigErrorCase{"MlpBias", [](Json& j) { j["mlp_bias"] = true; }, {"mlp_bias is true"}},
        ConfigErrorCase{"Activation", [](Json& j) { j["hidden_act"] = "gelu"; },
                        {"hidden_act is \"gelu\"", "expected \"silu\""}},
        ConfigErrorCase{"SlidingWindowZero", [](Json& j) { j["sliding_window"] = 0; }, {"sliding_window is 0"}},
        ConfigErrorCase{"NotAnObject", [](Json& j) { j = Json::array({1}); },
                        {"top level is a JSON array", "expected an object"}}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(ModelConfig, MalformedJson) {
  expect_error([] { parse_hf_config("{\"hidden_size\": 4096,", "models/x/config.json"); },
               {"models/x/config.json: malformed JSON"});
  expect_error([] { parse_hf_config("", "config.json"); }, {"config.json: malformed JSON"});
}

TEST(ModelConfig, ValidateNamesTheFirstBadField) {
  ModelConfig config;
  expect_error([&] { config.validate("gguf metadata"); }, {"gguf metadata: architecture is not set"});
  config = parse(llama2_7b());
  EXPECT_NO_THROW(config.validate("x"));
  config.num_kv_heads = 0;
  expect_error([&] { config.validate("x"); }, {"x: num_key_value_heads is 0"});
}

}  // namespace
}  // namespace adamas
