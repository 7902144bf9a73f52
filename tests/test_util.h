// Shared helpers for the tests: seeded random data and a filled random cache.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "adamas/kv_cache.h"

namespace adamas::testing {

// Seed from the environment (ADAMAS_TEST_SEED) or a fresh one; printed with every failure via
// the SCOPED_TRACE the tests add, so a failure can be replayed.
inline uint64_t test_seed() {
  static const uint64_t seed = []() -> uint64_t {
    if (const char* s = std::getenv("ADAMAS_TEST_SEED")) return static_cast<uint64_t>(std::stoull(s));
    return static_cast<uint64_t>(std::random_device{}()) * 2654435761ull + 12345;
  }();
  return seed;
}

// ||got - want|| / ||want||, in double.
inline double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    diff += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
    norm += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(diff / std::max(norm, 1e-300));
}

inline std::vector<float> random_floats(std::mt19937_64& rng, size_t count, float stddev) {
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> values(count);
  for (float& v : values) v = normal(rng);
  return values;
}

struct RandomCacheSpec {
  std::vector<int> seq_lens;
  int num_kv_heads = 1;
  int head_dim = 128;
  int page_size = 16;
  DType dtype = DType::kF32;
  float scale = 8.0f;
  Thresholds thresholds;
  // Outlier channels make the Hadamard rotation matter (as in real models).
  bool outlier_channels = true;
  int code_bits = 2;
  bool code_hadamard = true;
};

inline std::string describe(const RandomCacheSpec& spec, uint64_t seed) {
  std::ostringstream out;
  out << "seed=" << seed << " kv_heads=" << spec.num_kv_heads << " d=" << spec.head_dim
      << " page=" << spec.page_size << " dtype=" << static_cast<int>(spec.dtype) << " lens=[";
  for (int n : spec.seq_lens) out << n << ",";
  out << "]";
  return out.str();
}

// Builds a single-layer cache holding random keys and values for every sequence.
inline KvCache make_random_cache(const RandomCacheSpec& spec, std::mt19937_64& rng) {
  KvCacheConfig config;
  config.num_layers = 1;
  config.num_kv_heads = spec.num_kv_heads;
  config.head_dim = spec.head_dim;
  config.page_size = spec.page_size;
  config.dtype = spec.dtype;
  config.max_batch = static_cast<int>(spec.seq_lens.size());
  int longest = 1;
  for (int n : spec.seq_lens) longest = std::max(longest, n);
  config.max_tokens_per_seq = longest;
  config.code_thresholds = spec.thresholds;
  config.code_bits = spec.code_bits;
  config.code_hadamard = spec.code_hadamard;
  KvCache cache(config);
  const size_t row = static_cast<size_t>(spec.num_kv_heads) * spec.head_dim;
  for (int n : spec.seq_lens) {
    const int seq = cache.add_sequence();
    std::vector<float> keys = random_floats(rng, row * n, spec.scale);
    std::vector<float> values = random_floats(rng, row * n, 1.0f);
    if (spec.outlier_channels)
      for (size_t i = 0; i < keys.size(); i += spec.head_dim) keys[i + 3] *= 6.0f;
    // Every seventh sequence position gets a near-copy of an earlier key, so ties and near-ties
    // in the scores actually occur.
    for (int t = 7; t < n; t += 7)
      for (size_t c = 0; c < row; ++c) keys[t * row + c] = keys[(t / 2) * row + c];
    if (n > 0) cache.append(seq, keys.data(), values.data(), n);
  }
  return cache;
}

}  // namespace adamas::testing
