// The CPU forward pass against the naive reference of tests/eval/tiny_llama.h, the equalities the
// runtime promises (chunked prefill = token-by-token decode, any policy with a budget at or
// above the context = full attention), and bad checkpoints / inputs -> adamas::Error.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "adamas/error.h"
#include "adamas/model/checkpoint.h"
#include "adamas/model/llama_model.h"
#include "adamas/model/weight_source.h"
#include "eval/tiny_llama.h"

namespace adamas::test {
namespace {

// fp32 forward vs double reference on a 3-layer model with O(1) activations: observed errors are
// ~1e-6; 1e-4 leaves room for BLAS summation order and libm differences.
constexpr double kTolerance = 1e-4;

LlamaModel load_model(const TempDir& dir, const TinyLlamaSpec& spec, WeightPrecision precision = WeightPrecision::kF32) {
  const ModelConfig config = parse_hf_config(spec.config_json().dump(), "config.json");
  const auto weights = open_safetensors_dir(dir.path().string());
  LoadOptions options;
  options.precision = precision;
  return LlamaModel::load(config, *weights, options, dir.path().string());
}

RuntimeOptions f32_options(Policy policy = Policy::kFull, int budget = 256) {
  RuntimeOptions options;
  options.kv_dtype = DType::kF32;
  options.selector.policy = policy;
  options.selector.token_budget = budget;
  options.selector.thresholds = {-0.5f, 0.0f, 0.5f};
  options.page_size = 4;
  options.max_context = 128;
  options.prefill_chunk = 7;  // not a divisor of the lengths below: chunks of every size occur
  return options;
}

std::vector<int32_t> test_tokens(int count, int vocab, uint32_t seed = 3) {
  std::mt19937 rng(seed);
  std::vector<int32_t> tokens(count);
  for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % vocab);
  tokens[0] = 1;
  return tokens;
}

struct ShapeCase {
  int heads, kv_heads, head_dim;
  bool tied;
  const char* dtype;
};

class ForwardVsReference : public ::testing::TestWithParam<ShapeCase> {};

TEST_P(ForwardVsReference, PrefillAndDecodeLogits) {
  const ShapeCase c = GetParam();
  TinyLlamaSpec spec;
  spec.num_heads = c.heads;
  spec.num_kv_heads = c.kv_heads;
  spec.head_dim = c.head_dim;
  spec.hidden_size = 32;
  spec.tie_word_embeddings = c.tied;
  spec.dtype = c.dtype;
  SCOPED_TRACE(::testing::Message() << "heads " << c.heads << "/" << c.kv_heads << " d " << c.head_dim << " tied "
                                    << c.tied << " " << c.dtype);
  TempDir dir;
  const TensorMap tensors = write_tiny_llama(dir.path(), spec);
  const LlamaModel model = load_model(dir, spec);
  const std::vector<int32_t> tokens = test_tokens(30, spec.vocab_size);
  const auto expected = reference_logits(spec, tensors, tokens);

  auto runtime = make_cpu_runtime(model, f32_options());
  std::vector<float> logits;
  runtime->prefill(tokens, &logits, /*all_positions=*/true);
  for (size_t p = 0; p < tokens.size(); ++p)
    EXPECT_LT(row_relative_error(logits.data() + p * spec.vocab_size, expected[p]), kTolerance) << "prefill position " << p;

  // Prefill 25 tokens, then decode the last 5 one at a time.
  runtime->reset();
  const std::vector<int32_t> head(tokens.begin(), tokens.begin() + 25);
  runtime->prefill(head, &logits, false);
  EXPECT_LT(row_relative_error(logits.data(), expected[24]), kTolerance);
  std::vector<float> step(spec.vocab_size);
  for (size_t p = 25; p < tokens.size(); ++p) {
    runtime->decode(tokens[p], step.data());
    EXPECT_LT(row_relative_error(step.data(), expected[p]), kTolerance) << "decode position " << p;
  }
  EXPECT_EQ(runtime->position(), 30);
}

INSTANTIATE_TEST_SUITE_P(Shapes, ForwardVsReference,
                         ::testing::Values(ShapeCase{4, 2, 8, false, "F32"}, ShapeCase{4, 1, 8, true, "F32"},
                                           ShapeCase{2, 2, 16, false, "BF16"}, ShapeCase{4, 4, 4, false, "F16"}));

TEST(LlamaModel, ChunkedPrefillEqualsTokenByTokenDecode) {
  TinyLlamaSpec spec;
  TempDir dir;
  write_tiny_llama(dir.path(), spec);
  const LlamaModel model = load_model(dir, spec);
  const std::vector<int32_t> tokens = test_tokens(40, spec.vocab_size, 11);

  std::vector<float> prefill_logits;
  RuntimeOptions options = f32_options();
  options.prefill_chunk = 16;
  auto chunked = make_cpu_runtime(model, options);
  chunked->prefill(tokens, &prefill_logits, true);

  auto stepwise = make_cpu_runtime(model, options);
  std::vector<float> step(spec.vocab_size);
  for (size_t p = 0; p < tokens.size(); ++p) {
    stepwise->decode(tokens[p], step.data());
    double diff = 0, scale = 0;
    for (int v = 0; v < spec.vocab_size; ++v) {
      diff = std::max(diff, double(std::abs(step[v] - prefill_logits[p * spec.vocab_size + v])));
      scale = std::max(scale, double(std::abs(prefill_logits[p * spec.vocab_size + v])));
    }
    // Same math in a different order (sgemv vs sgemm, online vs blocked softmax): fp32 rounding.
    EXPECT_LT(diff / scale, 1e-5) << "position " << p;
  }
}

TEST(LlamaModel, AnyPolicyWithBudgetAtContextIsExactlyFull) {
  TinyLlamaSpec spec;
  TempDir dir;
  write_tiny_llama(dir.path(), spec);
  const LlamaModel model = load_model(dir, spec);
  const std::vector<int32_t> tokens = test_tokens(48, spec.vocab_size, 5);
  const std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + 20);

