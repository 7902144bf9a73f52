// adamas logits: next-token logits of every position of a text as .npy (with the token ids), for
// parity checks against Hugging Face transformers (scripts/hf_parity.py).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "adamas/error.h"
#include "adamas/eval/eval_common.h"
#include "adamas/eval/logits_dump.h"
#include "commands.h"

namespace adamas::cli {

namespace {
struct LogitsArgs {
  ModelArgs model;
  std::string text, prompt, out, tokens_out, mode = "prefill";
  int max_tokens = 2048;
};
}  // namespace

void register_logits(CLI::App& app) {
  auto args = std::make_shared<LogitsArgs>();
  CLI::App* cmd = app.add_subcommand("logits", "Dump next-token logits of every position (.npy)");
  add_model_options(cmd, args->model);
  auto* text = cmd->add_option("--text", args->text, "text file");
  cmd->add_option("--prompt", args->prompt, "text")->excludes(text);
  cmd->add_option("--max-tokens", args->max_tokens, "tokens (BOS included; 0: all)")->capture_default_str();
  cmd->add_option("--out", args->out, "logits [tokens][vocab] float32 .npy")->required();
  cmd->add_option("--tokens-out", args->tokens_out, "token ids [tokens] int32 .npy");
  cmd->add_option("--mode", args->mode, "prefill (dense, chunked) or decode (one step per token, the policy)")
      ->check(CLI::IsMember({"prefill", "decode"}))
      ->capture_default_str();
  cmd->callback([args] {
    ADAMAS_CHECK(!args->text.empty() || !args->prompt.empty(), "logits: give --text or --prompt");
    LoadedModel loaded = load_model(args->model);
    const std::string source = args->text.empty() ? "--prompt" : args->text;
    const std::string content = args->text.empty() ? args->prompt : read_text_file(args->text);
    const std::vector<int32_t> tokens =
        tokenize_for_eval(*loaded.checkpoint.tokenizer, content, args->max_tokens, 1, source);
    const RuntimeOptions options = make_runtime_options(args->model, static_cast<int>(tokens.size()));
    auto runtime = make_model_runtime(args->model, loaded.model, options);
    const std::vector<float> logits = compute_logits(*runtime, tokens, args->mode);
    const int64_t n = static_cast<int64_t>(tokens.size()), vocab = loaded.model.config().vocab_size;
    write_npy_f32(args->out, {n, vocab}, logits.data());
    if (!args->tokens_out.empty()) write_npy_i32(args->tokens_out, {n}, tokens.data());
    if (args->model.json) {
      std::cout << nlohmann::json{{"tokens", n}, {"vocab", vocab}, {"mode", args->mode}, {"out", args->out}}.dump(2)
                << "\n";
    } else {
      std::printf("wrote logits [%lld, %lld] (%s) to %s\n", static_cast<long long>(n), static_cast<long long>(vocab),
                  args->mode.c_str(), args->out.c_str());
    }
  });
}

}  // namespace adamas::cli
