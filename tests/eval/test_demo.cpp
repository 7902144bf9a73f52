// The side-by-side demo on a tiny random model: rows in order, full attention's row equals a
// plain perplexity run, a budget at or above the context equals full attention exactly, the
// passkey trials are the same keys in every row, and the table names every row.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "adamas/error.h"
#include "adamas/eval/demo.h"
#include "adamas/eval/perplexity.h"
#include "adamas/model/checkpoint.h"
#include "adamas/model/llama_model.h"
#include "eval/tiny_llama.h"

namespace adamas::test {
namespace {

std::string demo_corpus(int repeats) {
  std::string text;
  for (int r = 0; r < repeats; ++r)
    for (const char* line : kTokenizerCorpus) text += std::string(line) + " ";
  return text;
}

TEST(Demo, RowsMatchPlainRunsAndShareKeys) {
  TinyLlamaSpec spec;
  TempDir dir;
  write_tiny_llama(dir.path(), spec, /*with_tokenizer=*/true);
  const Checkpoint checkpoint = open_checkpoint(dir.path().string());
  LoadOptions load;
  load.precision = WeightPrecision::kF32;
  const LlamaModel model = LlamaModel::load(checkpoint, load);
  const Tokenizer& tokenizer = *checkpoint.tokenizer;

  RuntimeOptions base;
  base.kv_dtype = DType::kF32;
  base.page_size = 4;
  base.dense_layers = 1;
  base.selector.thresholds = {-0.5f, 0.0f, 0.5f};
  DemoOptions options;
  options.ppl_tokens = tokenize_for_eval(tokenizer, demo_corpus(3), 64, 2, "corpus");
  options.configs = default_demo_configs(base, {8, 64}, 8, 16, {});
  ASSERT_EQ(options.configs.size(), 5u);
  EXPECT_EQ(options.configs[0].label, "full");
  EXPECT_EQ(options.configs[1].label, "adamas-8");
  EXPECT_EQ(options.configs[3].label, "adamas-8-cal");
  EXPECT_EQ(options.configs[3].runtime.calibrate_after_tokens, 16);
  EXPECT_EQ(options.configs[3].runtime.selector.estimator, Estimator::kL1);
  EXPECT_EQ(options.configs[4].label, "adamas-8-cal-asym");
  EXPECT_EQ(options.configs[4].runtime.selector.estimator, Estimator::kAsymmetric);
  EXPECT_EQ(options.configs[4].runtime.calibrate_after_tokens, 16);
  EXPECT_EQ(options.configs[1].runtime.calibrate_after_tokens, 0);
  const std::vector<DemoConfig> with_oracle = default_demo_configs(base, {8}, 8, 0, {}, 8);
  ASSERT_EQ(with_oracle.size(), 3u);  // full, adamas-8, oracle-8 (no calibrated row without calibrate_after)
  EXPECT_EQ(with_oracle[2].label, "oracle-8");
  EXPECT_EQ(with_oracle[2].runtime.selector.policy, Policy::kOracle);
  options.passkey_filler = demo_corpus(10);
  options.passkey.length = 100;
  options.passkey.depths = {0.0, 1.0};
  options.passkey.trials = 1;
  options.passkey.max_new_tokens = 3;

  int64_t last = 0;
  const DemoResult result = run_demo(
      options, [&](const RuntimeOptions& o) { return make_cpu_runtime(model, o); }, tokenizer,
      [&](int64_t done, int64_t total) {
        EXPECT_EQ(total, 5);
        last = done;
      });
  EXPECT_EQ(last, 5);
  ASSERT_EQ(result.rows.size(), 5u);

  RuntimeOptions full = base;
  full.selector.policy = Policy::kFull;
  full.max_context = 64;
  const double expected = evaluate_perplexity(*make_cpu_runtime(model, full), options.ppl_tokens).perplexity;
  EXPECT_DOUBLE_EQ(result.rows[0].perplexity, expected);
  // Budget 64 >= every context of a 64-token text: dense at every step, identical to full.
  EXPECT_DOUBLE_EQ(result.rows[2].perplexity, expected);
  EXPECT_DOUBLE_EQ(result.rows[2].perplexity_change, 0.0);
  EXPECT_LT(result.rows[1].decode.kv_bytes_per_token(), result.rows[0].decode.kv_bytes_per_token());
  for (const DemoRow& row : result.rows) {
    EXPECT_TRUE(std::isfinite(row.perplexity) && row.perplexity > 1.0);
    ASSERT_EQ(row.passkey.size(), 2u);
    for (size_t t = 0; t < row.passkey.size(); ++t) EXPECT_EQ(row.passkey[t].key, result.rows[0].passkey[t].key);
  }
  const std::string table = format_demo_table(result);
  for (const char* label : {"full", "adamas-8", "adamas-64", "adamas-8-cal", "adamas-8-cal-asym", "Passkey answers"})
    EXPECT_NE(table.find(label), std::string::npos) << label;

  options.configs.clear();
  EXPECT_THROW(run_demo(options, [&](const RuntimeOptions& o) { return make_cpu_runtime(model, o); }, tokenizer), Error);
}

}  // namespace
}  // namespace adamas::test
