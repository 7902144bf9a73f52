// A tiny random Llama (hidden 128, MLP 192, head_dim 64, vocab 96) written to a temporary directory
// that the destructor removes, also when a test returns early: the model the GPU runtime tests run
// next to the CPU runtime; and the side-by-side decode of two runtimes those tests share.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "adamas/model/checkpoint.h"
#include "adamas/model/llama_model.h"
#include "eval/tiny_llama.h"
#include "test_util.h"

namespace adamas::test {

struct TinyModelDir {
  TinyLlamaSpec spec;
  std::filesystem::path dir;
  Checkpoint checkpoint;

  // tag names the test, so that tests running in parallel processes do not share a directory.
  TinyModelDir(uint32_t seed, int q_heads, int kv_heads, const std::string& tag, int hidden = 128) {
    spec.hidden_size = hidden;
    spec.intermediate_size = 192;
    spec.num_heads = q_heads;
    spec.num_kv_heads = kv_heads;
    spec.head_dim = 64;
    spec.vocab_size = 96;
    spec.seed = seed;
    dir = std::filesystem::temp_directory_path() / ("adamas_cuda_" + tag + "_" + std::to_string(seed) + "_" +
                                                    std::to_string(q_heads) + "_" + std::to_string(kv_heads) + "_" + std::to_string(hidden));
    std::filesystem::create_directories(dir);
    write_tiny_llama(dir, spec);
    checkpoint.config = parse_hf_config(spec.config_json().dump(), "config.json");
    checkpoint.weights = open_safetensors_dir(dir.string());
  }
  ~TinyModelDir() { std::filesystem::remove_all(dir); }
  TinyModelDir(const TinyModelDir&) = delete;
  TinyModelDir& operator=(const TinyModelDir&) = delete;

  LlamaModel load_model() const { return LlamaModel::load(checkpoint.config, *checkpoint.weights); }
};

// Prefills the same 20 random tokens into both runtimes, then decodes 50 random tokens on both,
// calling after_step(step) after each; returns the largest relative error of gpu's logits
// against cpu's. An after_step that returns bool ends the comparison (that step's logits
// excluded) by returning false.
template <typename AfterStep>
double decode_side_by_side(DecoderRuntime& cpu, DecoderRuntime& gpu, int vocab_size, std::mt19937& rng,
                           AfterStep after_step) {
  std::vector<int32_t> prompt(20);
  for (auto& token : prompt) token = static_cast<int32_t>(rng() % vocab_size);
  std::vector<float> cpu_logits(vocab_size), gpu_logits(vocab_size);
  cpu.prefill(prompt, nullptr, false);
  gpu.prefill(prompt, nullptr, false);
  double worst = 0;
  for (int step = 0; step < 50; ++step) {
    const int32_t token = static_cast<int32_t>(rng() % vocab_size);
    cpu.decode(token, cpu_logits.data());
    gpu.decode(token, gpu_logits.data());
    const double error = adamas::testing::relative_error(gpu_logits, cpu_logits);
    if (std::getenv("ADAMAS_TEST_VERBOSE")) std::printf("step %d: relative error %.3g\n", step, error);
    if constexpr (std::is_same_v<decltype(after_step(step)), bool>) {
      if (!after_step(step)) break;  // the runtimes diverged for a reason the caller accepts: stop comparing
    } else {
      after_step(step);
    }
    worst = std::max(worst, error);
  }
  return worst;
}

}  // namespace adamas::test
