// Blocked causal prefill attention against its scalar reference, over shapes, dtypes, GQA ratios
// and chunk offsets (queries that start mid-sequence, as later prefill chunks do).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "adamas/error.h"
#include "attention/prefill_attention.h"
#include "test_util.h"

namespace adamas {
namespace {

struct PrefillCase {
  int length, first, num_q_heads, num_kv_heads, head_dim, page_size;
  DType dtype;
};

class PrefillAttention : public ::testing::TestWithParam<PrefillCase> {};

TEST_P(PrefillAttention, BlockedMatchesReference) {
  const PrefillCase c = GetParam();
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(::testing::Message() << "seed=" << seed << " len=" << c.length << " first=" << c.first << " heads="
                                    << c.num_q_heads << "/" << c.num_kv_heads << " d=" << c.head_dim);
  std::mt19937_64 rng(seed);
  testing::RandomCacheSpec spec;
  spec.seq_lens = {c.length};
  spec.num_kv_heads = c.num_kv_heads;
  spec.head_dim = c.head_dim;
  spec.page_size = c.page_size;
  spec.dtype = c.dtype;
  spec.scale = 1.0f;
  const KvCache cache = testing::make_random_cache(spec, rng);
  const PagedKvView view = cache.view(0);
  const int count = c.length - c.first;
  const size_t elements = static_cast<size_t>(count) * c.num_q_heads * c.head_dim;
  const std::vector<float> q = testing::random_floats(rng, elements, 1.0f);
  std::vector<float> expected(elements), actual(elements);
  prefill_attention_ref(view, 0, c.first, count, q.data(), c.num_q_heads, expected.data());
  prefill_attention_cpu(view, 0, c.first, count, q.data(), c.num_q_heads, actual.data());
  // fp32 online softmax vs double two-pass reference over <= 300 positions: ~1e-6 relative.
  for (size_t i = 0; i < elements; ++i) ASSERT_NEAR(actual[i], expected[i], 2e-5 * (1 + std::abs(expected[i]))) << i;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, PrefillAttention,
    ::testing::Values(PrefillCase{1, 0, 1, 1, 4, 16, DType::kF32}, PrefillCase{37, 0, 4, 2, 8, 4, DType::kF32},
                      PrefillCase{130, 0, 3, 1, 128, 16, DType::kF16}, PrefillCase{300, 211, 8, 2, 64, 16, DType::kBF16},
                      PrefillCase{70, 69, 2, 2, 32, 8, DType::kF32}, PrefillCase{90, 17, 6, 3, 16, 32, DType::kF16}));

TEST(PrefillAttentionErrors, BadInputsThrow) {
  std::mt19937_64 rng(1);
  testing::RandomCacheSpec spec;
  spec.seq_lens = {10};
  spec.head_dim = 8;
  const KvCache cache = testing::make_random_cache(spec, rng);
  std::vector<float> q(11 * 2 * 8), out(q.size());
  EXPECT_THROW(prefill_attention_cpu(cache.view(0), 0, 0, 11, q.data(), 2, out.data()), Error);  // beyond the cache
  EXPECT_THROW(prefill_attention_cpu(cache.view(0), 1, 0, 1, q.data(), 2, out.data()), Error);   // no sequence 1
  EXPECT_THROW(prefill_attention_ref(cache.view(0), 0, 0, 2, q.data(), 0, out.data()), Error);   // no query heads
}

}  // namespace
}  // namespace adamas
