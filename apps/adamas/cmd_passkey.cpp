// adamas passkey: retrieval of a 5-digit key hidden at chosen depths of a long filler text, the
// answer greedy-decoded with the policy; accuracy per depth.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "adamas/error.h"
#include "adamas/eval/passkey.h"
#include "commands.h"

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

EvalCommand add_passkey_options(CLI::App* cmd) {
  auto args = std::make_shared<PasskeyArgs>();
  add_model_options(cmd, args->model);
  cmd->add_option("--length", args->options.length, "prompt length in tokens")->capture_default_str();
  cmd->add_option("--depths", args->depths, "needle depths in percent")->capture_default_str();
  cmd->add_option("--trials", args->options.trials, "trials per depth")->capture_default_str();
  cmd->add_option("--filler", args->filler, "filler text file (default: the bundled held-out book)");
  cmd->add_option("--max-new", args->options.max_new_tokens, "answer tokens decoded")->capture_default_str();
  cmd->add_option("--seed", args->options.seed, "keys and filler offsets")->capture_default_str();
  cmd->add_flag("--verbose", args->verbose, "print every trial's answer");
  EvalCommand command;
  command.model = std::shared_ptr<const ModelArgs>(args, &args->model);
  command.metric_keys = {"accuracy", "accuracy_by_depth", "kv_bytes_per_token"};
  command.run = [args](const LoadedModel& loaded, const ProgressFn& progress) {
    PasskeyOptions options = args->options;
    options.depths = parse_depth_percents(args->depths);
    const std::string filler = resolve_filler(args->filler, args->model.model);
    const RuntimeOptions runtime_options = make_runtime_options(args->model, options.length + options.max_new_tokens);
    auto runtime = make_model_runtime(args->model, loaded.model, runtime_options);
    const PasskeyResult result = run_passkey(*runtime, *loaded.checkpoint.tokenizer, filler, options, progress);
    nlohmann::json by_depth = nlohmann::json::object(), trials = nlohmann::json::array();
    for (size_t i = 0; i < result.depths.size(); ++i)
      by_depth[std::to_string(static_cast<int>(result.depths[i] * 100 + 0.5))] = result.accuracy_by_depth[i];
    for (const PasskeyTrial& t : result.trials)
      trials.push_back({{"depth", t.depth}, {"key", t.key}, {"answer", t.answer}, {"correct", t.correct},
                        {"prompt_tokens", t.prompt_tokens}});
    return nlohmann::json{{"model", args->model.model},
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
                          {"trials", trials}};
  };
  command.print_text = [args](const nlohmann::json& out) {
    if (args->verbose)
      for (const nlohmann::json& t : out.at("trials"))
        std::printf("depth %3.0f%% key %s -> '%s' %s\n", t.at("depth").get<double>() * 100,
                    t.at("key").get<std::string>().c_str(), t.at("answer").get<std::string>().c_str(),
                    t.at("correct").get<bool>() ? "ok" : "WRONG");
    std::printf("passkey, %d tokens, %s\n", out.at("length").get<int>(), out.at("config").get<std::string>().c_str());
    // The depth keys are percent strings: print them in numeric order, as given.
    std::vector<std::pair<int, double>> by_depth;
    for (const auto& [depth, accuracy] : out.at("accuracy_by_depth").items())
      by_depth.emplace_back(std::stoi(depth), accuracy.get<double>());
    std::sort(by_depth.begin(), by_depth.end());
    for (const auto& [depth, accuracy] : by_depth) std::printf("  depth %3d%%: %5.1f%%\n", depth, accuracy * 100);
    std::printf("  overall   : %5.1f%% of %zu trials | KV read %.1f KiB/token vs %.1f KiB dense\n",
                out.at("accuracy").get<double>() * 100, out.at("trials").size(),
                out.at("kv_bytes_per_token").get<double>() / 1024, out.at("dense_kv_bytes_per_token").get<double>() / 1024);
  };
  return command;
}

void register_passkey(CLI::App& app) {
  register_eval_command(app, "passkey", "Passkey retrieval accuracy per depth with the chosen policy",
                        add_passkey_options);
}

}  // namespace adamas::cli
