// The side-by-side demo (`adamas demo`, the README's first command): full attention against a few
// sparse configurations (Adamas at small budgets, a calibrated variant) on one model, with
//   - perplexity of a held-out excerpt by the PG19 protocol (every prediction is a decode step),
//   - a few passkey trials (the model's answer next to the truth; the same keys for every row),
//   - decode tokens per second and KV-cache bytes read per decoded token (means over the steps),
// and a plain-text table. Every configuration runs on its own runtime from one factory, so the
// rows differ only in RuntimeOptions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "adamas/eval/eval_common.h"
#include "adamas/eval/passkey.h"
#include "adamas/eval/sweep.h"
#include "adamas/model/llama_model.h"
#include "adamas/model/tokenizer.h"

namespace adamas {

struct DemoConfig {
  std::string label;       // short row name, e.g. "adamas-64"
  RuntimeOptions runtime;  // max_context is raised by run_demo to what the tasks need
};

struct DemoOptions {
  std::vector<DemoConfig> configs;   // the first is the reference (normally full attention)
  std::vector<int32_t> ppl_tokens;   // BOS first; empty: no perplexity
  std::string passkey_filler;        // empty or passkey.trials == 0: no passkey trials
  PasskeyOptions passkey;            // length, depths, trials per depth, seed
};

struct DemoRow {
  std::string label, description;    // description: the policy in words
  double perplexity = 0;             // 0 when no perplexity ran
  double perplexity_change = 0;      // relative to the first row, e.g. +0.02 = 2% higher
  DecodeTotals decode;               // of the perplexity run (else of the passkey run)
  std::vector<PasskeyTrial> passkey; // same keys and depths in every row
  int passkey_correct = 0;
  double seconds = 0;                // wall time of this row, everything included
};

struct DemoResult {
  std::vector<DemoRow> rows;
  int64_t ppl_tokens = 0;
  int passkey_length = 0;
  double seconds = 0;
};

// Builds the default row set from `base` (everything but policy and budget): full attention;
// adamas at each budget with base's thresholds and estimator; and, when calibrate_after > 0,
// adamas at calibrated_budget with its thresholds fitted to the model's keys after
// calibrate_after tokens (quantiles as in RuntimeOptions::calibration_quantiles), then the same
// with the asymmetric estimator (label suffix "-asym"); and, when
// oracle_budget > 0, the exact top-k oracle at that budget (what selection at best can do).
std::vector<DemoConfig> default_demo_configs(const RuntimeOptions& base, const std::vector<int>& budgets,
                                             int calibrated_budget, int calibrate_after,
                                             const std::vector<double>& calibration_quantiles, int oracle_budget = 0);

// Runs every configuration: perplexity (if any tokens), then the passkey trials. progress counts
// configurations. Throws adamas::Error on no configurations or bad task options.
DemoResult run_demo(const DemoOptions& options, const RuntimeFactory& make_runtime, const Tokenizer& tokenizer,
                    const ProgressFn& progress = {});

// The closing table (one line per configuration) and the passkey answers, as plain text.
std::string format_demo_table(const DemoResult& result);

}  // namespace adamas
