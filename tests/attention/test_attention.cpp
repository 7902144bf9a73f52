#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "adamas/attention.h"
#include "adamas/error.h"
#include "test_util.h"

namespace adamas {
namespace {

using testing::relative_error;

struct AttentionCase {
  std::vector<int> seq_lens;
  int num_q_heads, num_kv_heads, head_dim;
  DType dtype;
};

class AttentionDifferential : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(AttentionDifferential, FastEqualsReferenceDenseAndSparse) {
  const AttentionCase& c = GetParam();
  testing::RandomCacheSpec spec;
  spec.seq_lens = c.seq_lens;
  spec.num_kv_heads = c.num_kv_heads;
  spec.head_dim = c.head_dim;
  spec.dtype = c.dtype;
  spec.scale = 2.0f;
  const uint64_t seed = testing::test_seed() + c.head_dim + 1000 * c.num_q_heads;
  SCOPED_TRACE(testing::describe(spec, seed) + " hq=" + std::to_string(c.num_q_heads));
  std::mt19937_64 rng(seed);
  const KvCache cache = testing::make_random_cache(spec, rng);
  const PagedKvView view = cache.view(0);
  const size_t q_size = c.seq_lens.size() * c.num_q_heads * c.head_dim;
  const std::vector<float> q = testing::random_floats(rng, q_size, 2.0f);
  std::vector<float> ref(q_size, NAN), fast(q_size, NAN);  // poisoned: every element must be written
  decode_attention_ref(view, q.data(), c.num_q_heads, nullptr, ref.data());
  decode_attention_cpu(view, q.data(), c.num_q_heads, nullptr, fast.data());
  // fp32 accumulation against a double reference: 1e-5 relative holds with a wide margin.
  ASSERT_LT(relative_error(fast, ref), 1e-5);
  for (Policy policy : {Policy::kStreaming, Policy::kQuest, Policy::kAdamas, Policy::kOracle})
    for (int budget : {1, 7, 100}) {
      for (bool per_query_head : {false, true}) {
        SCOPED_TRACE(policy_name(policy) + " budget " + std::to_string(budget) + (per_query_head ? " per-q" : ""));
        SelectorOptions options;
        options.policy = policy;
        options.token_budget = budget;
        options.per_query_head = per_query_head;
        TokenSelection selection;
        select_tokens_cpu(options, view, q.data(), c.num_q_heads, selection);
        std::vector<float> sparse_ref(q_size, NAN), sparse_fast(q_size, NAN);
        decode_attention_ref(view, q.data(), c.num_q_heads, &selection, sparse_ref.data());
        decode_attention_cpu(view, q.data(), c.num_q_heads, &selection, sparse_fast.data());
        ASSERT_LT(relative_error(sparse_fast, sparse_ref), 1e-5);
      }
    }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionDifferential,
    ::testing::Values(AttentionCase{{1}, 4, 4, 64, DType::kF32}, AttentionCase{{130}, 8, 2, 128, DType::kF16},
                      AttentionCase{{700, 3, 65, 1000}, 8, 1, 256, DType::kBF16},
                      AttentionCase{{517, 33}, 32, 8, 128, DType::kF16}, AttentionCase{{64, 200}, 4, 4, 128, DType::kF32},
                      AttentionCase{{2049}, 4, 1, 64, DType::kF32}, AttentionCase{{31, 300, 90}, 16, 4, 32, DType::kBF16}));

TEST(AttentionInvariants, AllIndicesEqualsDenseAndBudgetAtContextEqualsFullExactly) {
  const uint64_t seed = testing::test_seed() + 5;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  testing::RandomCacheSpec spec;
  spec.seq_lens = {300, 45};
  spec.num_kv_heads = 2;
  spec.head_dim = 64;
  spec.dtype = DType::kF16;
  const KvCache cache = testing::make_random_cache(spec, rng);
  const PagedKvView view = cache.view(0);
  const std::vector<float> q = testing::random_floats(rng, 2 * 8 * 64, 1.0f);
  std::vector<float> dense(q.size()), listed(q.size()), budget_full(q.size());
  decode_attention_cpu(view, q.data(), 8, nullptr, dense.data());
  // A hand-made selection listing every position, not marked dense.
  TokenSelection all;
  all.batch = 2;
  all.rows_per_seq = 2;
  all.capacity = 300;
  all.indices.assign(2 * 2 * 300, 0);
  all.counts.assign(4, 0);
  all.dense.assign(2, 0);
  for (int s = 0; s < 2; ++s)
    for (int r = 0; r < 2; ++r) {
      for (int t = 0; t < spec.seq_lens[s]; ++t) all.indices[(s * 2 + r) * 300 + t] = t;
      all.counts[s * 2 + r] = spec.seq_lens[s];
    }
  decode_attention_cpu(view, q.data(), 8, &all, listed.data());
  EXPECT_EQ(dense, listed) << "same positions in the same order: bit-identical";
  for (Policy policy : {Policy::kStreaming, Policy::kQuest, Policy::kAdamas, Policy::kOracle}) {
    SelectorOptions options;
    options.policy = policy;
    options.token_budget = 300;
    TokenSelection selection;
    select_tokens_cpu(options, view, q.data(), 8, selection);
    decode_attention_cpu(view, q.data(), 8, &selection, budget_full.data());
    EXPECT_EQ(dense, budget_full) << policy_name(policy);
  }
}

TEST(AttentionErrors, MismatchedSelectionAndShapes) {
  std::mt19937_64 rng(testing::test_seed());
  testing::RandomCacheSpec spec;
  spec.seq_lens = {40};
  spec.num_kv_heads = 2;
  spec.head_dim = 32;
  const KvCache cache = testing::make_random_cache(spec, rng);
  const PagedKvView view = cache.view(0);
  std::vector<float> q = testing::random_floats(rng, 8 * 32, 1.0f), out(8 * 32);
  TokenSelection selection;
  SelectorOptions options;
  options.token_budget = 8;
  options.per_query_head = true;
  select_tokens_cpu(options, view, q.data(), 4, selection);
  EXPECT_THROW(decode_attention_cpu(view, q.data(), 8, &selection, out.data()), Error) << "4 rows for 8 query heads";
  EXPECT_THROW(decode_attention_cpu(view, q.data(), 5, nullptr, out.data()), Error) << "5 heads over 2 KV heads";
  selection.indices[2] = 40;  // out of range position
  EXPECT_THROW(decode_attention_cpu(view, q.data(), 4, &selection, out.data()), Error);
  EXPECT_THROW(decode_attention_ref(view, q.data(), 4, &selection, out.data()), Error);
  q[5] = NAN;
  EXPECT_THROW(decode_attention_cpu(view, q.data(), 4, nullptr, out.data()), Error);
}

}  // namespace
}  // namespace adamas
