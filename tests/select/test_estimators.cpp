// The estimator study's options (issue 8): code bits, Hadamard on/off, estimators, calibrated
// code books. Fast CPU against the reference on random inputs, and the calibration rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "adamas/code_book.h"
#include "adamas/code_calibration.h"
#include "adamas/error.h"
#include "adamas/hadamard.h"
#include "adamas/selector.h"
#include "test_util.h"

namespace adamas {
namespace {

struct EstimatorCase {
  int bits;
  bool hadamard;
  Estimator estimator;
  int head_dim;
  int num_q_heads, num_kv_heads;
  bool calibrated;
};

std::vector<EstimatorCase> estimator_cases() {
  std::vector<EstimatorCase> cases;
  int i = 0;
  for (int bits : {1, 2, 3})
    for (bool hadamard : {true, false})
      for (Estimator e : {Estimator::kL1, Estimator::kL2, Estimator::kHamming, Estimator::kAsymmetric}) {
        if (e == Estimator::kAsymmetric && bits != 2) continue;
        const int d = (i % 3 == 0) ? 64 : (i % 3 == 1 ? 128 : 256);
        const bool gqa = i % 2 == 0;
        cases.push_back({bits, hadamard, e, d, gqa ? 8 : 4, gqa ? 2 : 4, (i % 4) < 2});
        ++i;
      }
  return cases;
}

class EstimatorDifferential : public ::testing::TestWithParam<EstimatorCase> {};

TEST_P(EstimatorDifferential, FastEqualsReference) {
  const EstimatorCase& c = GetParam();
  testing::RandomCacheSpec spec;
  spec.seq_lens = {600, 77, 1200};
  spec.num_kv_heads = c.num_kv_heads;
  spec.head_dim = c.head_dim;
  spec.dtype = DType::kF16;
  spec.code_bits = c.bits;
  spec.code_hadamard = c.hadamard;
  const uint64_t seed = testing::test_seed() + 17 * c.bits + c.head_dim + static_cast<int>(c.estimator);
  SCOPED_TRACE(testing::describe(spec, seed) + " bits=" + std::to_string(c.bits) + " hadamard=" +
               std::to_string(c.hadamard) + " estimator=" + estimator_name(c.estimator));
  std::mt19937_64 rng(seed);
  KvCache cache = testing::make_random_cache(spec, rng);
  if (c.calibrated) {
    // Fit to the cached keys themselves, as the runtime does after prefill.
    std::vector<float> coordinates;
    const PagedKvView view = cache.view(0);
    std::vector<float> key(c.head_dim);
    for (int t = 0; t < 77; ++t) {
      for (int i = 0; i < c.head_dim; ++i) key[i] = load_as_f32(view.keys, view.dtype, view.kv_offset(1, 0, t) + i);
      if (c.hadamard) hadamard_transform(key.data(), c.head_dim);
      coordinates.insert(coordinates.end(), key.begin(), key.end());
    }
    cache.set_code_book(0, calibrate_code_book(coordinates, c.bits, c.hadamard, equal_mass_quantiles(c.bits)));
  }
  const PagedKvView view = cache.view(0);
  const std::vector<float> q = testing::random_floats(rng, 3 * c.num_q_heads * c.head_dim, 8.0f);
  for (int budget : {1, 9, 100, 700})
    for (bool per_query_head : {false, true}) {
      SCOPED_TRACE("budget " + std::to_string(budget) + (per_query_head ? " per-q" : ""));
      SelectorOptions options;
      options.policy = Policy::kAdamas;
      options.estimator = c.estimator;
      options.token_budget = budget;
      options.per_query_head = per_query_head;
      TokenSelection ref, fast;
      select_tokens_ref(options, view, q.data(), c.num_q_heads, ref);
      select_tokens_cpu(options, view, q.data(), c.num_q_heads, fast);
      ASSERT_EQ(ref.dense, fast.dense);
      ASSERT_EQ(ref.counts, fast.counts);
      ASSERT_EQ(ref.indices, fast.indices);
    }
}

INSTANTIATE_TEST_SUITE_P(Options, EstimatorDifferential, ::testing::ValuesIn(estimator_cases()));

TEST(CodeBook, CalibrationGivesEqualMassBucketsAndBucketMeans) {
  std::mt19937_64 rng(testing::test_seed() + 40);
  const std::vector<float> values = testing::random_floats(rng, 40000, 3.0f);
  for (int bits : {1, 2, 3}) {
    const CodeBook book = calibrate_code_book(values, bits, true, equal_mass_quantiles(bits));
    std::vector<int> count(book.levels(), 0);
    std::vector<double> sum(book.levels(), 0);
    for (float v : values) {
      ++count[bucket_of(v, book)];
      sum[bucket_of(v, book)] += v;
    }
    for (int k = 0; k < book.levels(); ++k) {
      EXPECT_NEAR(count[k], 40000.0 / book.levels(), 2) << "bits " << bits << " bucket " << k;
      EXPECT_NEAR(book.centroids[k], sum[k] / count[k], 1e-4);
    }
  }
}

// Thresholds lie midway between neighbouring values, never on one: a coordinate on its threshold
// would change code with the last bit of its rotation (CPU against GPU, CudaRuntimeAsymmetricTest).
TEST(CodeBook, CalibratedThresholdsLieBetweenValues) {
  std::mt19937_64 rng(testing::test_seed() + 42);
  std::vector<float> values = testing::random_floats(rng, 997, 2.0f);
  for (int bits : {1, 2, 3}) {
    const CodeBook book = calibrate_code_book(values, bits, true, equal_mass_quantiles(bits));
    std::vector<float> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    for (int k = 0; k + 1 < book.levels(); ++k) {
      const float t = book.thresholds[k];
      const auto above = std::upper_bound(sorted.begin(), sorted.end(), t);
      ASSERT_TRUE(above != sorted.begin() && above != sorted.end()) << "bits " << bits << " threshold " << k;
      EXPECT_GT(t, *(above - 1)) << "bits " << bits << " threshold " << k << " lies on a value";
      EXPECT_LE(std::abs(t - 0.5f * (*(above - 1) + *above)), 1e-6f * std::max(1.0f, std::abs(t)));
    }
  }
  // Ties: every value equal but one; the thresholds stay strictly increasing.
  std::vector<float> tied(64, 1.0f);
  tied[0] = -1.0f;
  const CodeBook book = calibrate_code_book(tied, 2, true, equal_mass_quantiles(2));
  EXPECT_LT(book.thresholds[0], book.thresholds[1]);
  EXPECT_LT(book.thresholds[1], book.thresholds[2]);
}

TEST(CodeBook, SetCodeBookRecodesEveryCachedToken) {
  std::mt19937_64 rng(testing::test_seed() + 41);
  testing::RandomCacheSpec spec;
  spec.seq_lens = {50, 33};
  spec.head_dim = 64;
  KvCache cache = testing::make_random_cache(spec, rng);
  CodeBook book = CodeBook::from_thresholds({-2.5f, 0.5f, 3.0f});
  cache.set_code_book(0, book);
  const PagedKvView view = cache.view(0);
  for (int s = 0; s < 2; ++s)
    for (int t = 0; t < spec.seq_lens[s]; ++t) {
      std::vector<float> key(64);
      for (int i = 0; i < 64; ++i) key[i] = load_as_f32(view.keys, view.dtype, view.kv_offset(s, 0, t) + i);
      hadamard_transform_ref(key.data(), 64);
      std::vector<uint8_t> code(16);
      encode_code_ref(key.data(), 64, book.two_bit_thresholds(), code.data());
      ASSERT_EQ(0, std::memcmp(code.data(), view.key_codes + view.code_offset(s, 0, t), 16));
    }
  book.bits = 3;
  EXPECT_THROW(cache.set_code_book(0, book), Error) << "storage is sized for 2 bits";
}

TEST(CodeBook, BadBooksAndOptionsAreRejected) {
  CodeBook book;
  book.bits = 4;
  EXPECT_THROW(check_code_book(book), Error);
  book = CodeBook::paper();
  book.thresholds[1] = -20;
  EXPECT_THROW(check_code_book(book), Error);
  EXPECT_THROW(calibrate_code_book({1, 2, 3}, 2, true, equal_mass_quantiles(2)), Error) << "too few values";
  EXPECT_THROW(calibrate_code_book(std::vector<float>(100, 1.0f), 2, true, {0.5, 0.25, 0.75}), Error);
  EXPECT_THROW(parse_estimator("cosine"), Error);
  // Asymmetric needs 2-bit codes.
  std::mt19937_64 rng(testing::test_seed());
  testing::RandomCacheSpec spec;
  spec.seq_lens = {40};
  spec.head_dim = 64;
  spec.code_bits = 3;
  const KvCache cache = testing::make_random_cache(spec, rng);
  const std::vector<float> q = testing::random_floats(rng, 64, 1.0f);
  SelectorOptions options;
  options.token_budget = 8;
  options.estimator = Estimator::kAsymmetric;
  TokenSelection selection;
  EXPECT_THROW(select_tokens_cpu(options, cache.view(0), q.data(), 1, selection), Error);
}

}  // namespace
}  // namespace adamas

