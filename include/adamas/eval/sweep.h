// Policy x budget sweeps of an evaluation task (perplexity or passkey accuracy) on one model:
// runtimes built by the caller's factory, rows written as CSV and drawn as an SVG line plot (metric over
// budget, one line per policy, full attention as a dashed reference).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "adamas/eval/eval_common.h"
#include "adamas/eval/passkey.h"
#include "adamas/eval/svg_plot.h"
#include "adamas/model/llama_model.h"
#include "adamas/selector.h"

namespace adamas {

enum class SweepTask { kPerplexity, kPasskey };
SweepTask parse_sweep_task(const std::string& name);  // "ppl" | "passkey"; throws
std::string sweep_task_name(SweepTask task);

struct SweepOptions {
  SweepTask task = SweepTask::kPerplexity;
  std::vector<Policy> policies = {Policy::kFull, Policy::kStreaming, Policy::kQuest, Policy::kAdamas, Policy::kOracle};
  std::vector<int> budgets = {64, 128, 256, 512};
  RuntimeOptions runtime;                 // everything but policy and budget
  std::vector<int32_t> ppl_tokens;        // kPerplexity
  std::string passkey_filler;             // kPasskey
  PasskeyOptions passkey;
};

struct SweepRow {
  Policy policy = Policy::kFull;
  int budget = 0;                 // 0 for full
  double metric = 0;              // perplexity, or passkey accuracy in [0, 1]
  double kv_bytes_per_token = 0;  // mean over decode steps
  double dense_kv_bytes_per_token = 0;
  double decode_tokens_per_second = 0;
};

using RuntimeFactory = std::function<std::unique_ptr<DecoderRuntime>(const RuntimeOptions&)>;

// Full attention runs once; every other policy once per budget. progress counts configurations.
// Perplexity: one runtime per configuration (every token is a decode step). Passkey: one runtime,
// each prompt prefilled once and every configuration's answer decoded from it
// (run_passkey_shared); the rows equal separate runs.
std::vector<SweepRow> run_sweep(const SweepOptions& options, const RuntimeFactory& make_runtime,
                                const Tokenizer* tokenizer, const ProgressFn& progress = {});

void write_sweep_csv(const std::string& path, SweepTask task, const std::vector<SweepRow>& rows);
LinePlot sweep_plot(SweepTask task, const std::vector<SweepRow>& rows, const std::string& title);

}  // namespace adamas
