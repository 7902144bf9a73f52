// adamas recall: per layer and KV head, the true attention mass each selector's set covers and
// its top-B recall against the oracle, averaged over decode steps of a text.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "adamas/error.h"
#include "adamas/eval/recall.h"
#include "commands.h"

namespace adamas::cli {

namespace {
struct RecallArgs {
  ModelArgs model;
  RecallOptions options;
  std::string text, csv, budgets = "16,64,256", policies = "streaming,quest,adamas,oracle";
  int max_tokens = 2048;
  bool per_layer = false;
};
}  // namespace

EvalCommand add_recall_options(CLI::App* cmd) {
  auto args = std::make_shared<RecallArgs>();
  add_model_options(cmd, args->model, /*with_policy=*/false);
  cmd->add_option("--text", args->text, "text file")->required();
  cmd->add_option("--max-tokens", args->max_tokens, "tokens of the text (BOS included)")->capture_default_str();
  cmd->add_option("--budgets", args->budgets, "token budgets")->capture_default_str();
  cmd->add_option("--policies", args->policies, "selectors to score")->capture_default_str();
  cmd->add_option("--stride", args->options.stride, "score every N-th decode step")->capture_default_str();
  cmd->add_option("--prefill", args->options.prefill_tokens, "dense prefill before scoring (0: largest budget)")
      ->capture_default_str();
  cmd->add_option("--csv", args->csv, "per layer and KV head results as CSV");
  cmd->add_flag("--per-layer", args->per_layer, "print the per-layer table");
  EvalCommand command;
  command.model = std::shared_ptr<const ModelArgs>(args, &args->model);
  command.metric_keys = {"summary"};
  command.run = [args](const LoadedModel& loaded, const ProgressFn& progress) {
    RecallOptions options = args->options;
    options.budgets = parse_int_list(args->budgets, "--budgets");
    options.policies = parse_policy_list(args->policies);
    const std::vector<int32_t> tokens =
        tokenize_for_eval(*loaded.checkpoint.tokenizer, read_text_file(args->text), args->max_tokens, 2, args->text);
    RuntimeOptions runtime_options = make_runtime_options(args->model, static_cast<int>(tokens.size()));
    options.selector = runtime_options.selector;
    runtime_options.selector.policy = Policy::kFull;  // decode the exact model; selectors are only scored
    auto runtime = make_model_runtime(args->model, loaded.model, runtime_options);
    const RecallResult result = evaluate_recall(*runtime, tokens, options, progress);
    if (!args->csv.empty()) {
      std::ofstream out(args->csv);
      ADAMAS_CHECK(out, args->csv, ": cannot open for writing");
      out << "policy,budget,layer,kv_head,mass,recall,steps\n";
      for (const RecallCell& c : result.cells)
        out << policy_name(c.policy) << ',' << c.budget << ',' << c.layer << ',' << c.kv_head << ',' << c.mass << ','
            << c.recall << ',' << c.steps << '\n';
      ADAMAS_CHECK(out.good(), args->csv, ": write failed");
    }
    nlohmann::json summary = nlohmann::json::array(), cells = nlohmann::json::array();
    for (const RecallSummary& s : result.summary)
      summary.push_back({{"policy", policy_name(s.policy)}, {"budget", s.budget}, {"mass", s.mass},
                         {"recall", s.recall}, {"min_layer_mass", s.min_layer_mass}});
    for (const RecallCell& c : result.cells)
      cells.push_back({{"policy", policy_name(c.policy)}, {"budget", c.budget}, {"layer", c.layer},
                       {"kv_head", c.kv_head}, {"mass", c.mass}, {"recall", c.recall}, {"steps", c.steps}});
    return nlohmann::json{{"model", args->model.model}, {"text", args->text}, {"tokens", tokens.size()},
                          {"scored_steps", result.scored_steps}, {"summary", summary}, {"cells", cells}};
  };
  command.print_text = [args](const nlohmann::json& out) {
    std::printf("recall over %lld scored decode steps of %zu tokens (mean over layers x KV heads)\n",
                out.at("scored_steps").get<long long>(), out.at("tokens").get<size_t>());
    std::printf("%-10s %7s %10s %10s %12s\n", "policy", "budget", "mass", "recall", "worst_layer");
    for (const nlohmann::json& s : out.at("summary"))
      std::printf("%-10s %7d %10.4f %10.4f %12.4f\n", s.at("policy").get<std::string>().c_str(),
                  s.at("budget").get<int>(), s.at("mass").get<double>(), s.at("recall").get<double>(),
                  s.at("min_layer_mass").get<double>());
    if (args->per_layer) {
      std::printf("\n%-10s %7s %6s %5s %10s %10s\n", "policy", "budget", "layer", "head", "mass", "recall");
      for (const nlohmann::json& c : out.at("cells"))
        std::printf("%-10s %7d %6d %5d %10.4f %10.4f\n", c.at("policy").get<std::string>().c_str(),
                    c.at("budget").get<int>(), c.at("layer").get<int>(), c.at("kv_head").get<int>(),
                    c.at("mass").get<double>(), c.at("recall").get<double>());
    }
  };
  return command;
}

void register_recall(CLI::App& app) {
  register_eval_command(app, "recall", "Attention mass covered and oracle recall of each selector",
                        add_recall_options);
}

}  // namespace adamas::cli
