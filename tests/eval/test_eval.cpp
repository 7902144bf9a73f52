// The evaluations on a tiny random model written by the test: perplexity against the naive
// reference (and through the `adamas ppl` CLI end to end), passkey prompts in the training
// format, recall invariants, generation, sweeps, and the SVG / .npy writers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "adamas/error.h"
#include "adamas/eval/generate.h"
#include "adamas/eval/logits_dump.h"
#include "adamas/eval/passkey.h"
#include "adamas/eval/perplexity.h"
#include "adamas/eval/recall.h"
#include "adamas/eval/svg_plot.h"
#include "adamas/eval/sweep.h"
#include "adamas/model/checkpoint.h"
#include "adamas/model/llama_model.h"
#include "eval/tiny_llama.h"

namespace adamas::test {
namespace {

std::string corpus_text(int repeats) {
  std::string text;
  for (int r = 0; r < repeats; ++r)
    for (const char* line : kTokenizerCorpus) text += std::string(line) + " ";
  return text;
}

RuntimeOptions exact_options(int max_context) {
  RuntimeOptions options;
  options.selector.policy = Policy::kFull;
  options.kv_dtype = DType::kF32;
  options.page_size = 4;
  options.max_context = max_context;
  options.selector.thresholds = {-0.5f, 0.0f, 0.5f};
  return options;
}

struct TinyFixture {
  TinyLlamaSpec spec;
  TempDir dir;
  TensorMap tensors;
  Checkpoint checkpoint;
  LlamaModel model;
  TinyFixture() {
    tensors = write_tiny_llama(dir.path(), spec, /*with_tokenizer=*/true);
    checkpoint = open_checkpoint(dir.path().string());
    LoadOptions options;
    options.precision = WeightPrecision::kF32;
    model = LlamaModel::load(checkpoint, options);
  }
};

TEST(Perplexity, MatchesReferenceAndWritesCurve) {
  TinyFixture f;
  const std::vector<int32_t> tokens = tokenize_for_eval(*f.checkpoint.tokenizer, corpus_text(2), 60, 2, "corpus");
  ASSERT_EQ(tokens.size(), 60u);
  auto runtime = make_cpu_runtime(f.model, exact_options(64));
  int64_t last_progress = 0;
  const PerplexityResult result = evaluate_perplexity(*runtime, tokens, [&](int64_t done, int64_t total) {
    EXPECT_EQ(total, 59);
    last_progress = done;
  });
  EXPECT_EQ(last_progress, 59);
  const auto logits = reference_logits(f.spec, f.tensors, tokens);
  double nll = 0;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    double max_logit = -1e300, total = 0;
    for (double v : logits[i]) max_logit = std::max(max_logit, v);
    for (double v : logits[i]) total += std::exp(v - max_logit);
    nll += std::log(total) + max_logit - logits[i][tokens[i + 1]];
  }
  const double expected = std::exp(nll / 59);
  EXPECT_NEAR(result.perplexity, expected, 1e-4 * expected);
  EXPECT_EQ(result.predicted_tokens, 59);
  ASSERT_EQ(result.cumulative_perplexity.size(), 59u);
  EXPECT_EQ(result.decode.steps, 59);
  EXPECT_GT(result.decode.kv_bytes, 0);

  const std::string csv = f.dir.file("curve.csv");
  write_perplexity_csv(csv, result, 10);
  std::ifstream in(csv);
  std::string line, last;
  int lines = 0;
  while (std::getline(in, line)) last = line, ++lines;
  EXPECT_EQ(lines, 1 + 5 + 1);  // header, rows 10..50, the last (59)
  EXPECT_EQ(last.rfind("59,", 0), 0u);

