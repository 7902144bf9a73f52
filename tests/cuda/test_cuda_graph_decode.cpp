// Decode steps replayed as CUDA graphs against eager steps (ADAMAS_NO_GRAPH=1): bit-identical
// logits over many steps, every policy, every step variant (dense prompt steps, steps without
// logits), two sequences per step.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>

#include "adamas/cuda_backend.h"
#include "adamas/cuda_decoder.h"
#include "adamas/error.h"
#include "adamas/model/llama_model.h"
#include "cuda_test_support.h"
#include "tiny_model_dir.h"

namespace adamas {
namespace {

class CudaGraphDecodeTest : public ::testing::TestWithParam<Policy> {};

TEST_P(CudaGraphDecodeTest, ReplayEqualsEagerBitForBit) {
  if (!cuda::gpu_available()) GTEST_SKIP() << "no GPU";
  const uint32_t seed = static_cast<uint32_t>(cuda::test::test_seed() % 100000);  // ADAMAS_TEST_SEED repeats a run
  SCOPED_TRACE("seed=" + std::to_string(seed) + " policy=" + policy_name(GetParam()));
  const test::TinyModelDir m(seed, 4, 2, "graph");
  const test::TinyLlamaSpec& spec = m.spec;
  const ModelConfig& config = m.checkpoint.config;
  const WeightSource* weights = m.checkpoint.weights.get();

  cuda::CudaDecoderOptions options;
  options.runtime.selector.policy = GetParam();
  options.runtime.selector.token_budget = 12;
  options.runtime.selector.thresholds = {-0.5f, 0.0f, 0.5f};
  options.runtime.dense_layers = 1;
  options.runtime.kv_dtype = DType::kF32;
  options.runtime.max_context = 160;
  options.max_batch = 2;
  options.weight_dtype = DType::kF32;
  ASSERT_EQ(setenv("ADAMAS_NO_GRAPH", "1", 1), 0);
  cuda::CudaDecoder eager(config, options);
  ASSERT_EQ(unsetenv("ADAMAS_NO_GRAPH"), 0);
  cuda::CudaDecoder graph(config, options);
  eager.load_weights(*weights);
  graph.load_weights(*weights);

  std::mt19937 rng(seed);
  const size_t logits_size = 2 * static_cast<size_t>(spec.vocab_size);
  std::vector<float> eager_logits(logits_size), graph_logits(logits_size);
  for (int step = 0; step < 150; ++step) {
    const int32_t tokens[2] = {static_cast<int32_t>(rng() % spec.vocab_size), static_cast<int32_t>(rng() % spec.vocab_size)};
    const bool prompt = step < 40;             // dense steps first, as a token-by-token prefill
    const bool want = step % 7 != 3;           // some steps without logits: a third variant
    std::fill(eager_logits.begin(), eager_logits.end(), 0.0f);
    std::fill(graph_logits.begin(), graph_logits.end(), 1.0f);
    eager.decode(tokens, want ? eager_logits.data() : nullptr, prompt);
    graph.decode(tokens, want ? graph_logits.data() : nullptr, prompt);
    if (want) {
      ASSERT_EQ(std::memcmp(eager_logits.data(), graph_logits.data(), logits_size * sizeof(float)), 0) << "step " << step;
    }
  }
  EXPECT_EQ(graph.position(1), 150);
  // After a reset the captured graphs replay the new sequence's steps.
  eager.reset();
  graph.reset();
  for (int step = 0; step < 20; ++step) {
    const int32_t tokens[2] = {static_cast<int32_t>(rng() % spec.vocab_size), static_cast<int32_t>(rng() % spec.vocab_size)};
    eager.decode(tokens, eager_logits.data(), step < 5);
    graph.decode(tokens, graph_logits.data(), step < 5);
    ASSERT_EQ(std::memcmp(eager_logits.data(), graph_logits.data(), logits_size * sizeof(float)), 0) << "after reset, step " << step;
  }
}

// The graph-split timing probe (set_graph_skip, bench-e2e --graph-split): graphs captured with
// parts left out replay, an unknown part is an error, and once the probe is off the decoder's
// steps are bit for bit those of a decoder that never ran it.
TEST(CudaGraphSkipTest, ProbeLeavesNoTrace) {
  if (!cuda::gpu_available()) GTEST_SKIP() << "no GPU";
  const uint32_t seed = static_cast<uint32_t>(cuda::test::test_seed() % 100000);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  const test::TinyModelDir m(seed, 4, 2, "graph_skip");
  cuda::CudaDecoderOptions options;
  options.runtime.selector.policy = Policy::kAdamas;
  options.runtime.selector.token_budget = 8;
  options.runtime.dense_layers = 1;
  options.runtime.max_context = 96;
  options.weight_dtype = DType::kBF16;
  cuda::CudaDecoder probed(m.checkpoint.config, options), plain(m.checkpoint.config, options);
  probed.load_weights(*m.checkpoint.weights);
  plain.load_weights(*m.checkpoint.weights);
  const int vocab = m.spec.vocab_size;
  std::mt19937 rng(seed);
  std::vector<float> probed_logits(vocab), plain_logits(vocab);
  for (int step = 0; step < 40; ++step) {
    const int32_t token = static_cast<int32_t>(rng() % vocab);
    probed.decode(&token, probed_logits.data(), step < 10);
    plain.decode(&token, plain_logits.data(), step < 10);
    if (step == 20) {  // mid-sequence: every part left out once, then together
      EXPECT_THROW(probed.set_graph_skip({"norms", "bogus"}), Error);
      for (const std::vector<std::string>& parts : std::vector<std::vector<std::string>>{
               {"norms"}, {"append"}, {"attention"}, {"products"}, {"norms", "append", "attention", "products"}}) {
        probed.set_graph_skip(parts);
        EXPECT_GT(probed.graph_step_ms(2), 0.0) << parts.size() << " parts, the first " << parts.front();
      }
      probed.set_graph_skip({});
    }
    ASSERT_EQ(std::memcmp(probed_logits.data(), plain_logits.data(), vocab * sizeof(float)), 0) << "step " << step;
  }
}

INSTANTIATE_TEST_SUITE_P(Policies, CudaGraphDecodeTest,
                         ::testing::Values(Policy::kFull, Policy::kAdamas, Policy::kStreaming, Policy::kQuest, Policy::kOracle));

}  // namespace
}  // namespace adamas
