// The passkey sweep from one prefill per prompt (run_passkey_shared, run_sweep's passkey task)
// against separate runs, one runtime per configuration: same answers, same accuracies, same
// bytes read, on a tiny random model with its own tokenizer.
#include <gtest/gtest.h>

#include "adamas/error.h"
#include "adamas/eval/passkey.h"
#include "adamas/eval/sweep.h"
#include "adamas/model/checkpoint.h"
#include "adamas/model/llama_model.h"
#include "eval/tiny_llama.h"

namespace adamas::test {
namespace {

struct TinyPasskeyModel {
  TinyLlamaSpec spec;
  TempDir dir;
  Checkpoint checkpoint;
  LlamaModel model;
  std::string filler;
  TinyPasskeyModel() {
    write_tiny_llama(dir.path(), spec, /*with_tokenizer=*/true);
    checkpoint = open_checkpoint(dir.path().string());
    LoadOptions options;
    options.precision = WeightPrecision::kF32;
    model = LlamaModel::load(checkpoint, options);
    for (int r = 0; r < 20; ++r)
      for (const char* line : kTokenizerCorpus) filler += std::string(line) + " ";
  }
};

RuntimeOptions sweep_runtime() {
  RuntimeOptions options;
  options.kv_dtype = DType::kF16;
  options.page_size = 4;
  options.max_context = 128;
  options.prefill_chunk = 32;
  options.dense_layers = 1;
  options.selector.thresholds = {-0.5f, 0.0f, 0.5f};
  return options;
}

PasskeyOptions small_passkey() {
  PasskeyOptions options;
  options.length = 90;  // not a whole number of pages: the shared prefill ends inside one
  options.depths = {0.0, 0.5, 1.0};
  options.trials = 2;
  options.max_new_tokens = 5;
  return options;
}

TEST(PasskeyShared, EqualsSeparateRunsPerConfiguration) {
  TinyPasskeyModel m;
  const Tokenizer& tokenizer = *m.checkpoint.tokenizer;
  std::vector<SelectorOptions> selectors;
  for (const Policy policy : {Policy::kAdamas, Policy::kFull, Policy::kQuest, Policy::kStreaming, Policy::kOracle})
    for (const int budget : {8, 24}) {
      SelectorOptions selector = sweep_runtime().selector;
      selector.policy = policy;
      selector.token_budget = budget;
      selectors.push_back(selector);
    }
  auto shared_runtime = make_cpu_runtime(m.model, sweep_runtime());
  const std::vector<PasskeyResult> shared =
      run_passkey_shared(*shared_runtime, tokenizer, m.filler, small_passkey(), selectors);
  ASSERT_EQ(shared.size(), selectors.size());
  for (size_t i = 0; i < selectors.size(); ++i) {
    SCOPED_TRACE(std::string(policy_name(selectors[i].policy)) + " budget " + std::to_string(selectors[i].token_budget));
    RuntimeOptions options = sweep_runtime();
    options.selector = selectors[i];
    auto runtime = make_cpu_runtime(m.model, options);
    const PasskeyResult separate = run_passkey(*runtime, tokenizer, m.filler, small_passkey());
    ASSERT_EQ(shared[i].trials.size(), separate.trials.size());
    for (size_t t = 0; t < separate.trials.size(); ++t) {
      EXPECT_EQ(shared[i].trials[t].key, separate.trials[t].key);
      EXPECT_EQ(shared[i].trials[t].answer, separate.trials[t].answer) << "trial " << t;
      EXPECT_EQ(shared[i].trials[t].correct, separate.trials[t].correct);
    }
    EXPECT_EQ(shared[i].accuracy, separate.accuracy);
    EXPECT_EQ(shared[i].accuracy_by_depth, separate.accuracy_by_depth);
    EXPECT_EQ(shared[i].decode.steps, separate.decode.steps);
    EXPECT_EQ(shared[i].decode.kv_bytes, separate.decode.kv_bytes);
  }
  // A configuration the runtime cannot take fails before any prompt is run.
  std::vector<SelectorOptions> bad = selectors;
  bad.back().thresholds = {-1.0f, 0.0f, 1.0f};
  EXPECT_THROW(run_passkey_shared(*shared_runtime, tokenizer, m.filler, small_passkey(), bad), Error);
}

TEST(PasskeyShared, SweepRowsEqualSeparateRuns) {
  TinyPasskeyModel m;
  SweepOptions options;
  options.task = SweepTask::kPasskey;
  options.policies = {Policy::kFull, Policy::kQuest, Policy::kAdamas};
  options.budgets = {8, 16};
  options.runtime = sweep_runtime();
  options.passkey_filler = m.filler;
  options.passkey = small_passkey();
  int runtimes_built = 0;
  int64_t last_done = 0;
  const std::vector<SweepRow> rows = run_sweep(
      options,
      [&](const RuntimeOptions& o) {
        ++runtimes_built;
        return make_cpu_runtime(m.model, o);
      },
      m.checkpoint.tokenizer.get(), [&](int64_t done, int64_t) { last_done = done; });
  EXPECT_EQ(runtimes_built, 1);  // one runtime, one prefill per prompt
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(last_done, 5);
  for (const SweepRow& row : rows) {
    SCOPED_TRACE(std::string(policy_name(row.policy)) + " budget " + std::to_string(row.budget));
    RuntimeOptions runtime_options = options.runtime;
    runtime_options.selector.policy = row.policy;
    if (row.budget > 0) runtime_options.selector.token_budget = row.budget;
    auto runtime = make_cpu_runtime(m.model, runtime_options);
    const PasskeyResult separate = run_passkey(*runtime, *m.checkpoint.tokenizer, m.filler, options.passkey);
    EXPECT_EQ(row.metric, separate.accuracy);
    EXPECT_EQ(row.kv_bytes_per_token, separate.decode.kv_bytes_per_token());
    EXPECT_EQ(row.dense_kv_bytes_per_token, separate.decode.dense_kv_bytes_per_token());
  }
}

}  // namespace
}  // namespace adamas::test