  EXPECT_THROW(evaluate_perplexity(*runtime, {1}), Error);
  auto small = make_cpu_runtime(f.model, exact_options(8));
  EXPECT_THROW(evaluate_perplexity(*small, tokens), Error);
}

// Runs the `adamas ppl` CLI (built next to the test binary) and checks its JSON against the library.
TEST(Perplexity, CommandLineEndToEnd) {
  std::error_code error;
  const std::filesystem::path cli = std::filesystem::read_symlink("/proc/self/exe", error).parent_path() / "adamas";
  if (error || !std::filesystem::exists(cli)) GTEST_SKIP() << "adamas CLI not built next to the tests";
  TinyFixture f;
  const std::string text = f.dir.file("text.txt"), csv = f.dir.file("ppl.csv"), json = f.dir.file("out.json");
  write_text(text, corpus_text(2));
  const std::string command = cli.string() + " ppl --model " + f.dir.path().string() + " --text " + text +
                              " --max-tokens 40 --policy full --kv-dtype f32 --weights f32 --threads 1 --json --csv " +
                              csv + " > " + json + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const nlohmann::json out = nlohmann::json::parse(std::ifstream(json));
  const std::vector<int32_t> tokens = tokenize_for_eval(*f.checkpoint.tokenizer, corpus_text(2), 40, 2, "corpus");
  auto runtime = make_cpu_runtime(f.model, exact_options(40));
  const double expected = evaluate_perplexity(*runtime, tokens).perplexity;
  EXPECT_NEAR(out.at("perplexity").get<double>(), expected, 1e-5 * expected);
  EXPECT_TRUE(std::filesystem::exists(csv));
  // Bad input: a missing text file is an error with a non-zero exit, not a crash.
  const std::string bad = cli.string() + " ppl --model " + f.dir.path().string() + " --text " + f.dir.file("none.txt") +
                          " > /dev/null 2>&1";
  const int status = std::system(bad.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
  const std::string cuda = cli.string() + " ppl --device cuda --model " + f.dir.path().string() + " --text " + text +
                           " > /dev/null 2>&1";
  EXPECT_NE(std::system(cuda.c_str()), 0);
}

TEST(Passkey, PromptFollowsTrainingFormat) {
  TinyFixture f;
  const Tokenizer& tokenizer = *f.checkpoint.tokenizer;
  const std::string filler = corpus_text(20);
  for (const double depth : {0.0, 0.5, 1.0}) {
    const PasskeyPrompt prompt = build_passkey_prompt(tokenizer, filler, 200, depth, "01234");
    EXPECT_LE(prompt.tokens.size(), 200u);
    EXPECT_GT(prompt.tokens.size(), 150u);  // the largest filler that fits (words are a few tokens)
    EXPECT_EQ(prompt.tokens[0], tokenizer.bos_id());
    EXPECT_NE(prompt.text.find("The pass key is 01234. Remember it."), std::string::npos);
    const std::string question = "What is the pass key? The pass key is";
    EXPECT_EQ(prompt.text.substr(prompt.text.size() - question.size()), question);
    if (depth == 0.0) EXPECT_EQ(prompt.text.rfind("The pass key is 01234.", 0), 0u);
    if (depth == 1.0) EXPECT_NE(prompt.text.find("Remember it. What is the pass key?"), std::string::npos);
  }
  EXPECT_THROW(build_passkey_prompt(tokenizer, filler, 10, 0.5, "01234"), Error);
  EXPECT_THROW(build_passkey_prompt(tokenizer, "   ", 200, 0.5, "01234"), Error);
  EXPECT_THROW(build_passkey_prompt(tokenizer, filler, 200, 1.5, "01234"), Error);

  auto runtime = make_cpu_runtime(f.model, exact_options(128));
  PasskeyOptions options;
  options.length = 100;
  options.depths = {0.0, 1.0};
  options.trials = 2;
  options.max_new_tokens = 4;
  const PasskeyResult result = run_passkey(*runtime, tokenizer, filler, options);
  EXPECT_EQ(result.trials.size(), 4u);
  EXPECT_EQ(result.accuracy_by_depth.size(), 2u);
  EXPECT_GE(result.accuracy, 0.0);
  EXPECT_LE(result.accuracy, 1.0);
  options.length = 200;  // + 4 answer tokens > max_context 128
  EXPECT_THROW(run_passkey(*runtime, tokenizer, filler, options), Error);
}

TEST(Recall, OracleBoundsEverySelectorPerQueryHead) {
  TinyFixture f;
  const std::vector<int32_t> tokens = tokenize_for_eval(*f.checkpoint.tokenizer, corpus_text(4), 120, 2, "corpus");
  auto runtime = make_cpu_runtime(f.model, exact_options(128));
  RecallOptions options;
  options.budgets = {8, 32};
  options.stride = 3;
  options.selector.per_query_head = true;  // then the oracle's top-B is the top-B of each head's attention
  options.selector.thresholds = {-0.5f, 0.0f, 0.5f};
  const RecallResult result = evaluate_recall(*runtime, tokens, options);
  ASSERT_EQ(result.cells.size(), 4u * 2 * f.spec.num_layers * f.spec.num_kv_heads);
  ASSERT_EQ(result.summary.size(), 8u);
  for (const RecallCell& c : result.cells) {
    SCOPED_TRACE(policy_name(c.policy) + " budget " + std::to_string(c.budget));
    EXPECT_GT(c.steps, 0);
    EXPECT_GE(c.mass, 0.0);
    EXPECT_LE(c.mass, 1.0 + 1e-9);
    if (c.policy == Policy::kOracle) EXPECT_DOUBLE_EQ(c.recall, 1.0);
  }
  const size_t per_policy = 2 * f.spec.num_layers * f.spec.num_kv_heads;
  for (size_t i = 0; i < per_policy; ++i) {
    const double oracle_mass = result.cells[3 * per_policy + i].mass;
    for (int p = 0; p < 3; ++p) EXPECT_LE(result.cells[p * per_policy + i].mass, oracle_mass + 1e-9);
  }
  options.budgets = {200};  // no step has more than 200 tokens
  EXPECT_THROW(evaluate_recall(*runtime, tokens, options), Error);
}

TEST(Generate, GreedyFollowsReferenceArgmax) {
  TinyFixture f;
  auto runtime = make_cpu_runtime(f.model, exact_options(64));
  GenerateOptions options;
  options.max_new_tokens = 6;
  options.stop_at_eos = false;
  std::string streamed;
  const GenerateResult result =
      generate_text(*runtime, *f.checkpoint.tokenizer, "The quick brown fox", options, [&](const std::string& piece) {
        streamed += piece;
      });
  ASSERT_EQ(result.generated.size(), 6u);
  EXPECT_EQ(streamed, result.text);
  std::vector<int32_t> sequence = result.prompt_tokens;
  for (const int32_t token : result.generated) {
    const auto logits = reference_logits(f.spec, f.tensors, sequence).back();
    EXPECT_EQ(token, std::max_element(logits.begin(), logits.end()) - logits.begin());
    sequence.push_back(token);
  }
  EXPECT_THROW(generate_text(*runtime, *f.checkpoint.tokenizer, "", options), Error);
  options.max_new_tokens = 100;
  EXPECT_THROW(generate_text(*runtime, *f.checkpoint.tokenizer, "The quick brown fox", options), Error);
}

TEST(Sweep, RowsCsvAndPlot) {
  TinyFixture f;
  SweepOptions options;
  options.task = SweepTask::kPerplexity;
  options.policies = {Policy::kFull, Policy::kStreaming, Policy::kAdamas};
  options.budgets = {8, 16};
  options.runtime = exact_options(64);
  options.runtime.dense_layers = 1;
  options.ppl_tokens = tokenize_for_eval(*f.checkpoint.tokenizer, corpus_text(2), 48, 2, "corpus");
  const std::vector<SweepRow> rows = run_sweep(
      options, [&](const RuntimeOptions& o) { return make_cpu_runtime(f.model, o); }, f.checkpoint.tokenizer.get());
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].policy, Policy::kFull);
  for (const SweepRow& r : rows) EXPECT_TRUE(std::isfinite(r.metric) && r.metric > 1.0);
  EXPECT_LT(rows[1].kv_bytes_per_token, rows[0].kv_bytes_per_token);
  write_sweep_csv(f.dir.file("sweep.csv"), options.task, rows);
  const std::string svg = render_line_plot_svg(sweep_plot(options.task, rows, "tiny <sweep>"));
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  size_t lines = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1)) ++lines;
  EXPECT_EQ(lines, 3u);
  EXPECT_NE(svg.find("tiny &lt;sweep&gt;"), std::string::npos);
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);  // full attention as a dashed reference
}

