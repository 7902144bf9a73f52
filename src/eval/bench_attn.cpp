// CPU side of `adamas bench-attn`: one decode step per policy on one shared random cache.
#include "adamas/bench_attn.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <string>

#include "adamas/attention.h"
#include "adamas/error.h"
#include "adamas/hadamard.h"
#include "adamas/kv_cache.h"
#include "select/selector_common.h"

namespace adamas {

namespace {

// Fast seeded normal-ish samples (sum of four uniforms, variance matched): the bench needs
// hundreds of millions of them and their exact distribution does not change the timing.
class FastNormal {
 public:
  explicit FastNormal(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  float operator()(float stddev) {
    float sum = 0;
    for (int i = 0; i < 4; ++i) sum += static_cast<float>(next() >> 40) * (1.0f / 16777216.0f);
    return (sum - 2.0f) * 1.7320508f * stddev;
  }

 private:
  uint64_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }
  uint64_t state_;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

std::vector<int> sequence_lengths(const BenchAttnOptions& o) {
  std::vector<int> lens;
  for (int s = 0; s < o.batch; ++s)
    lens.push_back(o.ragged ? std::max(1, static_cast<int>(static_cast<int64_t>(o.context) * (o.batch - s) / o.batch))
                            : o.context);
  return lens;
}

std::string cpu_model_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

}  // namespace

void check_bench_attn_options(const BenchAttnOptions& o) {
  check_head_dim(o.head_dim);
  ADAMAS_CHECK(o.batch >= 1, "--batch must be at least 1, got ", o.batch);
  ADAMAS_CHECK(o.num_kv_heads >= 1 && o.num_q_heads >= 1 && o.num_q_heads % o.num_kv_heads == 0, "--heads (",
               o.num_q_heads, ") must be a positive multiple of --kv-heads (", o.num_kv_heads, ")");
  ADAMAS_CHECK(o.context >= 1, "--context must be at least 1, got ", o.context);
  ADAMAS_CHECK(o.token_budget >= 1, "--budget must be at least 1, got ", o.token_budget);
  ADAMAS_CHECK(o.iterations >= 1 && o.warmup >= 0, "--iterations must be >= 1 and --warmup >= 0");
  ADAMAS_CHECK(!o.policies.empty(), "no policy to benchmark");
  check_thresholds(o.thresholds);
}

double estimate_pass_bytes(const BenchAttnOptions& o, Policy policy, Estimator estimator) {
  if (policy != Policy::kAdamas) return 0;
  const double per_candidate = o.head_dim / 4.0 + (estimator == Estimator::kAsymmetric ? 4 : 2);
  double total = 0;
  for (int n : sequence_lengths(o))
    if (n > o.token_budget) total += static_cast<double>(o.num_kv_heads) * (n - 1) * per_candidate;
  return total;
}

std::vector<std::pair<Policy, Estimator>> bench_attn_cases(const BenchAttnOptions& o) {
  std::vector<std::pair<Policy, Estimator>> cases;
  for (Policy policy : o.policies) {
    if (policy != Policy::kAdamas) cases.push_back({policy, Estimator::kL1});
    else
      for (Estimator estimator : o.estimators) cases.push_back({policy, estimator});
  }
  return cases;
}

double decode_step_bytes(const BenchAttnOptions& o, Policy policy) {
  const double element = static_cast<double>(dtype_size_bytes(o.dtype));
  const double row = o.head_dim * element;  // one K or one V row
  double total = 0;
  for (int n : sequence_lengths(o)) {
    const int budget = o.token_budget;
    const bool dense = policy == Policy::kFull || n <= budget;
    const double heads = o.num_kv_heads;
    if (dense) {
      total += heads * n * 2 * row;
      continue;
    }
    switch (policy) {
      case Policy::kStreaming: total += heads * budget * 2 * row; break;
      case Policy::kAdamas: total += heads * (n * o.head_dim / 4.0 + budget * 2 * row); break;
      case Policy::kOracle: total += heads * (n * row + budget * row); break;  // every K, selected V
      case Policy::kQuest: {
        const double pages = std::ceil(static_cast<double>(n) / o.page_size);
        const double kept = std::min(pages, static_cast<double>(quest_pages_kept(budget, o.page_size)));
        total += heads * (pages * 2 * o.head_dim * 4.0 + kept * o.page_size * 2 * row);  // fp32 min/max
        break;
      }
      default: break;
    }
  }
  return total;
}

BenchAttnReport run_bench_attn_cpu(const BenchAttnOptions& o) {
  check_bench_attn_options(o);
  const std::vector<int> lens = sequence_lengths(o);
  KvCacheConfig config;
  config.num_kv_heads = o.num_kv_heads;
  config.head_dim = o.head_dim;
  config.page_size = o.page_size;
  config.dtype = o.dtype;
  config.max_batch = o.batch;
  config.max_tokens_per_seq = *std::max_element(lens.begin(), lens.end());
  config.code_thresholds = o.thresholds;
  KvCache cache(config);
  FastNormal normal(o.seed);
  const size_t row = static_cast<size_t>(o.num_kv_heads) * o.head_dim;
  constexpr int kChunk = 1024;
  std::vector<float> keys(row * kChunk), values(row * kChunk);
  for (int n : lens) {
    const int seq = cache.add_sequence();
    for (int first = 0; first < n; first += kChunk) {
      const int count = std::min(kChunk, n - first);
      for (size_t i = 0; i < row * count; ++i) {
        keys[i] = normal(o.key_scale);
        values[i] = normal(1.0f);
      }
      cache.append(seq, keys.data(), values.data(), count);
    }
  }
  const PagedKvView view = cache.view(0);
  std::vector<float> q(static_cast<size_t>(o.batch) * o.num_q_heads * o.head_dim), out(q.size());
  for (float& x : q) x = normal(o.key_scale);
  // Evicts the last-level cache between timed steps: a decode step in a real model finds its
  // layer's cache cold.
  std::vector<uint8_t> flush(256u << 20, 1);
  auto flush_caches = [&] {
#pragma omp parallel for
    for (size_t i = 0; i < flush.size(); i += 64) flush[i] = static_cast<uint8_t>(flush[i] + 1);
  };

  BenchAttnReport report;
  report.device_name = cpu_model_name();
  report.threads = omp_get_max_threads();
  TokenSelection selection;
  for (const auto& [policy, estimator] : bench_attn_cases(o)) {
    SelectorOptions options;
    options.policy = policy;
    options.estimator = estimator;
    options.token_budget = o.token_budget;
    options.thresholds = o.thresholds;
    std::vector<double> estimate, select, attend, total;
    for (int it = 0; it < o.warmup + o.iterations; ++it) {
      flush_caches();
      const auto start = std::chrono::steady_clock::now();
      SelectorTimes times;
      const TokenSelection* chosen = nullptr;
      if (policy != Policy::kFull) {
        select_tokens_cpu(options, view, q.data(), o.num_q_heads, selection, &times);
        chosen = &selection;
      }
      const auto attend_start = std::chrono::steady_clock::now();
      decode_attention_cpu(view, q.data(), o.num_q_heads, chosen, out.data());
      const auto end = std::chrono::steady_clock::now();
      if (it < o.warmup) continue;
      estimate.push_back(times.estimate_ms * 1e3);
      select.push_back(times.select_ms * 1e3);
      attend.push_back(std::chrono::duration<double, std::micro>(end - attend_start).count());
      total.push_back(std::chrono::duration<double, std::micro>(end - start).count());
    }
    for (float x : out) ADAMAS_CHECK(std::isfinite(x), "bench-attn: non-finite attention output for ", policy_name(policy));
    BenchAttnRow result;
    result.policy = policy;
    result.estimator = estimator;
    result.estimate_us = median(estimate);
    result.select_us = median(select);
    result.attend_us = median(attend);
    result.total_us = median(total);
    result.bytes_read = decode_step_bytes(o, policy);
    result.achieved_gb_per_s = result.bytes_read / (result.total_us * 1e3);
    result.estimate_gb_per_s = result.estimate_us > 0 ? estimate_pass_bytes(o, policy, estimator) / (result.estimate_us * 1e3) : 0;
    report.rows.push_back(result);
  }
  double full_us = 0;
  for (const auto& r : report.rows)
    if (r.policy == Policy::kFull) full_us = r.total_us;
  for (auto& r : report.rows) r.speedup_vs_full = full_us > 0 ? full_us / r.total_us : 0;
  return report;
}

}  // namespace adamas
