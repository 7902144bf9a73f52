// adamas ppl: perplexity by the PG19 protocol (every prediction is a decode step with the policy),
// with the cumulative curve as CSV.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "adamas/error.h"
#include "adamas/eval/perplexity.h"
#include "commands.h"
#include "progress.h"

namespace adamas::cli {

namespace {
struct PplArgs {
  ModelArgs model;
  std::string text, csv;
  int max_tokens = 4096, csv_every = 1;
};
}  // namespace

void register_ppl(CLI::App& app) {
  auto args = std::make_shared<PplArgs>();
  CLI::App* cmd = app.add_subcommand("ppl", "Perplexity of a text, every token predicted by a decode step");
  add_model_options(cmd, args->model);
  cmd->add_option("--text", args->text, "text file")->required();
  cmd->add_option("--max-tokens", args->max_tokens, "tokens of the text to use (BOS included; 0: all)")->capture_default_str();
  cmd->add_option("--csv", args->csv, "write the cumulative perplexity curve here");
  cmd->add_option("--csv-every", args->csv_every, "one CSV row every N tokens")->capture_default_str();
  cmd->callback([args] {
    LoadedModel loaded = load_model(args->model);
    const std::vector<int32_t> tokens =
        tokenize_for_eval(*loaded.checkpoint.tokenizer, read_text_file(args->text), args->max_tokens, 2, args->text);
    const RuntimeOptions options = make_runtime_options(args->model, static_cast<int>(tokens.size()));
    auto runtime = make_model_runtime(args->model, loaded.model, options);
    ProgressBar bar("ppl", !args->model.no_progress);
    const PerplexityResult result = evaluate_perplexity(*runtime, tokens, bar.callback());
    bar.finish();
    if (!args->csv.empty()) write_perplexity_csv(args->csv, result, args->csv_every);
    const DecodeTotals& d = result.decode;
    if (args->model.json) {
      nlohmann::json out = {{"model", args->model.model},
                            {"text", args->text},
                            {"device", runtime->device_name()},
                            {"policy", policy_name(options.selector.policy)},
                            {"budget", options.selector.token_budget},
                            {"dense_layers", options.dense_layers},
                            {"config", describe_policy(options)},
                            {"tokens", tokens.size()},
                            {"perplexity", result.perplexity},
                            {"nll_mean", result.nll_sum / result.predicted_tokens},
                            {"decode_tokens_per_second", d.tokens_per_second()},
                            {"kv_bytes_per_token", d.kv_bytes_per_token()},
                            {"dense_kv_bytes_per_token", d.dense_kv_bytes_per_token()}};
      if (!args->csv.empty()) out["csv"] = args->csv;
      std::cout << out.dump(2) << "\n";
      return;
    }
    std::printf("perplexity %.4f over %lld predictions (%s)\n", result.perplexity,
                static_cast<long long>(result.predicted_tokens), describe_policy(options).c_str());
    std::printf("decode %.1f tok/s on %s | KV read %.1f KiB/token vs %.1f KiB dense (%.2fx fewer bytes)\n",
                d.tokens_per_second(), runtime->device_name().c_str(), d.kv_bytes_per_token() / 1024,
                d.dense_kv_bytes_per_token() / 1024,
                d.kv_bytes_per_token() > 0 ? d.dense_kv_bytes_per_token() / d.kv_bytes_per_token() : 0.0);
    if (!args->csv.empty()) std::printf("curve: %s\n", args->csv.c_str());
  });
}

}  // namespace adamas::cli
