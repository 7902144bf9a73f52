// Differential tests of the selectors: fast CPU against the scalar reference, plus invariants
// of each policy checked by brute force.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "adamas/error.h"
#include "adamas/hadamard.h"
#include "adamas/selector.h"
#include "test_util.h"

namespace adamas {
namespace {

struct SelectorCase {
  std::vector<int> seq_lens;
  int num_q_heads, num_kv_heads, head_dim, budget;
  DType dtype;
  bool per_query_head;
};

std::vector<SelectorCase> selector_cases() {
  std::vector<SelectorCase> cases;
  const std::vector<std::vector<int>> batches = {{1}, {37}, {300}, {1000, 17, 513, 64}, {129, 2, 777}};
  const std::vector<std::pair<int, int>> heads = {{4, 4}, {8, 2}, {8, 1}};  // GQA ratios 1, 4, 8
  int i = 0;
  for (int d : {64, 128, 256})
    for (const auto& lens : batches)
      for (const auto& [hq, hkv] : heads)
        for (int budget : {1, 2, 5, 64, 300, 5000}) {
          const DType dtype = (i % 3 == 0) ? DType::kF32 : (i % 3 == 1 ? DType::kF16 : DType::kBF16);
          cases.push_back({lens, hq, hkv, d, budget, dtype, (i++ % 4) == 3});
        }
  // Groups wider than the vector scan keeps in registers (8 query codes).
  cases.push_back({{900, 45}, 12, 1, 128, 100, DType::kF16, false});
  cases.push_back({{700}, 24, 2, 256, 64, DType::kBF16, false});
  return cases;
}

class SelectorDifferential : public ::testing::TestWithParam<SelectorCase> {};

TEST_P(SelectorDifferential, FastEqualsReferenceForEveryPolicy) {
  const SelectorCase& c = GetParam();
  testing::RandomCacheSpec spec;
  spec.seq_lens = c.seq_lens;
  spec.num_kv_heads = c.num_kv_heads;
  spec.head_dim = c.head_dim;
  spec.dtype = c.dtype;
  spec.thresholds = {-6.0f, 0.0f, 6.0f};  // matched to the random scale so every bucket is used
  const uint64_t seed = testing::test_seed() + c.budget * 31 + c.head_dim;
  SCOPED_TRACE(testing::describe(spec, seed) + " hq=" + std::to_string(c.num_q_heads) +
               " budget=" + std::to_string(c.budget) + " per_q=" + std::to_string(c.per_query_head));
  std::mt19937_64 rng(seed);
  const KvCache cache = testing::make_random_cache(spec, rng);
  const PagedKvView view = cache.view(0);
  const std::vector<float> q = testing::random_floats(rng, c.seq_lens.size() * c.num_q_heads * c.head_dim, 8.0f);
  for (Policy policy : {Policy::kFull, Policy::kStreaming, Policy::kQuest, Policy::kAdamas, Policy::kOracle}) {
    SCOPED_TRACE(policy_name(policy));
    SelectorOptions options;
    options.policy = policy;
    options.token_budget = c.budget;
    options.per_query_head = c.per_query_head;
    options.thresholds = spec.thresholds;
    TokenSelection ref, fast;
    select_tokens_ref(options, view, q.data(), c.num_q_heads, ref);
    select_tokens_cpu(options, view, q.data(), c.num_q_heads, fast);
    ASSERT_EQ(ref.dense, fast.dense);
    ASSERT_EQ(ref.counts, fast.counts);
    ASSERT_EQ(ref.indices, fast.indices);  // rows are sorted, so equal sets means equal arrays
    for (size_t s = 0; s < c.seq_lens.size(); ++s) {
      const int n = c.seq_lens[s];
      ASSERT_EQ(ref.dense[s] != 0, policy == Policy::kFull || n <= c.budget);
      if (ref.dense[s]) continue;
      for (int r = 0; r < ref.rows_per_seq; ++r) {
        const int count = ref.count(static_cast<int>(s), r);
        const int32_t* row = ref.row(static_cast<int>(s), r);
        ASSERT_EQ(row[count - 1], n - 1) << "the current token is always selected";
        ASSERT_TRUE(std::is_sorted(row, row + count));
        ASSERT_EQ(std::set<int32_t>(row, row + count).size(), static_cast<size_t>(count));
        if (policy != Policy::kQuest) ASSERT_EQ(count, c.budget);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, SelectorDifferential, ::testing::ValuesIn(selector_cases()));

// Shared setup for the invariant tests below: one sequence, MHA or GQA.
struct Scene {
  testing::RandomCacheSpec spec;
  KvCache cache;
  std::vector<float> q;
  int num_q_heads;
};

Scene make_scene(uint64_t seed, int n, int hq, int hkv, int d, DType dtype) {
  std::mt19937_64 rng(seed);
  testing::RandomCacheSpec spec;
  spec.seq_lens = {n};
  spec.num_kv_heads = hkv;
  spec.head_dim = d;
  spec.dtype = dtype;
  KvCache cache = testing::make_random_cache(spec, rng);
  return {spec, std::move(cache), testing::random_floats(rng, static_cast<size_t>(hq) * d, 8.0f), hq};
}

TEST(SelectorInvariants, OracleEqualsBruteForceSortOfDotProducts) {
  const uint64_t seed = testing::test_seed() + 11;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  Scene scene = make_scene(seed, 900, 8, 2, 128, DType::kF16);
  const PagedKvView view = scene.cache.view(0);
  SelectorOptions options;
  options.policy = Policy::kOracle;
  options.token_budget = 50;
  TokenSelection selection;
  select_tokens_cpu(options, view, scene.q.data(), scene.num_q_heads, selection);
  for (int kv = 0; kv < 2; ++kv) {
    std::vector<std::pair<double, int>> scored;  // (max over the group of q.k in double, position)
    for (int t = 0; t < 899; ++t) {
      double best = -1e300;
      for (int j = 0; j < 4; ++j) {
        double dot = 0;
        for (int c = 0; c < 128; ++c)
          dot += static_cast<double>(scene.q[(kv * 4 + j) * 128 + c]) * load_as_f32(view.keys, view.dtype, view.kv_offset(0, kv, t) + c);
        best = std::max(best, dot);
      }
      scored.push_back({-best, -t});  // ties: the later position wins, as in top_k.h
    }
    std::sort(scored.begin(), scored.end());
    std::set<int> expected;
    for (int i = 0; i < 49; ++i) expected.insert(-scored[i].second);
    expected.insert(899);
    const std::set<int> got(selection.row(0, kv), selection.row(0, kv) + selection.count(0, kv));
    // Only near-ties within fp32 rounding could order differently in double; exact ties (copied
    // keys) are broken the same way.
    const double gap = scored[49].first - scored[48].first;
    ASSERT_TRUE(gap == 0 || gap > 1e-3) << gap;
    ASSERT_EQ(got, expected) << "kv head " << kv;
  }
}

TEST(SelectorInvariants, QuestPageBoundIsNeverBelowTheTruePageMaximum) {
  const uint64_t seed = testing::test_seed() + 12;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    Scene scene = make_scene(seed, 333, 4, 4, 64, dtype);
    const PagedKvView view = scene.cache.view(0);
    for (int h = 0; h < 4; ++h)
      for (int page = 0; page * 16 < 333; ++page) {
        const size_t meta = view.page_meta_offset(0, h, page);
        double bound = 0;
        for (int c = 0; c < 64; ++c) {
          const double qc = scene.q[h * 64 + c];
          bound += std::max(qc * view.page_min[meta + c], qc * view.page_max[meta + c]);
        }
        for (int t = page * 16; t < std::min(333, page * 16 + 16); ++t) {
          double dot = 0;
          for (int c = 0; c < 64; ++c) dot += scene.q[h * 64 + c] * static_cast<double>(load_as_f32(view.keys, dtype, view.kv_offset(0, h, t) + c));
          ASSERT_GE(bound, dot - 1e-9) << "head " << h << " page " << page << " token " << t;
        }
      }
  }
}

TEST(SelectorInvariants, StreamingKeepsSinksAndRecentWindow) {
  Scene scene = make_scene(testing::test_seed(), 100, 2, 2, 32, DType::kF32);
  SelectorOptions options;
  options.policy = Policy::kStreaming;
  options.token_budget = 10;
  options.sink_tokens = 4;
  TokenSelection selection;
  select_tokens_cpu(options, scene.cache.view(0), scene.q.data(), 2, selection);
  const std::vector<int32_t> row(selection.row(0, 1), selection.row(0, 1) + selection.count(0, 1));
  EXPECT_EQ(row, (std::vector<int32_t>{0, 1, 2, 3, 94, 95, 96, 97, 98, 99}));
}

TEST(SelectorInvariants, AdamasPicksTheNearestCodesByBruteForce) {
  const uint64_t seed = testing::test_seed() + 13;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  Scene scene = make_scene(seed, 500, 4, 1, 128, DType::kBF16);
  SelectorOptions options;
  options.policy = Policy::kAdamas;
  options.token_budget = 40;
  options.thresholds = {-6, 0, 6};
  // The scene's cache was coded with the default thresholds; rebuild it with matching ones.
  std::mt19937_64 rng(seed);
  scene.spec.thresholds = options.thresholds;
  KvCache cache = testing::make_random_cache(scene.spec, rng);
  const PagedKvView v = cache.view(0);
  TokenSelection selection;
  select_tokens_cpu(options, v, scene.q.data(), 4, selection);
  std::vector<std::vector<int>> query_codes(4, std::vector<int>(128));
  for (int j = 0; j < 4; ++j) {
    std::vector<float> rotated(scene.q.begin() + j * 128, scene.q.begin() + (j + 1) * 128);
    hadamard_transform_ref(rotated.data(), 128);
    for (int c = 0; c < 128; ++c) query_codes[j][c] = bucketize(rotated[c], options.thresholds);
  }
  std::vector<std::pair<int, int>> scored;  // (min distance over the group, -position)
  for (int t = 0; t < 499; ++t) {
    std::vector<float> key(128);
    for (int c = 0; c < 128; ++c) key[c] = load_as_f32(v.keys, v.dtype, v.kv_offset(0, 0, t) + c);
    hadamard_transform_ref(key.data(), 128);
    int best = 1 << 30;
    for (int j = 0; j < 4; ++j) {
      int distance = 0;
      for (int c = 0; c < 128; ++c) distance += std::abs(query_codes[j][c] - bucketize(key[c], options.thresholds));
      best = std::min(best, distance);
    }
    scored.push_back({best, -t});
  }
  std::sort(scored.begin(), scored.end());
  std::set<int> expected{499};
  for (int i = 0; i < 39; ++i) expected.insert(-scored[i].second);
  EXPECT_EQ(std::set<int>(selection.row(0, 0), selection.row(0, 0) + selection.count(0, 0)), expected);
}

TEST(SelectorErrors, BadInputsGiveClearErrors) {
  Scene scene = make_scene(testing::test_seed(), 50, 4, 2, 64, DType::kF32);
  const PagedKvView view = scene.cache.view(0);
  TokenSelection selection;
  SelectorOptions options;
  for (int budget : {0, -5}) {
    options.token_budget = budget;
    EXPECT_THROW(select_tokens_cpu(options, view, scene.q.data(), 4, selection), Error);
    EXPECT_THROW(select_tokens_ref(options, view, scene.q.data(), 4, selection), Error);
  }
  options.token_budget = 8;
  EXPECT_THROW(select_tokens_cpu(options, view, scene.q.data(), 3, selection), Error) << "3 heads over 2 KV heads";
  EXPECT_THROW(select_tokens_cpu(options, view, scene.q.data(), 0, selection), Error);
  std::vector<float> bad_q = scene.q;
  bad_q[17] = std::nanf("");
  EXPECT_THROW(select_tokens_cpu(options, view, bad_q.data(), 4, selection), Error);
  bad_q[17] = INFINITY;
  EXPECT_THROW(select_tokens_ref(options, view, bad_q.data(), 4, selection), Error);
  options.thresholds = {1, 0, 2};
  EXPECT_THROW(select_tokens_cpu(options, view, scene.q.data(), 4, selection), Error);
  EXPECT_THROW(parse_policy("h2o"), Error);
  try {
    parse_policy("h2o");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("h2o"), std::string::npos);
  }
}

}  // namespace
}  // namespace adamas
