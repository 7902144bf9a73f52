// The GPU forward pass (CudaDecoder) against the CPU runtime on a small random Llama: same tokens,
// logits step by step. fp32 weights and an fp32 cache on both sides, so the only differences are
// the order of fp32 sums (cuBLAS vs OpenBLAS, warp vs lane reductions).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "adamas/cuda_backend.h"
#include "adamas/cuda_decoder.h"
#include "adamas/model/llama_model.h"
#include "eval/tiny_llama.h"
#include "test_util.h"

namespace adamas {
namespace {

using testing::relative_error;

class CudaDecoderTest : public ::testing::TestWithParam<Policy> {};

TEST_P(CudaDecoderTest, MatchesCpuRuntimeStepByStep) {
  if (!cuda::gpu_available()) GTEST_SKIP() << "no GPU";
  const uint32_t seed = std::random_device{}() % 100000;
  SCOPED_TRACE("seed=" + std::to_string(seed) + " policy=" + policy_name(GetParam()));
  test::TinyLlamaSpec spec;
  spec.hidden_size = 128;
  spec.intermediate_size = 192;
  spec.num_heads = 4;
  spec.num_kv_heads = 2;
  spec.head_dim = 64;
  spec.vocab_size = 96;
  spec.seed = seed;
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("adamas_cuda_decoder_" + std::to_string(seed));
  std::filesystem::create_directories(dir);
  test::write_tiny_llama(dir, spec);
  Checkpoint checkpoint;
  checkpoint.config = parse_hf_config(spec.config_json().dump(), "config.json");
  checkpoint.weights = open_safetensors_dir(dir.string());
  const LlamaModel model = LlamaModel::load(checkpoint.config, *checkpoint.weights);

  RuntimeOptions options;
  options.selector.policy = GetParam();
  options.selector.token_budget = 12;
  options.selector.thresholds = {-0.5f, 0.0f, 0.5f};  // the random model's scale
  options.dense_layers = 1;
  options.kv_dtype = DType::kF32;
  options.max_context = 128;
  auto cpu = make_cpu_runtime(model, options);
  cuda::CudaDecoderOptions gpu_options;
  gpu_options.runtime = options;
  gpu_options.weight_dtype = DType::kF32;
  cuda::CudaDecoder gpu(checkpoint.config, gpu_options);
  gpu.load_weights(*checkpoint.weights);

  std::mt19937 rng(seed);
  std::vector<float> cpu_logits(spec.vocab_size), gpu_logits(spec.vocab_size);
  double worst = 0;
  for (int step = 0; step < 60; ++step) {
    const int32_t token = static_cast<int32_t>(rng() % spec.vocab_size);
    cpu->decode(token, cpu_logits.data());
    gpu.decode(&token, gpu_logits.data());
    worst = std::max(worst, relative_error(gpu_logits, cpu_logits));
  }
  EXPECT_EQ(gpu.position(0), 60);
  // fp32 on both sides: 1e-4 leaves room for a different summation order, not for a wrong step.
  EXPECT_LT(worst, 1e-4);
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Policies, CudaDecoderTest,
                         ::testing::Values(Policy::kFull, Policy::kAdamas, Policy::kStreaming, Policy::kQuest, Policy::kOracle));

TEST(CudaDecoderErrors, RejectsUnsupportedOptions) {
  if (!cuda::gpu_available()) GTEST_SKIP() << "no GPU";
  cuda::CudaDecoderOptions options;
  options.runtime.selector.estimator = Estimator::kL2;  // l1 and asymmetric only
  EXPECT_THROW(cuda::CudaDecoder(cuda::model_shape("longchat-7b"), options), Error);
  options.runtime.selector.estimator = Estimator::kAsymmetric;
  options.runtime.code_bits = 1;
  EXPECT_THROW(cuda::CudaDecoder(cuda::model_shape("longchat-7b"), options), Error);
  options.runtime.code_bits = 2;
  options.runtime.code_hadamard = false;
  EXPECT_THROW(cuda::CudaDecoder(cuda::model_shape("longchat-7b"), options), Error);
  EXPECT_THROW(cuda::model_shape("no-such-shape"), Error);
}

}  // namespace
}  // namespace adamas