  auto run = [&](Policy policy, int budget, bool per_query_head) {
    RuntimeOptions options = f32_options(policy, budget);
    options.dense_layers = 0;  // the policy in every layer
    options.selector.per_query_head = per_query_head;
    auto runtime = make_cpu_runtime(model, options);
    runtime->prefill(prompt, nullptr);
    std::vector<float> all, step(spec.vocab_size);
    for (size_t p = prompt.size(); p < tokens.size(); ++p) {
      runtime->decode(tokens[p], step.data());
      all.insert(all.end(), step.begin(), step.end());
    }
    return all;
  };
  const std::vector<float> full = run(Policy::kFull, 256, false);
  for (Policy policy : {Policy::kStreaming, Policy::kQuest, Policy::kAdamas, Policy::kOracle})
    for (bool per_query_head : {false, true}) {
      SCOPED_TRACE(policy_name(policy) + (per_query_head ? " per-query-head" : ""));
      EXPECT_EQ(run(policy, 48, per_query_head), full);   // budget == final context: dense every step
      const std::vector<float> sparse = run(policy, 8, per_query_head);
      for (float v : sparse) ASSERT_TRUE(std::isfinite(v));
      if (policy != Policy::kOracle) EXPECT_NE(sparse, full);  // budget 8 < context: the policy is applied
    }
}

TEST(LlamaModel, DecodeStatsFollowTheByteModel) {
  TinyLlamaSpec spec;
  TempDir dir;
  write_tiny_llama(dir.path(), spec);
  const LlamaModel model = load_model(dir, spec);
  RuntimeOptions options = f32_options(Policy::kAdamas, 8);
  options.dense_layers = 1;
  auto runtime = make_cpu_runtime(model, options);
  runtime->prefill(test_tokens(39, spec.vocab_size), nullptr);
  runtime->decode(5, nullptr);
  const DecodeStepStats& stats = runtime->last_step();
  EXPECT_EQ(stats.context, 40);
  const double row = spec.head_dim * 4.0, heads = spec.num_kv_heads;
  const double dense_layer = heads * 40 * 2 * row;
  const double adamas_layer = heads * (40 * spec.head_dim / 4.0 + 8 * 2 * row);
  EXPECT_DOUBLE_EQ(stats.dense_kv_bytes, 3 * dense_layer);
  EXPECT_DOUBLE_EQ(stats.kv_bytes_read, dense_layer + 2 * adamas_layer);
}

