// layer_kv_bytes_read / dense_kv_bytes_read: the byte model both runtimes report per decode step,
// checked against numbers worked out by hand from decode_step_bytes' rule.
#include <gtest/gtest.h>

#include "adamas/error.h"
#include "adamas/model/llama_model.h"

namespace adamas {
namespace {

// A Llama-3-8B-like attention shape cut to 4 layers: 8 KV heads of 128 dims, f16 cache, so one K
// or V row is 256 B and one token's K+V in one KV head is 512 B.
ModelConfig shape() {
  ModelConfig config;
  config.num_layers = 4;
  config.num_heads = 32;
  config.num_kv_heads = 8;
  config.head_dim = 128;
  return config;
}

RuntimeOptions options(Policy policy, int dense_layers = 2) {
  RuntimeOptions o;
  o.kv_dtype = DType::kF16;
  o.page_size = 16;
  o.dense_layers = dense_layers;
  o.selector.policy = policy;
  o.selector.token_budget = 256;
  return o;
}

TEST(StepKvBytes, DenseLayersReadEveryRow) {
  // 8 heads x 4096 tokens x 512 B, whatever the policy of the other layers.
  for (Policy policy : {Policy::kAdamas, Policy::kQuest, Policy::kStreaming}) {
    SCOPED_TRACE(policy_name(policy));
    EXPECT_DOUBLE_EQ(layer_kv_bytes_read(options(policy), shape(), 0, 4096), 16777216.0);
    EXPECT_DOUBLE_EQ(layer_kv_bytes_read(options(policy), shape(), 1, 4096), 16777216.0);
  }
  // Policy full is dense in every layer, dense_layers or not.
  EXPECT_DOUBLE_EQ(layer_kv_bytes_read(options(Policy::kFull, 0), shape(), 3, 4096), 16777216.0);
  // All 4 layers dense.
  EXPECT_DOUBLE_EQ(dense_kv_bytes_read(options(Policy::kAdamas), shape(), 4096), 67108864.0);
}

TEST(StepKvBytes, SparseLayersReadTheEstimateAndTheSelectedRows) {
  // adamas: 2-bit codes of every token (128 / 4 = 32 B) + K/V of 256 selected: 8 x (131072 + 131072).
  EXPECT_DOUBLE_EQ(layer_kv_bytes_read(options(Policy::kAdamas), shape(), 2, 4096), 2097152.0);
  // streaming: K/V of the 256 kept tokens only: 8 x 256 x 512.
  EXPECT_DOUBLE_EQ(layer_kv_bytes_read(options(Policy::kStreaming), shape(), 3, 4096), 1048576.0);
  // oracle: every K (4096 x 256 B) + V of the 256 selected (256 x 256 B): 8 x 1114112.
  EXPECT_DOUBLE_EQ(layer_kv_bytes_read(options(Policy::kOracle), shape(), 2, 4096), 8912896.0);
  // quest: fp32 min+max of 256 pages (256 x 2 x 128 x 4 B) + K/V of 256 / 16 = 16 kept pages of
  // 16 tokens: 8 x (262144 + 131072).
  EXPECT_DOUBLE_EQ(layer_kv_bytes_read(options(Policy::kQuest), shape(), 2, 4096), 3145728.0);
  // quest over a partial last page: 1000 tokens are 63 pages: 8 x (63 x 1024 + 131072).
  EXPECT_DOUBLE_EQ(layer_kv_bytes_read(options(Policy::kQuest), shape(), 2, 1000), 1564672.0);
}

TEST(StepKvBytes, FollowsTheCacheDtypeAndTheBudget) {
  // A context within the budget attends densely: 8 x 200 x 512.
  EXPECT_DOUBLE_EQ(layer_kv_bytes_read(options(Policy::kAdamas), shape(), 3, 200), 819200.0);
  // f32 cache: 512 B rows; the codes stay 32 B: 8 x (131072 + 256 x 1024).
  RuntimeOptions f32 = options(Policy::kAdamas);
  f32.kv_dtype = DType::kF32;
  EXPECT_DOUBLE_EQ(layer_kv_bytes_read(f32, shape(), 3, 4096), 3145728.0);
  EXPECT_DOUBLE_EQ(dense_kv_bytes_read(f32, shape(), 4096), 134217728.0);
}

TEST(StepKvBytes, RejectsALayerOutsideTheModel) {
  EXPECT_THROW(layer_kv_bytes_read(options(Policy::kAdamas), shape(), 4, 4096), Error);
  EXPECT_THROW(layer_kv_bytes_read(options(Policy::kAdamas), shape(), -1, 4096), Error);
}

}  // namespace
}  // namespace adamas
