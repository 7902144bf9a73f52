// adamas ppl: perplexity by the PG19 protocol (every prediction is a decode step with the policy),
// with the cumulative curve as CSV.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "adamas/error.h"
#include "adamas/eval/perplexity.h"
#include "commands.h"

namespace adamas::cli {

namespace {
struct PplArgs {
  ModelArgs model;
  std::string text, csv;
  int max_tokens = 4096, csv_every = 1;
};
}  // namespace

EvalCommand add_ppl_options(CLI::App* cmd) {
  auto args = std::make_shared<PplArgs>();
  add_model_options(cmd, args->model);
  cmd->add_option("--text", args->text, "text file")->required();
  cmd->add_option("--max-tokens", args->max_tokens, "tokens of the text to use (BOS included; 0: all)")->capture_default_str();
  cmd->add_option("--csv", args->csv, "write the cumulative perplexity curve here");
  cmd->add_option("--csv-every", args->csv_every, "one CSV row every N tokens")->capture_default_str();
  EvalCommand command;
  command.model = std::shared_ptr<const ModelArgs>(args, &args->model);
  command.metric_keys = {"perplexity", "nll_mean", "kv_bytes_per_token"};
  command.run = [args](const LoadedModel& loaded, const ProgressFn& progress) {
    const std::vector<int32_t> tokens =
        tokenize_for_eval(*loaded.checkpoint.tokenizer, read_text_file(args->text), args->max_tokens, 2, args->text);
    const RuntimeOptions options = make_runtime_options(args->model, static_cast<int>(tokens.size()));
    auto runtime = make_model_runtime(args->model, loaded.model, options);
    const PerplexityResult result = evaluate_perplexity(*runtime, tokens, progress);
    if (!args->csv.empty()) write_perplexity_csv(args->csv, result, args->csv_every);
    const DecodeTotals& d = result.decode;
    nlohmann::json out = {{"model", args->model.model},
                          {"text", args->text},
                          {"device", runtime->device_name()},
                          {"policy", policy_name(options.selector.policy)},
                          {"budget", options.selector.token_budget},
                          {"dense_layers", options.dense_layers},
                          {"config", describe_policy(options)},
                          {"tokens", tokens.size()},
                          {"predicted_tokens", result.predicted_tokens},
                          {"perplexity", result.perplexity},
                          {"nll_mean", result.nll_sum / result.predicted_tokens},
                          {"decode_tokens_per_second", d.tokens_per_second()},
                          {"kv_bytes_per_token", d.kv_bytes_per_token()},
                          {"dense_kv_bytes_per_token", d.dense_kv_bytes_per_token()}};
    if (!args->csv.empty()) out["csv"] = args->csv;
    return out;
  };
  command.print_text = [](const nlohmann::json& out) {
    const double kv = out.at("kv_bytes_per_token"), dense_kv = out.at("dense_kv_bytes_per_token");
    std::printf("perplexity %.4f over %lld predictions (%s)\n", out.at("perplexity").get<double>(),
                out.at("predicted_tokens").get<long long>(), out.at("config").get<std::string>().c_str());
    std::printf("decode %.1f tok/s on %s | KV read %.1f KiB/token vs %.1f KiB dense (%.2fx fewer bytes)\n",
                out.at("decode_tokens_per_second").get<double>(), out.at("device").get<std::string>().c_str(),
                kv / 1024, dense_kv / 1024, kv > 0 ? dense_kv / kv : 0.0);
    if (out.contains("csv")) std::printf("curve: %s\n", out.at("csv").get<std::string>().c_str());
  };
  return command;
}

void register_ppl(CLI::App& app) {
  register_eval_command(app, "ppl", "Perplexity of a text, every token predicted by a decode step", add_ppl_options);
}

}  // namespace adamas::cli
