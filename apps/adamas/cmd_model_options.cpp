// Options shared by every command that runs a model, and turning them into a loaded model and a
// runtime.
#include <omp.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "adamas/error.h"
#include "commands.h"
#include "progress.h"

namespace adamas::cli {

void add_model_options(CLI::App* cmd, ModelArgs& a, bool with_policy) {
  cmd->add_option("--model", a.model, "Hugging Face checkpoint directory or .gguf file")->required();
  cmd->add_option("--device", a.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  if (with_policy) {
    cmd->add_option("--policy", a.policy, "decode attention: full, streaming, quest, adamas, oracle")->capture_default_str();
    cmd->add_option("--budget", a.budget, "token budget B (the current token included)")->capture_default_str();
  }
  cmd->add_option("--dense-layers", a.dense_layers, "leading layers that always attend densely")->capture_default_str();
  cmd->add_option("--sink-tokens", a.sink_tokens, "streaming: sink tokens kept")->capture_default_str();
  cmd->add_option("--page-size", a.page_size, "cache page size (Quest's page)")->capture_default_str();
  const auto code_book_given = [&a](const std::string&) { a.code_book_given = true; };
  cmd->add_option("--thresholds", a.thresholds, "Adamas code thresholds t0,t1,t2")->capture_default_str()->each(code_book_given);
  cmd->add_option("--estimator", a.estimator, "Adamas distance: l1, l2, hamming, asymmetric")->capture_default_str();
  cmd->add_option("--code-bits", a.code_bits, "key-code bits per coordinate (1..3)")->capture_default_str();
  cmd->add_option("--calibrate-after", a.calibrate_after,
                  "fit the code thresholds to the model's keys once this many tokens are cached (0: off)")
      ->capture_default_str()
      ->each(code_book_given);
  cmd->add_option("--calibration-quantiles", a.calibration_quantiles,
                  "quantiles of the rotated keys for the thresholds (default: equal mass)")
      ->each(code_book_given);
  cmd->add_flag("--no-model-defaults", a.no_model_defaults,
                "ignore the model directory's adamas_defaults.json (its chosen code book)");
  cmd->add_flag("--no-hadamard", a.no_hadamard, "code keys without the Hadamard rotation (ablation)");
  cmd->add_flag("--per-query-head", a.per_query_head, "one selection per query head instead of per KV head");
  cmd->add_option("--kv-dtype", a.kv_dtype, "cache element type: f16, bf16, f32")->capture_default_str();
  cmd->add_option("--weights", a.weights, "weights in memory: auto, f32, bf16")->capture_default_str();
  cmd->add_option("--prefill-chunk", a.prefill_chunk, "tokens per dense prefill chunk")->capture_default_str();
  cmd->add_option("--threads", a.threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->add_flag("--json", a.json, "print JSON instead of text");
  cmd->add_flag("--no-progress", a.no_progress, "no progress bar on stderr");
}

void set_thread_count(const ModelArgs& args) {
  ADAMAS_CHECK(args.threads >= 0, "--threads must be >= 0, got ", args.threads);
  if (args.threads > 0) {
    omp_set_num_threads(args.threads);
  }
}

LoadedModel load_model(const ModelArgs& args) {
  set_thread_count(args);
  return load_checkpoint_model(args);
}

LoadedModel load_checkpoint_model(const ModelArgs& args) {
  LoadedModel loaded{open_checkpoint(args.model), LlamaModel{}};
  LoadOptions options;
  options.precision = parse_weight_precision(args.weights);
  loaded.model = LlamaModel::load(loaded.checkpoint, options);
  return loaded;
}

void register_eval_command(CLI::App& app, const std::string& name, const std::string& description,
                           EvalCommand (*add_options)(CLI::App*)) {
  CLI::App* cmd = app.add_subcommand(name, description);
  const EvalCommand command = add_options(cmd);
  cmd->callback([command, name] {
    const LoadedModel loaded = load_model(*command.model);
    ProgressBar bar(name, !command.model->no_progress);
    const nlohmann::json result = command.run(loaded, bar.callback());
    bar.finish();
    if (command.model->json) {
      std::cout << result.dump(2) << "\n";
    } else {
      command.print_text(result);
    }
  });
}

namespace {

std::vector<double> parse_quantiles(const std::string& list) {
  std::vector<double> quantiles;
  std::stringstream stream(list);
  std::string part;
  while (std::getline(stream, part, ',')) {
    try {
      quantiles.push_back(std::stod(part));
    } catch (...) {
      throw Error("--calibration-quantiles: '" + part + "' is not a number");
    }
  }
  return quantiles;
}

// The model directory's adamas_defaults.json onto `options` (see commands.h). Malformed files are
// errors, not silently ignored: the file changes what "adamas" means for this model.
void apply_model_defaults(const ModelArgs& args, RuntimeOptions& options) {
  if (args.code_book_given || args.no_model_defaults || options.selector.policy != Policy::kAdamas) return;
  const std::filesystem::path path = std::filesystem::path(args.model) / "adamas_defaults.json";
  if (!std::filesystem::is_directory(args.model) || !std::filesystem::exists(path)) return;
  nlohmann::json defaults;
  try {
    defaults = nlohmann::json::parse(std::ifstream(path));
    ADAMAS_CHECK(defaults.is_object(), "not a JSON object");
    for (const auto& [key, value] : defaults.items()) {
      if (key == "calibrate_after") {
        ADAMAS_CHECK(value.is_number_integer() && value.get<int>() >= 0, "calibrate_after must be an integer >= 0");
        options.calibrate_after_tokens = value.get<int>();
      } else if (key == "calibration_quantiles") {
        ADAMAS_CHECK(value.is_array() && !value.empty(), "calibration_quantiles must be a non-empty array");
        options.calibration_quantiles.clear();
        for (const auto& q : value) {
          ADAMAS_CHECK(q.is_number(), "calibration_quantiles must hold numbers");
          options.calibration_quantiles.push_back(q.get<double>());
        }
      } else {
        ADAMAS_CHECK(key == "why", "unknown key '", key, "' (known: calibrate_after, calibration_quantiles, why)");
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": " + e.what());
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
}

}  // namespace

RuntimeOptions make_runtime_options(const ModelArgs& args, int max_context) {
  RuntimeOptions options;
  options.selector.policy = parse_policy(args.policy);
  options.selector.token_budget = args.budget;
  options.selector.sink_tokens = args.sink_tokens;
  options.selector.per_query_head = args.per_query_head;
  options.selector.thresholds = parse_thresholds(args.thresholds);
  options.selector.estimator = parse_estimator(args.estimator);
  options.dense_layers = args.dense_layers;
  options.page_size = args.page_size;
  options.kv_dtype = parse_dtype(args.kv_dtype);
  options.max_context = max_context;
  options.prefill_chunk = args.prefill_chunk;
  options.code_bits = args.code_bits;
  options.code_hadamard = !args.no_hadamard;
  options.calibrate_after_tokens = args.calibrate_after;
  if (!args.calibration_quantiles.empty()) options.calibration_quantiles = parse_quantiles(args.calibration_quantiles);
  apply_model_defaults(args, options);
  return options;
}

std::unique_ptr<DecoderRuntime> make_model_runtime(const ModelArgs& args, const LlamaModel& model,
                                                   const RuntimeOptions& options) {
  return make_runtime(args.device, model, options);
}

std::string describe_policy(const RuntimeOptions& o) {
  std::ostringstream out;
  out << policy_name(o.selector.policy);
  if (o.selector.policy != Policy::kFull) {
    out << " budget " << o.selector.token_budget << ", dense layers " << o.dense_layers;
    if (o.selector.policy == Policy::kStreaming) out << ", sinks " << o.selector.sink_tokens;
    if (o.selector.policy == Policy::kQuest) out << ", page " << o.page_size;
    if (o.selector.policy == Policy::kAdamas)
      out << ", thresholds " << o.selector.thresholds.t0 << "," << o.selector.thresholds.t1 << ","
          << o.selector.thresholds.t2 << ", " << estimator_name(o.selector.estimator);
    if (o.selector.policy == Policy::kAdamas && o.calibrate_after_tokens > 0)
      out << ", calibrated after " << o.calibrate_after_tokens << " tokens";
    if (o.selector.per_query_head) out << ", per query head";
  }
  out << ", kv " << dtype_name(o.kv_dtype);
  return out.str();
}

}  // namespace adamas::cli