TEST(LlamaModel, RopeScalingVariantsMatchReference) {
  for (const nlohmann::json& scaling :
       {nlohmann::json{{"type", "linear"}, {"factor", 4.0}},
        nlohmann::json{{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 64}}}) {
    SCOPED_TRACE(scaling.dump());
    TinyLlamaSpec spec;
    spec.head_dim = 32;
    spec.num_heads = 2;
    spec.num_kv_heads = 1;
    spec.rope_theta = 50.0;  // small base: every llama3 band (high, medium, low) holds frequencies at d = 32
    spec.rope_scaling = scaling;
    TempDir dir;
    const TensorMap tensors = write_tiny_llama(dir.path(), spec);
    const LlamaModel model = load_model(dir, spec);
    const std::vector<int32_t> tokens = test_tokens(60, spec.vocab_size, 9);
    const auto expected = reference_logits(spec, tensors, tokens);
    auto runtime = make_cpu_runtime(model, f32_options());
    std::vector<float> logits;
    runtime->prefill(tokens, &logits, true);
    for (size_t p = 0; p < tokens.size(); ++p)
      EXPECT_LT(row_relative_error(logits.data() + p * spec.vocab_size, expected[p]), kTolerance) << "position " << p;
  }
}

TEST(LlamaModel, SixteenBitWeightsAndCacheStayClose) {
  TinyLlamaSpec spec;
  TempDir dir;
  const TensorMap tensors = write_tiny_llama(dir.path(), spec);
  const std::vector<int32_t> tokens = test_tokens(24, spec.vocab_size);
  const auto expected = reference_logits(spec, tensors, tokens);
  const LlamaModel model = load_model(dir, spec, WeightPrecision::kBF16);
  RuntimeOptions options = f32_options();
  options.kv_dtype = DType::kF16;
  auto runtime = make_cpu_runtime(model, options);
  std::vector<float> logits(spec.vocab_size);
  for (size_t p = 0; p < tokens.size(); ++p) {
    runtime->decode(tokens[p], logits.data());
    // bf16 weights (8 mantissa bits) and an f16 cache: up to ~4e-2 of the largest logit observed.
    EXPECT_LT(row_relative_error(logits.data(), expected[p]), 8e-2) << "position " << p;
  }
}

