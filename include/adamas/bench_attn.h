// One decode step of attention, timed per stage for every policy on the same cache: what
// `adamas bench-attn` runs. Random post-RoPE keys/values/queries from a seeded generator.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "adamas/dtype.h"
#include "adamas/key_codes.h"
#include "adamas/selector.h"

namespace adamas {

struct BenchAttnOptions {
  std::string device = "cpu";       // "cpu" or "cuda"
  int batch = 1;
  int num_q_heads = 32;
  int num_kv_heads = 32;
  int head_dim = 128;
  int context = 32768;              // cached tokens per sequence (the current one included)
  bool ragged = false;              // sequence s holds context * (batch - s) / batch tokens
  int token_budget = 256;
  std::vector<Policy> policies = {Policy::kFull, Policy::kStreaming, Policy::kQuest, Policy::kAdamas, Policy::kOracle};
  std::vector<Estimator> estimators = {Estimator::kL1};  // one adamas row per estimator
  DType dtype = DType::kF16;
  int page_size = 16;
  int warmup = 2;
  int iterations = 10;              // timed repetitions; medians are reported
  uint64_t seed = 1;
  Thresholds thresholds;
  float key_scale = 8.0f;           // std of the random keys/queries (post-RoPE magnitudes of 7B models)
};

struct BenchAttnRow {
  Policy policy = Policy::kFull;
  Estimator estimator = Estimator::kL1;  // adamas rows
  double estimate_us = 0, select_us = 0, attend_us = 0, total_us = 0;  // medians
  double bytes_read = 0;             // bytes the step must read from the cache (codes, metadata, K/V)
  double speedup_vs_full = 0;        // full's total_us / this total_us, same run
  double achieved_gb_per_s = 0;      // bytes_read / total time
  double estimate_gb_per_s = 0;      // adamas: estimate_pass_bytes / estimate time (0 for other policies)
};

struct BenchAttnReport {
  std::string device_name;
  int threads = 0;
  std::vector<BenchAttnRow> rows;
};

// Throws adamas::Error naming the first bad option.
void check_bench_attn_options(const BenchAttnOptions& options);

// Bytes one decode step of `policy` must read (the model behind the bench's bandwidth numbers).
double decode_step_bytes(const BenchAttnOptions& options, Policy policy);
// Bytes the adamas estimate pass moves: every candidate's code read plus its score written (2 B
// for l1's uint16 distance, 4 B for the asymmetric float key, as the GPU stores them); 0 for the
// other policies.
double estimate_pass_bytes(const BenchAttnOptions& options, Policy policy, Estimator estimator);
// The rows a bench runs, in order: each policy once, adamas once per estimator.
std::vector<std::pair<Policy, Estimator>> bench_attn_cases(const BenchAttnOptions& options);

BenchAttnReport run_bench_attn_cpu(const BenchAttnOptions& options);
// Implemented by the CUDA backend; throws adamas::Error when built without CUDA or no GPU is present.
BenchAttnReport run_bench_attn_cuda(const BenchAttnOptions& options);

}  // namespace adamas
