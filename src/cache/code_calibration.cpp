#include "adamas/code_calibration.h"

#include <algorithm>

#include "adamas/error.h"
#include "adamas/hadamard.h"

namespace adamas {

std::vector<float> pooled_key_coordinates(const KvCache& cache, int layer, bool hadamard, int max_tokens) {
  const PagedKvView view = cache.view(layer);
  const int d = view.head_dim;
  std::vector<float> values, key(d);
  for (int seq = 0; seq < view.batch; ++seq)
    for (int h = 0; h < view.num_kv_heads; ++h)
      for (int t = 0; t < std::min(max_tokens, view.seq_lens[seq]); ++t) {
        const size_t offset = view.kv_offset(seq, h, t);
        for (int i = 0; i < d; ++i) key[i] = load_as_f32(view.keys, view.dtype, offset + i);
        if (hadamard) hadamard_transform(key.data(), d);
        values.insert(values.end(), key.begin(), key.end());
      }
  return values;
}

std::vector<CodeBook> calibrate_cache_code_books(KvCache& cache, const CalibrationOptions& options) {
  ADAMAS_CHECK(options.max_tokens >= 1, "calibration: max_tokens must be positive");
  const KvCacheConfig& config = cache.config();
  const std::vector<double> quantiles =
      options.quantiles.empty() ? equal_mass_quantiles(config.code_bits) : options.quantiles;
  std::vector<CodeBook> books;
  for (int layer = 0; layer < config.num_layers; ++layer) {
    const bool hadamard = cache.code_book(layer).hadamard;
    CodeBook book = calibrate_code_book(pooled_key_coordinates(cache, layer, hadamard, options.max_tokens),
                                        config.code_bits, hadamard, quantiles);
    cache.set_code_book(layer, book);
    books.push_back(book);
  }
  return books;
}

}  // namespace adamas