TEST(LlamaModel, BadCheckpointsAndInputsThrow) {
  TinyLlamaSpec spec;
  {
    TempDir dir;
    write_tiny_llama(dir.path(), spec, false, [](std::vector<StoredTensor>& tensors) {
      std::erase_if(tensors, [](const StoredTensor& t) { return t.name == "model.layers.1.mlp.up_proj.weight"; });
    });
    expect_error([&] { load_model(dir, spec); }, {"model.layers.1.mlp.up_proj.weight", "missing"});
  }
  {
    TempDir dir;
    write_tiny_llama(dir.path(), spec, false, [](std::vector<StoredTensor>& tensors) {
      for (StoredTensor& t : tensors)
        if (t.name == "model.layers.0.self_attn.k_proj.weight") std::swap(t.shape[0], t.shape[1]);
    });
    expect_error([&] { load_model(dir, spec); }, {"model.layers.0.self_attn.k_proj.weight", "shape"});
  }
  {
    TinyLlamaSpec odd = spec;
    odd.head_dim = 6;  // not a power of two: no Hadamard transform / key codes of that size
    TempDir dir;
    write_tiny_llama(dir.path(), odd);
    EXPECT_THROW(load_model(dir, odd), Error);
  }
  {
    TempDir dir;
    write_tiny_llama(dir.path(), spec, false, [](std::vector<StoredTensor>& tensors) {
      for (StoredTensor& t : tensors)
        if (t.name == "model.norm.weight") {
          const float nan = std::nanf("");
          std::memcpy(t.bytes.data(), &nan, 4);
        }
    });
    expect_error([&] { load_model(dir, spec); }, {"model.norm.weight", "non-finite"});
  }
  {
    TinyLlamaSpec unsupported = spec;
    unsupported.rope_scaling = {{"rope_type", "yarn"}, {"factor", 4.0}};
    TempDir dir;
    write_tiny_llama(dir.path(), unsupported);
    EXPECT_THROW(load_model(dir, unsupported), Error);
  }
  TempDir dir;
  write_tiny_llama(dir.path(), spec);
  const LlamaModel model = load_model(dir, spec);
  RuntimeOptions options = f32_options();
  options.max_context = 16;
  auto runtime = make_cpu_runtime(model, options);
  expect_error([&] { runtime->prefill({1, 2, spec.vocab_size}, nullptr); }, {"token id", "vocabulary"});
  expect_error([&] { runtime->decode(-1, nullptr); }, {"token id"});
  expect_error([&] { runtime->prefill(test_tokens(17, spec.vocab_size), nullptr); }, {"exceeds the cache capacity"});
  runtime->prefill(test_tokens(16, spec.vocab_size), nullptr);
  expect_error([&] { runtime->decode(3, nullptr); }, {"exceeds the cache capacity"});
  options.dense_layers = -1;
  EXPECT_THROW(make_cpu_runtime(model, options), Error);
  EXPECT_THROW(make_runtime("cuda", model, f32_options()), Error);
  EXPECT_THROW(parse_weight_precision("int4"), Error);
}

TEST(LlamaModel, CalibrationFitsCodeBooksOncePerSequence) {
  TinyLlamaSpec spec;
  TempDir dir;
  write_tiny_llama(dir.path(), spec);
  const LlamaModel model = load_model(dir, spec);
  RuntimeOptions options = f32_options(Policy::kAdamas, 8);
  options.selector.thresholds = {-10.0f, 0.0f, 10.0f};
  options.calibrate_after_tokens = 20;
  auto runtime = make_cpu_runtime(model, options);
  runtime->prefill(test_tokens(19, spec.vocab_size), nullptr);
  EXPECT_EQ(runtime->code_book(1).thresholds[0], -10.0f);  // not yet: 19 < 20 tokens
  runtime->decode(3, nullptr);
  for (int layer = 0; layer < spec.num_layers; ++layer) {
    const CodeBook book = runtime->code_book(layer);
    // Equal-mass thresholds of O(1) keys: far inside the paper's (-10, 10).
    EXPECT_GT(book.thresholds[0], -10.0f);
    EXPECT_LT(book.thresholds[0], book.thresholds[1]);
    EXPECT_LT(book.thresholds[1], book.thresholds[2]);
    EXPECT_LT(book.thresholds[2], 10.0f);
  }
  runtime->reset();
  EXPECT_EQ(runtime->code_book(2).thresholds[2], 10.0f);
  options.calibration_quantiles = {0.5};  // 2-bit codes need three
  EXPECT_THROW(make_cpu_runtime(model, options), Error);
}

TEST(LlamaModel, LoadsThroughOpenCheckpoint) {
  TinyLlamaSpec spec;
  TempDir dir;
  write_tiny_llama(dir.path(), spec, /*with_tokenizer=*/true);
  const Checkpoint checkpoint = open_checkpoint(dir.path().string());
  const LlamaModel model = LlamaModel::load(checkpoint);
  EXPECT_EQ(model.config().num_layers, spec.num_layers);
  EXPECT_GT(model.parameter_count(), 0);
  EXPECT_EQ(model.weight_bytes(), static_cast<size_t>(model.parameter_count()) * 4);
}

}  // namespace
}  // namespace adamas::test