TEST(SvgPlot, BadSeriesThrow) {
  LinePlot plot;
  plot.series.push_back({"a", {1, 2}, {1}, false});
  EXPECT_THROW(render_line_plot_svg(plot), Error);
  plot.series[0] = {"a", {0, 2}, {1, 2}, false};
  plot.log2_x = true;
  EXPECT_THROW(render_line_plot_svg(plot), Error);
  plot.series[0] = {"a", {1, 2}, {NAN, 2}, false};
  EXPECT_THROW(render_line_plot_svg(plot), Error);
}

TEST(Npy, HeaderAndData) {
  TempDir dir;
  const std::vector<float> values = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
  write_npy_f32(dir.file("a.npy"), {2, 3}, values.data());
  std::ifstream in(dir.file("a.npy"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.substr(1, 5), "NUMPY");
  const size_t header_length = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
  EXPECT_EQ((10 + header_length) % 64, 0u);
  const std::string header = bytes.substr(10, header_length);
  EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos);
  EXPECT_NE(header.find("'shape': (2, 3)"), std::string::npos);
  ASSERT_EQ(bytes.size(), 10 + header_length + 24);
  std::vector<float> back(6);
  std::memcpy(back.data(), bytes.data() + 10 + header_length, 24);
  EXPECT_EQ(back, values);
}

}  // namespace
}  // namespace adamas::test
