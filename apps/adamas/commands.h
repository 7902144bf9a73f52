// Each subcommand of the `adamas` CLI registers itself here; the CLI stays a thin layer that
// parses options, calls the library and formats results.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

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
};
void add_model_options(CLI::App* cmd, ModelArgs& args, bool with_policy = true);
// Checks --device first (cuda: not yet), sets the thread count, opens and loads the checkpoint.
struct LoadedModel {
  Checkpoint checkpoint;
  LlamaModel model;
};
LoadedModel load_model(const ModelArgs& args);
RuntimeOptions make_runtime_options(const ModelArgs& args, int max_context);
std::unique_ptr<DecoderRuntime> make_model_runtime(const ModelArgs& args, const LlamaModel& model,
                                                   const RuntimeOptions& options);
// One-line description of the attention configuration, for reports.
std::string describe_policy(const RuntimeOptions& options);

// Parsing helpers shared by the commands (throw adamas::Error with the option name).
std::vector<Policy> parse_policy_list(const std::string& text);
Thresholds parse_thresholds(const std::string& text);  // "t0,t1,t2"
std::vector<int> parse_int_list(const std::string& text, const std::string& option_name);

}  // namespace adamas::cli
