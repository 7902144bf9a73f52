// bench-attn's row list and byte model: one adamas row per estimator, estimate-pass bytes.
#include <gtest/gtest.h>

#include "adamas/bench_attn.h"

namespace adamas {
namespace {

TEST(BenchAttnTest, OneAdamasRowPerEstimator) {
  BenchAttnOptions o;
  o.policies = {Policy::kFull, Policy::kAdamas, Policy::kOracle};
  o.estimators = {Estimator::kL1, Estimator::kAsymmetric};
  const auto cases = bench_attn_cases(o);
  ASSERT_EQ(cases.size(), 4u);
  EXPECT_EQ(cases[0].first, Policy::kFull);
  EXPECT_EQ(cases[1], std::make_pair(Policy::kAdamas, Estimator::kL1));
  EXPECT_EQ(cases[2], std::make_pair(Policy::kAdamas, Estimator::kAsymmetric));
  EXPECT_EQ(cases[3].first, Policy::kOracle);
}

TEST(BenchAttnTest, EstimatePassBytes) {
  BenchAttnOptions o;
  o.batch = 2;
  o.num_kv_heads = 4;
  o.head_dim = 128;
  o.context = 1001;
  o.token_budget = 100;
  // 2 sequences x 4 KV heads x 1000 candidates x (32 B of code + the score written).
  EXPECT_DOUBLE_EQ(estimate_pass_bytes(o, Policy::kAdamas, Estimator::kL1), 8.0 * 1000 * 34);
  EXPECT_DOUBLE_EQ(estimate_pass_bytes(o, Policy::kAdamas, Estimator::kAsymmetric), 8.0 * 1000 * 36);
  EXPECT_EQ(estimate_pass_bytes(o, Policy::kOracle, Estimator::kL1), 0.0);
  o.token_budget = 2000;  // every sequence dense: nothing to estimate
  EXPECT_EQ(estimate_pass_bytes(o, Policy::kAdamas, Estimator::kL1), 0.0);
}

TEST(BenchAttnTest, CpuRunReportsEachEstimator) {
  BenchAttnOptions o;
  o.num_q_heads = 4;
  o.num_kv_heads = 2;
  o.head_dim = 64;
  o.context = 600;
  o.token_budget = 64;
  o.iterations = 1;
  o.warmup = 0;
  o.policies = {Policy::kAdamas};
  o.estimators = {Estimator::kL1, Estimator::kAsymmetric};
  const BenchAttnReport report = run_bench_attn_cpu(o);
  ASSERT_EQ(report.rows.size(), 2u);
  EXPECT_EQ(report.rows[0].estimator, Estimator::kL1);
  EXPECT_EQ(report.rows[1].estimator, Estimator::kAsymmetric);
  for (const BenchAttnRow& row : report.rows) EXPECT_GT(row.estimate_gb_per_s, 0.0);
}

}  // namespace
}  // namespace adamas
