// adamas sweep: a task (ppl or passkey) over policies x budgets; CSV and an SVG plot.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "adamas/error.h"
#include "adamas/eval/perplexity.h"
#include "adamas/eval/sweep.h"
#include "commands.h"
#include "progress.h"

namespace adamas::cli {

std::vector<double> parse_depth_percents(const std::string& text);  // cmd_passkey.cpp
std::string resolve_filler(const std::string& filler, const std::string& model_path);

namespace {
struct SweepArgs {
  ModelArgs model;
  std::string task = "ppl", policies = "all", budgets = "64,128,256,512", csv, svg, title;
  std::string text, filler, depths = "0,25,50,75,100";
  int max_tokens = 4096;
  PasskeyOptions passkey;
};
}  // namespace

void register_sweep(CLI::App& app) {
  auto args = std::make_shared<SweepArgs>();
  CLI::App* cmd = app.add_subcommand("sweep", "Run ppl or passkey over policies x budgets; write CSV and SVG");
  add_model_options(cmd, args->model, /*with_policy=*/false);
  cmd->add_option("--task", args->task, "ppl or passkey")->capture_default_str();
  cmd->add_option("--policies", args->policies, "comma list or 'all'")->capture_default_str();
  cmd->add_option("--budgets", args->budgets, "token budgets")->capture_default_str();
  cmd->add_option("--csv", args->csv, "results CSV")->required();
  cmd->add_option("--svg", args->svg, "plot (default: the CSV path with .svg)");
  cmd->add_option("--title", args->title, "plot title");
  cmd->add_option("--text", args->text, "ppl: text file");
  cmd->add_option("--max-tokens", args->max_tokens, "ppl: tokens of the text")->capture_default_str();
  cmd->add_option("--length", args->passkey.length, "passkey: prompt tokens")->capture_default_str();
  cmd->add_option("--depths", args->depths, "passkey: depths in percent")->capture_default_str();
  cmd->add_option("--trials", args->passkey.trials, "passkey: trials per depth")->capture_default_str();
  cmd->add_option("--filler", args->filler, "passkey: filler text file");
  cmd->add_option("--seed", args->passkey.seed, "passkey: seed")->capture_default_str();
  cmd->callback([args] {
    SweepOptions options;
    options.task = parse_sweep_task(args->task);
    options.policies = parse_policy_list(args->policies);
    options.budgets = parse_int_list(args->budgets, "--budgets");
    LoadedModel loaded = load_model(args->model);
    const Tokenizer& tokenizer = *loaded.checkpoint.tokenizer;
    int max_context = 0;
    if (options.task == SweepTask::kPerplexity) {
      ADAMAS_CHECK(!args->text.empty(), "sweep --task ppl needs --text");
      options.ppl_tokens = tokenize_for_eval(tokenizer, read_text_file(args->text), args->max_tokens, 2, args->text);
      max_context = static_cast<int>(options.ppl_tokens.size());
    } else {
      options.passkey = args->passkey;
      options.passkey.depths = parse_depth_percents(args->depths);
      options.passkey_filler = resolve_filler(args->filler, args->model.model);
      max_context = options.passkey.length + options.passkey.max_new_tokens;
    }
    options.runtime = make_runtime_options(args->model, max_context);
    ProgressBar bar("sweep", !args->model.no_progress);
    const ModelArgs& model_args = args->model;
    const LlamaModel& model = loaded.model;
    const std::vector<SweepRow> rows = run_sweep(
        options, [&](const RuntimeOptions& o) { return make_model_runtime(model_args, model, o); }, &tokenizer,
        bar.callback());
    bar.finish();
    write_sweep_csv(args->csv, options.task, rows);
    std::string svg = args->svg;
    if (svg.empty()) svg = (args->csv.size() > 4 && args->csv.substr(args->csv.size() - 4) == ".csv"
                                ? args->csv.substr(0, args->csv.size() - 4)
                                : args->csv) + ".svg";
    std::string title = args->title;
    if (title.empty())
      title = options.task == SweepTask::kPerplexity
                  ? "Perplexity, " + std::to_string(options.ppl_tokens.size()) + " tokens decoded"
                  : "Passkey accuracy, " + std::to_string(options.passkey.length) + " tokens";
    write_line_plot_svg(svg, sweep_plot(options.task, rows, title));
    if (args->model.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const SweepRow& r : rows)
        out.push_back({{"policy", policy_name(r.policy)}, {"budget", r.budget}, {"metric", r.metric},
                       {"kv_bytes_per_token", r.kv_bytes_per_token},
                       {"dense_kv_bytes_per_token", r.dense_kv_bytes_per_token},
                       {"decode_tokens_per_second", r.decode_tokens_per_second}});
      std::cout << nlohmann::json{{"task", sweep_task_name(options.task)}, {"csv", args->csv}, {"svg", svg}, {"rows", out}}
                       .dump(2)
                << "\n";
      return;
    }
    std::printf("%-10s %7s %12s %14s %10s\n", "policy", "budget",
                options.task == SweepTask::kPerplexity ? "perplexity" : "accuracy", "KiB_read/tok", "tok/s");
    for (const SweepRow& r : rows)
      std::printf("%-10s %7d %12.4f %14.1f %10.1f\n", policy_name(r.policy).c_str(), r.budget, r.metric,
                  r.kv_bytes_per_token / 1024, r.decode_tokens_per_second);
    std::printf("wrote %s and %s\n", args->csv.c_str(), svg.c_str());
  });
}

}  // namespace adamas::cli
