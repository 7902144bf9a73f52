// adamas passkey: retrieval of a 5-digit key hidden at chosen depths of a long filler text, the
// answer greedy-decoded with the policy; accuracy per depth.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "adamas/error.h"
#include "adamas/eval/passkey.h"
#include "commands.h"
#include "progress.h"

namespace adamas::cli {

namespace {
struct PasskeyArgs {
  ModelArgs model;
  PasskeyOptions options;
  std::string depths = "0,25,50,75,100", filler;
  bool verbose = false;
};
}  // namespace

std::vector<double> parse_depth_percents(const std::string& text) {
  std::vector<double> depths;
  for (const int percent : parse_int_list(text, "--depths")) {
    ADAMAS_CHECK(percent >= 0 && percent <= 100, "--depths: ", percent, " is not a percentage in [0, 100]");
    depths.push_back(percent / 100.0);
  }
  return depths;
}

std::string resolve_filler(const std::string& filler, const std::string& model_path) {
  if (!filler.empty()) return load_filler_text(filler);
  const std::string path = find_default_filler(model_path);
  ADAMAS_CHECK(!path.empty(), "passkey: no --filler given and the bundled data/heldout/austen_persuasion.txt was not "
                              "found next to the model or in the working directory");
  return load_filler_text(path);
}

void register_passkey(CLI::App& app) {
  auto args = std::make_shared<PasskeyArgs>();
  CLI::App* cmd = app.add_subcommand("passkey", "Passkey retrieval accuracy per depth with the chosen policy");
  add_model_options(cmd, args->model);
  cmd->add_option("--length", args->options.length, "prompt length in tokens")->capture_default_str();
  cmd->add_option("--depths", args->depths, "needle depths in percent")->capture_default_str();
  cmd->add_option("--trials", args->options.trials, "trials per depth")->capture_default_str();
  cmd->add_option("--filler", args->filler, "filler text file (default: the bundled held-out book)");
  cmd->add_option("--max-new", args->options.max_new_tokens, "answer tokens decoded")->capture_default_str();
  cmd->add_option("--seed", args->options.seed, "keys and filler offsets")->capture_default_str();
  cmd->add_flag("--verbose", args->verbose, "print every trial's answer");
  cmd->callback([args] {
    PasskeyOptions options = args->options;
    options.depths = parse_depth_percents(args->depths);
    const std::string filler = resolve_filler(args->filler, args->model.model);
    LoadedModel loaded = load_model(args->model);
    const RuntimeOptions runtime_options = make_runtime_options(args->model, options.length + options.max_new_tokens);
    auto runtime = make_model_runtime(args->model, loaded.model, runtime_options);
    ProgressBar bar("passkey", !args->model.no_progress);
    const PasskeyResult result = run_passkey(*runtime, *loaded.checkpoint.tokenizer, filler, options, bar.callback());
    bar.finish();
    if (args->model.json) {
      nlohmann::json by_depth = nlohmann::json::object(), trials = nlohmann::json::array();
      for (size_t i = 0; i < result.depths.size(); ++i)
        by_depth[std::to_string(static_cast<int>(result.depths[i] * 100 + 0.5))] = result.accuracy_by_depth[i];
      for (const PasskeyTrial& t : result.trials)
        trials.push_back({{"depth", t.depth}, {"key", t.key}, {"answer", t.answer}, {"correct", t.correct},
                          {"prompt_tokens", t.prompt_tokens}});
      std::cout << nlohmann::json{{"model", args->model.model},
                                  {"device", runtime->device_name()},
                                  {"policy", policy_name(runtime_options.selector.policy)},
                                  {"budget", runtime_options.selector.token_budget},
                                  {"config", describe_policy(runtime_options)},
                                  {"length", options.length},
                                  {"trials_per_depth", options.trials},
                                  {"accuracy", result.accuracy},
                                  {"accuracy_by_depth", by_depth},
                                  {"kv_bytes_per_token", result.decode.kv_bytes_per_token()},
                                  {"dense_kv_bytes_per_token", result.decode.dense_kv_bytes_per_token()},
                                  {"trials", trials}}
                       .dump(2)
                << "\n";
      return;
    }
    if (args->verbose)
      for (const PasskeyTrial& t : result.trials)
        std::printf("depth %3.0f%% key %s -> '%s' %s\n", t.depth * 100, t.key.c_str(), t.answer.c_str(),
                    t.correct ? "ok" : "WRONG");
    std::printf("passkey, %d tokens, %s\n", options.length, describe_policy(runtime_options).c_str());
    for (size_t i = 0; i < result.depths.size(); ++i)
      std::printf("  depth %3.0f%%: %5.1f%%\n", result.depths[i] * 100, result.accuracy_by_depth[i] * 100);
    std::printf("  overall   : %5.1f%% of %zu trials | KV read %.1f KiB/token vs %.1f KiB dense\n",
                result.accuracy * 100, result.trials.size(), result.decode.kv_bytes_per_token() / 1024,
                result.decode.dense_kv_bytes_per_token() / 1024);
  });
}

}  // namespace adamas::cli
