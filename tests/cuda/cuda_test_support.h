// Helpers of the GPU tests: device buffers, seeded random inputs, a host cache with ragged lengths.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "adamas/cuda_backend.h"
#include "adamas/kv_cache.h"

namespace adamas::cuda::test {

#define SKIP_WITHOUT_GPU() \
  if (!::adamas::cuda::gpu_available()) GTEST_SKIP() << "no CUDA device"

// Sets an environment variable for a scope (DecodePlan reads the kernel variants when built).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_) setenv(name_, old_.c_str(), 1);
    else unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

template <typename T>
struct DeviceArray {
  T* data = nullptr;
  size_t count = 0;
  DeviceArray() = default;
  explicit DeviceArray(const std::vector<T>& host) { assign(host); }
  ~DeviceArray() { if (data) cudaFree(data); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  void allocate(size_t n) {
    if (data) cudaFree(data);
    data = nullptr;
    count = n;
    if (n) EXPECT_EQ(cudaMalloc(&data, n * sizeof(T)), cudaSuccess);
  }
  void assign(const std::vector<T>& host) {
    allocate(host.size());
    if (count) EXPECT_EQ(cudaMemcpy(data, host.data(), count * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  }
  std::vector<T> download() const {
    std::vector<T> host(count);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    if (count) EXPECT_EQ(cudaMemcpy(host.data(), data, count * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return host;
  }
};

inline std::vector<float> random_normal(std::mt19937_64& rng, size_t count, float stddev) {
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> values(count);
  for (auto& v : values) v = normal(rng);
  return values;
}

// A DecodePlanConfig for `batch` sequences of up to `max_context` tokens with the given head
// layout, cache dtype and selector (page size: the plan's default, as the test caches use).
inline DecodePlanConfig plan_config_for(int batch, int q_heads, int kv_heads, int head_dim, adamas::DType dtype,
                                                int max_context, const adamas::SelectorOptions& selector) {
  DecodePlanConfig config;
  config.max_batch = batch;
  config.num_q_heads = q_heads;
  config.num_kv_heads = kv_heads;
  config.head_dim = head_dim;
  config.dtype = dtype;
  config.max_context = max_context;
  config.selector = selector;
  return config;
}

// Asserts that two selections of `batch` sequences hold the same dense flags and, per sparse row,
// the same index lists (order included). `what` names the selection in the failure message.
inline void expect_same_selection(const adamas::TokenSelection& expected, const adamas::TokenSelection& actual, int batch,
                                  const std::string& what) {
  ASSERT_EQ(actual.rows_per_seq, expected.rows_per_seq) << what;
  for (int s = 0; s < batch; ++s) {
    ASSERT_EQ(actual.dense[s], expected.dense[s]) << what << ", sequence " << s;
    if (expected.dense[s]) continue;
    for (int r = 0; r < expected.rows_per_seq; ++r) {
      std::vector<int32_t> want(expected.row(s, r), expected.row(s, r) + expected.count(s, r));
      std::vector<int32_t> got(actual.row(s, r), actual.row(s, r) + actual.count(s, r));
      ASSERT_EQ(got, want) << what << ", sequence " << s << " row " << r;
    }
  }
}

// Seed for a test: fresh each run unless ADAMAS_TEST_SEED is set; printed on failure by callers.
// The token budgets a selection test sweeps: ADAMAS_TEST_BUDGETS (a comma list) where set, else
// `defaults`. The racecheck runs set one budget (bench/run_gpu_checks.sh): under its instrumentation
// the asymmetric test's full sweep, 13 kernel variants at 10 budgets, ran past 550 s.
inline std::vector<int> test_budgets(std::vector<int> defaults) {
  const char* list = std::getenv("ADAMAS_TEST_BUDGETS");
  if (list == nullptr || *list == '\0') return defaults;
  std::vector<int> budgets;
  for (const char* at = list; *at != '\0';) {
    char* end = nullptr;
    const long value = std::strtol(at, &end, 10);
    if (end == at || value < 1 || (*end != ',' && *end != '\0')) {
      ADD_FAILURE() << "ADAMAS_TEST_BUDGETS='" << list << "': expected a comma list of positive budgets";
      return defaults;
    }
    budgets.push_back(static_cast<int>(value));
    at = *end == ',' ? end + 1 : end;
  }
  return budgets;
}

inline uint64_t test_seed() {
  if (const char* fixed = std::getenv("ADAMAS_TEST_SEED")) return std::stoull(fixed);
  return std::random_device{}() ^ (static_cast<uint64_t>(std::random_device{}()) << 32);
}

}  // namespace adamas::cuda::test
