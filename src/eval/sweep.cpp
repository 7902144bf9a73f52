#include "adamas/eval/sweep.h"

#include <algorithm>
#include <fstream>
#include <map>

#include "adamas/error.h"
#include "adamas/eval/perplexity.h"

namespace adamas {

SweepTask parse_sweep_task(const std::string& name) {
  if (name == "ppl" || name == "perplexity") return SweepTask::kPerplexity;
  if (name == "passkey") return SweepTask::kPasskey;
  throw Error("sweep task '" + name + "': expected ppl or passkey");
}

std::string sweep_task_name(SweepTask task) { return task == SweepTask::kPerplexity ? "ppl" : "passkey"; }

std::vector<SweepRow> run_sweep(const SweepOptions& options, const RuntimeFactory& make_runtime,
                                const Tokenizer* tokenizer, const ProgressFn& progress) {
  ADAMAS_CHECK(!options.policies.empty(), "sweep: no policies");
  ADAMAS_CHECK(!options.budgets.empty(), "sweep: no budgets");
  for (const int budget : options.budgets) ADAMAS_CHECK(budget >= 1, "sweep: budget must be >= 1, got ", budget);
  if (options.task == SweepTask::kPerplexity) {
    ADAMAS_CHECK(options.ppl_tokens.size() >= 2, "sweep: perplexity needs at least 2 tokens");
  } else {
    ADAMAS_CHECK(tokenizer != nullptr, "sweep: passkey needs the model's tokenizer");
    ADAMAS_CHECK(!options.passkey_filler.empty(), "sweep: passkey needs filler text");
  }
  std::vector<std::pair<Policy, int>> configs;
  for (const Policy policy : options.policies) {
    if (policy == Policy::kFull) {
      configs.emplace_back(policy, 0);
      continue;
    }
    for (const int budget : options.budgets) configs.emplace_back(policy, budget);
  }
  auto selector_of = [&](Policy policy, int budget) {
    SelectorOptions selector = options.runtime.selector;
    selector.policy = policy;
    if (budget > 0) selector.token_budget = budget;
    return selector;
  };
  auto row_of = [](Policy policy, int budget, const DecodeTotals& totals, double metric) {
    SweepRow row;
    row.policy = policy;
    row.budget = budget;
    row.metric = metric;
    row.kv_bytes_per_token = totals.kv_bytes_per_token();
    row.dense_kv_bytes_per_token = totals.dense_kv_bytes_per_token();
    row.decode_tokens_per_second = totals.tokens_per_second();
    return row;
  };
  std::vector<SweepRow> rows;
  int64_t done = 0;
  if (options.task == SweepTask::kPasskey) {
    // Every configuration decodes the answers from the same prompts: prefill each prompt once,
    // rewind and switch the selector per configuration (run_passkey_shared).
    std::vector<SelectorOptions> selectors;
    for (const auto& [policy, budget] : configs) selectors.push_back(selector_of(policy, budget));
    RuntimeOptions runtime_options = options.runtime;
    runtime_options.selector = selectors.front();
    std::unique_ptr<DecoderRuntime> runtime = make_runtime(runtime_options);
    const std::vector<PasskeyResult> results =
        run_passkey_shared(*runtime, *tokenizer, options.passkey_filler, options.passkey, selectors);
    for (size_t i = 0; i < configs.size(); ++i) {
      rows.push_back(row_of(configs[i].first, configs[i].second, results[i].decode, results[i].accuracy));
      if (progress) progress(++done, static_cast<int64_t>(configs.size()));
    }
    return rows;
  }
  for (const auto& [policy, budget] : configs) {
    RuntimeOptions runtime_options = options.runtime;
    runtime_options.selector = selector_of(policy, budget);
    std::unique_ptr<DecoderRuntime> runtime = make_runtime(runtime_options);
    const PerplexityResult result = evaluate_perplexity(*runtime, options.ppl_tokens);
    rows.push_back(row_of(policy, budget, result.decode, result.perplexity));
    if (progress) progress(++done, static_cast<int64_t>(configs.size()));
  }
  return rows;
}

void write_sweep_csv(const std::string& path, SweepTask task, const std::vector<SweepRow>& rows) {
  std::ofstream out(path);
  ADAMAS_CHECK(out, path, ": cannot open for writing");
  out << "task,policy,budget," << (task == SweepTask::kPerplexity ? "perplexity" : "accuracy")
      << ",kv_bytes_per_token,dense_kv_bytes_per_token,decode_tokens_per_second\n";
  for (const SweepRow& r : rows)
    out << sweep_task_name(task) << ',' << policy_name(r.policy) << ',' << r.budget << ',' << r.metric << ','
        << r.kv_bytes_per_token << ',' << r.dense_kv_bytes_per_token << ',' << r.decode_tokens_per_second << '\n';
  ADAMAS_CHECK(out.good(), path, ": write failed");
}

LinePlot sweep_plot(SweepTask task, const std::vector<SweepRow>& rows, const std::string& title) {
  LinePlot plot;
  plot.title = title;
  plot.x_label = "token budget";
  plot.y_label = task == SweepTask::kPerplexity ? "perplexity" : "passkey accuracy";
  plot.log2_x = true;
  int lo = 0, hi = 0;
  for (const SweepRow& r : rows)
    if (r.budget > 0) {
      lo = lo ? std::min(lo, r.budget) : r.budget;
      hi = std::max(hi, r.budget);
    }
  std::vector<Policy> order;
  std::map<Policy, PlotSeries> series;
  for (const SweepRow& r : rows) {
    if (!series.count(r.policy)) {
      order.push_back(r.policy);
      series[r.policy].name = policy_name(r.policy);
    }
    PlotSeries& s = series[r.policy];
    if (r.policy == Policy::kFull) {  // a horizontal reference across the budgets swept
      s.dashed = true;
      if (lo > 0) {
        s.x = {double(lo), double(hi)};
        s.y = {r.metric, r.metric};
      }
      continue;
    }
    s.x.push_back(r.budget);
    s.y.push_back(r.metric);
  }
  for (const Policy p : order) plot.series.push_back(series[p]);
  return plot;
}

}  // namespace adamas
