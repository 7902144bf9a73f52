// Each subcommand of the `adamas` CLI registers itself here; the CLI stays a thin layer that
// parses options, calls the library and formats results.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "adamas/eval/eval_common.h"
#include "adamas/key_codes.h"
#include "adamas/model/checkpoint.h"
#include "adamas/model/llama_model.h"
#include "adamas/selector.h"

namespace adamas::cli {

void register_bench_attn(CLI::App& app);
void register_bench_e2e(CLI::App& app);
void register_generate(CLI::App& app);
void register_ppl(CLI::App& app);
void register_passkey(CLI::App& app);
void register_recall(CLI::App& app);
void register_sweep(CLI::App& app);
void register_logits(CLI::App& app);
void register_demo(CLI::App& app);
void register_jobs(CLI::App& app);

// Options shared by the commands that run a model (cmd_model_options.cpp): --model, --device,
// the policy options, cache and weight formats, threads, --json, --no-progress.
struct ModelArgs {
  std::string model, device = "cpu";
  std::string policy = "adamas", thresholds = "-10,0,10", estimator = "l1";
  int budget = 256, dense_layers = 2, sink_tokens = 4, page_size = 16, code_bits = 2;
  bool per_query_head = false, no_hadamard = false;
  int calibrate_after = 0;
  std::string calibration_quantiles;
  std::string kv_dtype = "f16", weights = "auto";
  int threads = 0, prefill_chunk = 512;
  bool json = false, no_progress = false;
  // Set when any of --thresholds, --calibrate-after, --calibration-quantiles is given: the model
  // directory's adamas_defaults.json is then ignored (explicit settings are never mixed with it).
  bool code_book_given = false, no_model_defaults = false;
};
void add_model_options(CLI::App* cmd, ModelArgs& args, bool with_policy = true);
// Sets the calling thread's OpenMP thread count from --threads (0: leave it). OpenMP keeps the
// count per thread, so each `adamas jobs` worker sets its own.
void set_thread_count(const ModelArgs& args);
// Sets the thread count, opens and loads the checkpoint.
struct LoadedModel {
  Checkpoint checkpoint;
  LlamaModel model;
};
LoadedModel load_model(const ModelArgs& args);
// Opens and loads the checkpoint only (--model, --weights); the thread count is left alone.
LoadedModel load_checkpoint_model(const ModelArgs& args);
// The runtime options of the command line. With the adamas policy and none of the code-book options
// given, a checkpoint directory's adamas_defaults.json (if any) supplies the model's chosen code book:
// {"calibrate_after": N, "calibration_quantiles": [q0, q1, q2]} (docs/results.md, "thresholds").
RuntimeOptions make_runtime_options(const ModelArgs& args, int max_context);
std::unique_ptr<DecoderRuntime> make_model_runtime(const ModelArgs& args, const LlamaModel& model,
                                                   const RuntimeOptions& options);
// One-line description of the attention configuration, for reports.
std::string describe_policy(const RuntimeOptions& options);

// The evaluations that also run as lines of `adamas jobs` (ppl, passkey, recall). add_*_options
// registers the command's options on `cmd`; once `cmd` is parsed, run() evaluates a loaded model
// (read-only; one job's runtime is its own) and returns the object the command prints with --json,
// and print_text() prints that object as the command's text output.
struct EvalCommand {
  std::shared_ptr<const ModelArgs> model;  // the --model, --device, policy... options of the command
  std::function<nlohmann::json(const LoadedModel&, const ProgressFn&)> run;
  std::function<void(const nlohmann::json&)> print_text;
  std::vector<std::string> metric_keys;  // keys of run()'s result that `adamas jobs --summary` keeps
};
EvalCommand add_ppl_options(CLI::App* cmd);
EvalCommand add_passkey_options(CLI::App* cmd);
EvalCommand add_recall_options(CLI::App* cmd);
// Adds the subcommand `name`: options from `add_options`, then load, run with a progress bar, and
// print JSON (--json) or text.
void register_eval_command(CLI::App& app, const std::string& name, const std::string& description,
                           EvalCommand (*add_options)(CLI::App*));

// Parsing helpers shared by the commands (throw adamas::Error with the option name). Comma lists
// reject empty items ("a,,b", "a,") and empty lists.
std::vector<std::string> parse_name_list(const std::string& text, const std::string& option_name);
std::vector<Policy> parse_policy_list(const std::string& text);
std::vector<Estimator> parse_estimator_list(const std::string& text);  // --estimators
Thresholds parse_thresholds(const std::string& text);  // "t0,t1,t2"
std::vector<int> parse_int_list(const std::string& text, const std::string& option_name);

}  // namespace adamas::cli