namespace adamas {
namespace {

TEST(CodeCalibration, CalibratesEveryLayerFromItsOwnKeys) {
  std::mt19937_64 rng(testing::test_seed() + 50);
  KvCacheConfig config;
  config.num_layers = 2;
  config.head_dim = 32;
  config.max_tokens_per_seq = 64;
  KvCache cache(config);
  cache.add_sequence();
  cache.reserve_tokens(0, 64);
  for (int layer = 0; layer < 2; ++layer) {
    // Layer 1's keys are 10x larger: its thresholds must be about 10x wider.
    std::vector<float> keys = testing::random_floats(rng, 64 * 32, layer == 0 ? 1.0f : 10.0f);
    const std::vector<float> values = testing::random_floats(rng, 64 * 32, 1.0f);
    cache.write_tokens(layer, 0, 0, 64, keys.data(), values.data());
  }
  const std::vector<CodeBook> books = calibrate_cache_code_books(cache, {});
  ASSERT_EQ(books.size(), 2u);
  EXPECT_NEAR(books[1].thresholds[2] / books[0].thresholds[2], 10.0, 2.0);
  EXPECT_EQ(cache.code_book(1).thresholds, books[1].thresholds);
  EXPECT_LT(books[0].thresholds[0], books[0].thresholds[1]);
}

}  // namespace
}  // namespace adamas
