#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "adamas/error.h"
#include "adamas/hadamard.h"
#include "adamas/kv_cache.h"
#include "test_util.h"

namespace adamas {
namespace {

TEST(KvCache, StoresKeysValuesCodesAndPageBoundsAcrossPagesAndLayers) {
  const uint64_t seed = testing::test_seed() + 21;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  KvCacheConfig config;
  config.num_layers = 3;
  config.num_kv_heads = 2;
  config.head_dim = 64;
  config.page_size = 16;
  config.dtype = DType::kBF16;
  config.max_batch = 3;
  config.max_tokens_per_seq = 100;
  config.code_thresholds = {-4, 0, 4};
  KvCache cache(config);
  const std::vector<int> lens = {37, 1, 100};
  std::vector<std::vector<std::vector<float>>> keys(3), values(3);  // [layer][seq]
  // Interleave the sequences' growth so their pages are not contiguous.
  for (int s = 0; s < 3; ++s) cache.add_sequence();
  for (int step = 0; step < 100; ++step)
    for (int s = 0; s < 3; ++s) {
      if (step >= lens[s]) continue;
      const int position = cache.reserve_tokens(s, 1);
      ASSERT_EQ(position, step);
      for (int layer = 0; layer < 3; ++layer) {
        const auto k = testing::random_floats(rng, 2 * 64, 5.0f), v = testing::random_floats(rng, 2 * 64, 1.0f);
        keys[layer].resize(3);
        values[layer].resize(3);
        keys[layer][s].insert(keys[layer][s].end(), k.begin(), k.end());
        values[layer][s].insert(values[layer][s].end(), v.begin(), v.end());
        cache.write_tokens(layer, s, position, 1, k.data(), v.data());
      }
    }
  for (int layer = 0; layer < 3; ++layer) {
    const PagedKvView view = cache.view(layer);
    ASSERT_EQ(view.batch, 3);
    for (int s = 0; s < 3; ++s) {
      ASSERT_EQ(view.seq_lens[s], lens[s]);
      for (int h = 0; h < 2; ++h)
        for (int t = 0; t < lens[s]; ++t) {
          const size_t offset = view.kv_offset(s, h, t);
          std::vector<float> stored(64);
          for (int c = 0; c < 64; ++c) {
            const float k = keys[layer][s][(t * 2 + h) * 64 + c];
            stored[c] = load_as_f32(view.keys, view.dtype, offset + c);
            ASSERT_EQ(stored[c], bf16_to_f32(f32_to_bf16(k)));
            ASSERT_EQ(load_as_f32(view.values, view.dtype, offset + c), bf16_to_f32(f32_to_bf16(values[layer][s][(t * 2 + h) * 64 + c])));
            const size_t meta = view.page_meta_offset(s, h, t / 16);
            ASSERT_LE(view.page_min[meta + c], stored[c]);
            ASSERT_GE(view.page_max[meta + c], stored[c]);
          }
          hadamard_transform_ref(stored.data(), 64);
          std::vector<uint8_t> code(16);
          encode_code_ref(stored.data(), 64, config.code_thresholds, code.data());
          ASSERT_EQ(0, std::memcmp(code.data(), view.key_codes + view.code_offset(s, h, t), 16)) << "s" << s << " t" << t;
        }
    }
  }
}

TEST(KvCache, RejectsBadConfigsAndWrites) {
  KvCacheConfig config;
  config.head_dim = 96;
  EXPECT_THROW(KvCache{config}, Error);
  config.head_dim = 64;
  config.num_kv_heads = 0;
  EXPECT_THROW(KvCache{config}, Error);
  config.num_kv_heads = 1;
  config.code_thresholds = {0, 0, 0};
  EXPECT_THROW(KvCache{config}, Error);
  config.code_thresholds = {};
  config.max_tokens_per_seq = 20;
  KvCache cache(config);
  EXPECT_THROW(cache.reserve_tokens(0, 1), Error) << "no sequence yet";
  cache.add_sequence();
  EXPECT_THROW(cache.add_sequence(), Error) << "max_batch is 1";
  std::vector<float> k(64 * 21, 1.0f), v(64 * 21, 1.0f);
  EXPECT_THROW(cache.append(0, k.data(), v.data(), 21), Error) << "over capacity";
  k[3] = NAN;
  EXPECT_THROW(cache.append(0, k.data(), v.data(), 1), Error);
  k[3] = 1.0f;
  EXPECT_NO_THROW(cache.append(0, k.data(), v.data(), 20));
}

}  // namespace
}  // namespace adamas
