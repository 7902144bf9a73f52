// Calibrating a model's key codes from its own keys (the thresholds question of issues 5, 7, 8).
// Rule: after prefill, for each layer pool every coordinate of the (rotated, if the book rotates)
// keys cached so far, over all sequences and KV heads (up to `max_tokens` per sequence, the
// earliest); thresholds are those values' quantiles (equal mass by default), centroids the mean
// value in each bucket. The cache then re-encodes the layer's keys with the new book.
#pragma once

#include <vector>

#include "adamas/code_book.h"
#include "adamas/kv_cache.h"

namespace adamas {

struct CalibrationOptions {
  std::vector<double> quantiles;  // empty: equal_mass_quantiles(bits)
  int max_tokens = 4096;          // per sequence
};

// Pools the transformed key coordinates of one layer (see the rule above).
std::vector<float> pooled_key_coordinates(const KvCache& cache, int layer, bool hadamard, int max_tokens);

// Calibrates every layer of `cache` in place and returns the books chosen, one per layer.
// Throws adamas::Error when the cache holds too few tokens to calibrate.
std::vector<CodeBook> calibrate_cache_code_books(KvCache& cache, const CalibrationOptions& options);

}  // namespace adamas
