#include "adamas/eval/demo.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "adamas/error.h"
#include "adamas/eval/perplexity.h"

namespace adamas {

namespace {

std::string describe(const RuntimeOptions& o) {
  std::ostringstream out;
  if (o.selector.policy == Policy::kFull) return "full attention, every cached token";
  if (o.selector.policy == Policy::kOracle)
    return "exact top-" + std::to_string(o.selector.token_budget) + " by q.k (reads every key: a reference, not a method), first " +
           std::to_string(o.dense_layers) + " layers dense";
  out << policy_name(o.selector.policy) << ", budget " << o.selector.token_budget;
  if (o.selector.policy == Policy::kAdamas) {
    out << ", " << o.code_bits << "-bit codes, " << estimator_name(o.selector.estimator);
    if (o.calibrate_after_tokens > 0) {
      out << ", thresholds calibrated after " << o.calibrate_after_tokens << " tokens";
      if (!o.calibration_quantiles.empty()) {
        out << " (quantiles";
        for (size_t i = 0; i < o.calibration_quantiles.size(); ++i)
          out << (i ? "," : " ") << o.calibration_quantiles[i];
        out << ")";
      }
    } else {
      out << ", thresholds " << o.selector.thresholds.t0 << "," << o.selector.thresholds.t1 << ","
          << o.selector.thresholds.t2;
    }
  }
  out << ", first " << o.dense_layers << " layers dense";
  return out.str();
}

std::string format_kib(double bytes) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.0f", bytes / 1024);
  return buffer;
}

}  // namespace

std::vector<DemoConfig> default_demo_configs(const RuntimeOptions& base, const std::vector<int>& budgets,
                                             int calibrated_budget, int calibrate_after,
                                             const std::vector<double>& calibration_quantiles, int oracle_budget) {
  std::vector<DemoConfig> configs;
  DemoConfig full{"full", base};
  full.runtime.selector.policy = Policy::kFull;
  full.runtime.calibrate_after_tokens = 0;
  configs.push_back(full);
  for (const int budget : budgets) {
    ADAMAS_CHECK(budget >= 1, "demo: budget must be >= 1, got ", budget);
    DemoConfig row{"adamas-" + std::to_string(budget), base};
    row.runtime.selector.policy = Policy::kAdamas;
    row.runtime.selector.token_budget = budget;
    row.runtime.calibrate_after_tokens = 0;
    configs.push_back(row);
  }
  if (calibrate_after > 0) {
    ADAMAS_CHECK(calibrated_budget >= 1, "demo: calibrated budget must be >= 1, got ", calibrated_budget);
    DemoConfig row{"adamas-" + std::to_string(calibrated_budget) + "-cal", base};
    row.runtime.selector.policy = Policy::kAdamas;
    row.runtime.selector.token_budget = calibrated_budget;
    row.runtime.calibrate_after_tokens = calibrate_after;
    row.runtime.calibration_quantiles = calibration_quantiles;
    configs.push_back(row);
    // The same codes scored asymmetrically (issue 8's estimator): full-precision q against the code
    // book's centroids, fitted at the same time as the thresholds.
    row.label += "-asym";
    row.runtime.selector.estimator = Estimator::kAsymmetric;
    configs.push_back(row);
  }
  if (oracle_budget > 0) {
    DemoConfig row{"oracle-" + std::to_string(oracle_budget), base};
    row.runtime.selector.policy = Policy::kOracle;
    row.runtime.selector.token_budget = oracle_budget;
    row.runtime.calibrate_after_tokens = 0;
    configs.push_back(row);
  }
  return configs;
}

