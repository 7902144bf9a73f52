// adamas generate: dense prefill of a prompt, then decode steps with the chosen policy; the
// text streams to stdout, speeds go to stderr (or everything into one JSON object).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "adamas/error.h"
#include "adamas/eval/generate.h"
#include "commands.h"

namespace adamas::cli {

namespace {
struct GenerateArgs {
  ModelArgs model;
  GenerateOptions options;
  std::string prompt, prompt_file;
  int max_context = 0;
};
}  // namespace

void register_generate(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt with the chosen attention policy");
  add_model_options(cmd, args->model);
  auto* prompt = cmd->add_option("--prompt", args->prompt, "prompt text");
  auto* prompt_file = cmd->add_option("--prompt-file", args->prompt_file, "file holding the prompt");
  prompt->excludes(prompt_file);
  cmd->add_option("--max-new", args->options.max_new_tokens, "tokens to generate")->capture_default_str();
  cmd->add_option("--temperature", args->options.temperature, "0: greedy")->capture_default_str();
  cmd->add_option("--top-k", args->options.top_k, "sample among the k most likely (0: all)")->capture_default_str();
  cmd->add_option("--seed", args->options.seed, "sampling seed")->capture_default_str();
  cmd->add_option("--max-context", args->max_context, "cache capacity (0: prompt + max-new)")->capture_default_str();
  cmd->callback([args] {
    ADAMAS_CHECK(!args->prompt.empty() || !args->prompt_file.empty(), "generate: give --prompt or --prompt-file");
    const std::string prompt_text = args->prompt_file.empty() ? args->prompt : read_text_file(args->prompt_file);
    LoadedModel loaded = load_model(args->model);
    const Tokenizer& tokenizer = *loaded.checkpoint.tokenizer;
    const int prompt_tokens = static_cast<int>(tokenizer.encode(prompt_text, true).size());
    const int max_context =
        args->max_context > 0 ? args->max_context : prompt_tokens + std::max(0, args->options.max_new_tokens);
    const RuntimeOptions options = make_runtime_options(args->model, std::max(1, max_context));
    auto runtime = make_model_runtime(args->model, loaded.model, options);
    const bool stream = !args->model.json;
    const GenerateResult result = generate_text(*runtime, tokenizer, prompt_text, args->options, [&](const std::string& piece) {
      if (stream) {
        std::fputs(piece.c_str(), stdout);
        std::fflush(stdout);
      }
    });
    const DecodeTotals& d = result.decode;
    if (args->model.json) {
      nlohmann::json out = {{"model", args->model.model},
                            {"device", runtime->device_name()},
                            {"policy", describe_policy(options)},
                            {"prompt_tokens", result.prompt_tokens.size()},
                            {"generated_tokens", result.generated.size()},
                            {"text", result.text},
                            {"prefill_seconds", result.prefill_seconds},
                            {"prefill_tokens_per_second", result.prefill_tokens_per_second},
                            {"decode_steps", d.steps},
                            {"decode_tokens_per_second", d.tokens_per_second()},
                            {"kv_bytes_per_token", d.kv_bytes_per_token()},
                            {"dense_kv_bytes_per_token", d.dense_kv_bytes_per_token()}};
      std::cout << out.dump(2) << "\n";
      return;
    }
    std::printf("\n");
    std::fprintf(stderr, "[%s | %s] prefill %zu tokens: %.1f tok/s | decode %lld steps: %.1f tok/s",
                 runtime->device_name().c_str(), describe_policy(options).c_str(), result.prompt_tokens.size(),
                 result.prefill_tokens_per_second, static_cast<long long>(d.steps), d.tokens_per_second());
    if (d.steps > 0)
      std::fprintf(stderr, " | KV read %.1f KiB/token (dense %.1f KiB)", d.kv_bytes_per_token() / 1024,
                   d.dense_kv_bytes_per_token() / 1024);
    std::fprintf(stderr, "\n");
  });
}

}  // namespace adamas::cli