DemoResult run_demo(const DemoOptions& options, const RuntimeFactory& make_runtime, const Tokenizer& tokenizer,
                    const ProgressFn& progress) {
  ADAMAS_CHECK(!options.configs.empty(), "demo: no configurations");
  const bool with_ppl = !options.ppl_tokens.empty();
  const bool with_passkey = !options.passkey_filler.empty() && options.passkey.trials > 0;
  ADAMAS_CHECK(with_ppl || with_passkey, "demo: neither perplexity tokens nor passkey trials to run");
  if (with_ppl) ADAMAS_CHECK(options.ppl_tokens.size() >= 2, "demo: perplexity needs at least 2 tokens");
  int max_context = with_ppl ? static_cast<int>(options.ppl_tokens.size()) : 0;
  if (with_passkey) max_context = std::max(max_context, options.passkey.length + options.passkey.max_new_tokens);

  DemoResult result;
  result.ppl_tokens = with_ppl ? static_cast<int64_t>(options.ppl_tokens.size()) : 0;
  result.passkey_length = with_passkey ? options.passkey.length : 0;
  const auto start = std::chrono::steady_clock::now();
  int64_t done = 0;
  for (const DemoConfig& config : options.configs) {
    const auto row_start = std::chrono::steady_clock::now();
    RuntimeOptions runtime_options = config.runtime;
    runtime_options.max_context = std::max(runtime_options.max_context, max_context);
    std::unique_ptr<DecoderRuntime> runtime = make_runtime(runtime_options);
    DemoRow row;
    row.label = config.label;
    row.description = describe(runtime_options);
    if (with_ppl) {
      const PerplexityResult ppl = evaluate_perplexity(*runtime, options.ppl_tokens);
      row.perplexity = ppl.perplexity;
      row.decode = ppl.decode;
    }
    if (with_passkey) {
      // Same seed in every row: the same keys, depths and filler offsets.
      const PasskeyResult passkey = run_passkey(*runtime, tokenizer, options.passkey_filler, options.passkey);
      row.passkey = passkey.trials;
      for (const PasskeyTrial& t : passkey.trials) row.passkey_correct += t.correct;
      if (!with_ppl) row.decode.add(passkey.decode);
    }
    if (!result.rows.empty() && result.rows.front().perplexity > 0)
      row.perplexity_change = row.perplexity / result.rows.front().perplexity - 1;
    row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - row_start).count();
    result.rows.push_back(std::move(row));
    if (progress) progress(++done, static_cast<int64_t>(options.configs.size()));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

std::string format_demo_table(const DemoResult& result) {
  std::ostringstream out;
  char line[512];
  const bool with_ppl = result.ppl_tokens > 0;
  const bool with_passkey = result.passkey_length > 0 && !result.rows.empty() && !result.rows.front().passkey.empty();
  if (with_passkey) {
    out << "Passkey answers (" << result.passkey_length << "-token prompts, greedy; truth -> answer per row):\n";
    const DemoRow& first = result.rows.front();
    for (size_t t = 0; t < first.passkey.size(); ++t) {
      std::snprintf(line, sizeof(line), "  key %s at depth %3.0f%%:", first.passkey[t].key.c_str(),
                    first.passkey[t].depth * 100);
      out << line;
      for (const DemoRow& row : result.rows) {
        if (t >= row.passkey.size()) continue;
        std::string answer = row.passkey[t].answer;
        std::replace(answer.begin(), answer.end(), '\n', ' ');
        out << "  " << row.label << " '" << answer << "'" << (row.passkey[t].correct ? " (ok)" : "");
      }
      out << "\n";
    }
    out << "\n";
  }
  int label_width = 16;  // the config column fits the longest label
  for (const DemoRow& row : result.rows) label_width = std::max(label_width, static_cast<int>(row.label.size()));
  std::snprintf(line, sizeof(line), "%-*s %11s %8s %8s %12s %12s %8s %7s\n", label_width, "config", "perplexity",
                "vs full", "passkey", "decode tok/s", "KV KiB/token", "KV x", "time s");
  out << line;
  for (const DemoRow& row : result.rows) {
    char ppl[32] = "-", change[32] = "-", passkey[32] = "-", ratio[32] = "-";
    if (with_ppl) {
      std::snprintf(ppl, sizeof(ppl), "%.2f", row.perplexity);
      if (&row != &result.rows.front()) std::snprintf(change, sizeof(change), "%+.1f%%", row.perplexity_change * 100);
    }
    if (with_passkey) std::snprintf(passkey, sizeof(passkey), "%d/%zu", row.passkey_correct, row.passkey.size());
    if (row.decode.kv_bytes_per_token() > 0)
      std::snprintf(ratio, sizeof(ratio), "%.2f", row.decode.dense_kv_bytes_per_token() / row.decode.kv_bytes_per_token());
    std::snprintf(line, sizeof(line), "%-*s %11s %8s %8s %12.1f %12s %8s %7.1f\n", label_width, row.label.c_str(), ppl,
                  change, passkey, row.decode.tokens_per_second(), format_kib(row.decode.kv_bytes_per_token()).c_str(), ratio,
                  row.seconds);
    out << line;
  }
  out << "\nKV KiB/token: K/V (and Adamas's key codes, Quest's page bounds) read by attention per decoded token,\n"
         "all layers, mean over the decode steps; KV x: dense bytes / bytes read. Rows:\n";
  for (const DemoRow& row : result.rows) out << "  " << row.label << ": " << row.description << "\n";
  return out.str();
}

}  // namespace adamas
