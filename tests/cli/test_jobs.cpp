// `adamas jobs` end to end on the tiny random model: a job file of ppl and passkey runs under
// several policies gives the metrics of the library functions called directly, the same with one
// worker or three, skips jobs whose result exists, and names the line of a bad job.
#include <gtest/gtest.h>
#include <omp.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "adamas/eval/passkey.h"
#include "adamas/eval/perplexity.h"
#include "adamas/model/checkpoint.h"
#include "adamas/model/llama_model.h"
#include "eval/tiny_llama.h"

namespace adamas::test {
namespace {

std::filesystem::path cli_path() {
  std::error_code error;
  const std::filesystem::path cli = std::filesystem::read_symlink("/proc/self/exe", error).parent_path() / "adamas";
  return error || !std::filesystem::exists(cli) ? std::filesystem::path() : cli;
}

std::string corpus_text(int repeats) {
  std::string text;
  for (int r = 0; r < repeats; ++r)
    for (const char* line : kTokenizerCorpus) text += std::string(line) + " ";
  return text;
}

// One policy setting, as job options and as the RuntimeOptions the CLI builds from them (the CLI's
// defaults for everything a job line does not set).
struct PolicyCase {
  std::string job_options;
  Policy policy;
  int budget;
};
const PolicyCase kPolicies[] = {
    {"--policy full", Policy::kFull, 256},
    {"--policy adamas --budget 12", Policy::kAdamas, 12},
    {"--policy quest --budget 12", Policy::kQuest, 12},
    {"--policy streaming --budget 12", Policy::kStreaming, 12},
};
const char* const kCommonOptions = " --kv-dtype f32 --weights f32 --page-size 4 --dense-layers 1 --thresholds=-0.5,0,0.5";

RuntimeOptions runtime_options(const PolicyCase& c, int max_context) {
  RuntimeOptions options;
  options.selector.policy = c.policy;
  options.selector.token_budget = c.budget;
  options.selector.thresholds = {-0.5f, 0.0f, 0.5f};
  options.kv_dtype = DType::kF32;
  options.page_size = 4;
  options.dense_layers = 1;
  options.max_context = max_context;
  return options;
}

struct JobsFixture {
  TinyLlamaSpec spec;
  TempDir dir;
  Checkpoint checkpoint;
  LlamaModel model;
  std::string text, filler;
  JobsFixture() {
    write_tiny_llama(dir.path(), spec, /*with_tokenizer=*/true);
    checkpoint = open_checkpoint(dir.path().string());
    LoadOptions options;
    options.precision = WeightPrecision::kF32;
    model = LlamaModel::load(checkpoint, options);
    text = dir.file("text.txt");
    filler = dir.file("filler.txt");
    write_text(text, corpus_text(3));
    write_text(filler, corpus_text(20));
  }
  // One ppl and one passkey job per policy; results under `out_dir` (which has a space: quoting).
  std::string job_file(const std::string& out_dir) const {
    std::string jobs = "# ppl and passkey on the tiny model\n\n";
    int index = 0;
    for (const PolicyCase& c : kPolicies) {
      const std::string model = " --model " + dir.path().string() + " " + c.job_options + kCommonOptions;
      jobs += "ppl" + model + " --text " + text + " --max-tokens 50 --out '" + out_dir + "/ppl" +
              std::to_string(index) + ".json'\n";
      jobs += "passkey" + model + " --filler " + filler + " --length 80 --depths 0,50,100 --trials 2 --max-new 4" +
              " --out \"" + out_dir + "/passkey" + std::to_string(index) + ".json\"  # a comment\n";
      ++index;
    }
    return jobs;
  }
};

int run_cli(const std::string& arguments, const std::string& log) {
  const std::string command = cli_path().string() + " " + arguments + " > " + log + " 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(std::ifstream(path)); }

TEST(Jobs, MatchDirectRunsWithOneAndThreeWorkers) {
  if (cli_path().empty()) GTEST_SKIP() << "adamas CLI not built next to the tests";
  JobsFixture f;
  for (const int parallel : {1, 3}) {
    const std::string out_dir = f.dir.file("results " + std::to_string(parallel)), jobs = f.dir.file("jobs.txt");
    write_text(jobs, f.job_file(out_dir));
    const std::string summary = f.dir.file("summary" + std::to_string(parallel) + ".jsonl");
    const std::string log = f.dir.file("log.txt");
    ASSERT_EQ(run_cli("jobs --file " + jobs + " --parallel " + std::to_string(parallel) + " --summary " + summary, log), 0)
        << read_all(log);
    std::ifstream summary_lines(summary);
    int lines = 0;
    for (std::string line; std::getline(summary_lines, line); ++lines)
      EXPECT_EQ(nlohmann::json::parse(line).at("status"), "done") << line;
    EXPECT_EQ(lines, 2 * static_cast<int>(std::size(kPolicies)));
  }

  // The library called directly, single-threaded as the jobs were (--threads-per-job 1).
  omp_set_num_threads(1);
  const std::vector<int32_t> tokens = tokenize_for_eval(*f.checkpoint.tokenizer, read_text_file(f.text), 50, 2, "text");
  int index = 0;
  for (const PolicyCase& c : kPolicies) {
    SCOPED_TRACE(c.job_options);
    const std::string name = std::to_string(index++) + ".json";
    const nlohmann::json ppl1 = read_json(f.dir.file("results 1/ppl" + name));
    const nlohmann::json ppl3 = read_json(f.dir.file("results 3/ppl" + name));
    const nlohmann::json passkey1 = read_json(f.dir.file("results 1/passkey" + name));
    const nlohmann::json passkey3 = read_json(f.dir.file("results 3/passkey" + name));
    // Same jobs, same thread count per job: bit-identical metrics whatever the number of workers.
    EXPECT_EQ(ppl1.at("perplexity"), ppl3.at("perplexity"));
    EXPECT_EQ(ppl1.at("kv_bytes_per_token"), ppl3.at("kv_bytes_per_token"));
    EXPECT_EQ(passkey1.at("trials"), passkey3.at("trials"));
    EXPECT_EQ(passkey1.at("accuracy"), passkey3.at("accuracy"));

    auto runtime = make_cpu_runtime(f.model, runtime_options(c, static_cast<int>(tokens.size())));
    const PerplexityResult ppl = evaluate_perplexity(*runtime, tokens);
    // Another process on the same inputs and thread count: the same arithmetic; the tolerance only
    // absorbs the decimal round trip of the JSON.
    EXPECT_NEAR(ppl1.at("perplexity").get<double>(), ppl.perplexity, 1e-12 * ppl.perplexity);
    EXPECT_EQ(ppl1.at("policy"), policy_name(c.policy));

    PasskeyOptions options;
    options.length = 80;
    options.depths = {0.0, 0.5, 1.0};
    options.trials = 2;
    options.max_new_tokens = 4;
    auto passkey_runtime = make_cpu_runtime(f.model, runtime_options(c, options.length + options.max_new_tokens));
    const PasskeyResult passkey =
        run_passkey(*passkey_runtime, *f.checkpoint.tokenizer, load_filler_text(f.filler), options);
    ASSERT_EQ(passkey1.at("trials").size(), passkey.trials.size());
    for (size_t i = 0; i < passkey.trials.size(); ++i) {
      EXPECT_EQ(passkey1.at("trials")[i].at("key"), passkey.trials[i].key);
      EXPECT_EQ(passkey1.at("trials")[i].at("answer"), passkey.trials[i].answer);
    }
    EXPECT_EQ(passkey1.at("accuracy").get<double>(), passkey.accuracy);
  }
}

TEST(Jobs, SkipsExistingResults) {
  if (cli_path().empty()) GTEST_SKIP() << "adamas CLI not built next to the tests";
  JobsFixture f;
  const std::string done = f.dir.file("done.json"), fresh = f.dir.file("sub/fresh.json");
  write_text(done, "{\"perplexity\": 1.5}\n");
  const std::string model = " --model " + f.dir.path().string() + " --text " + f.text + " --max-tokens 20";
  const std::string jobs = f.dir.file("jobs.txt"), summary = f.dir.file("summary.jsonl"), log = f.dir.file("log.txt");
  write_text(jobs, "ppl" + model + " --out " + done + "\nppl" + model + " --out " + fresh + "\n");
  ASSERT_EQ(run_cli("jobs --file " + jobs + " --summary " + summary, log), 0) << read_all(log);
  EXPECT_EQ(read_all(done), "{\"perplexity\": 1.5}\n");  // untouched
  EXPECT_GT(read_json(fresh).at("perplexity").get<double>(), 1.0);
  std::ifstream lines(summary);
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_EQ(nlohmann::json::parse(first).at("status"), "skipped");
  EXPECT_EQ(nlohmann::json::parse(first).at("perplexity"), 1.5);
  EXPECT_EQ(nlohmann::json::parse(second).at("status"), "done");
  EXPECT_NE(read_all(log).find("1 done, 1 skipped"), std::string::npos) << read_all(log);
}

TEST(Jobs, BadLinesNameTheirLine) {
  if (cli_path().empty()) GTEST_SKIP() << "adamas CLI not built next to the tests";
  JobsFixture f;
  const std::string model = " --model " + f.dir.path().string() + " --text " + f.text + " --max-tokens 20";
  const std::string jobs = f.dir.file("jobs.txt"), log = f.dir.file("log.txt");
  const std::string good = "ppl" + model + " --out " + f.dir.file("a.json") + "\n";
  // Line 3: an option ppl does not have; nothing runs when any line is bad.
  write_text(jobs, "# grid\n" + good + "ppl" + model + " --bogus 1 --out " + f.dir.file("b.json") + "\n");
  EXPECT_EQ(run_cli("jobs --file " + jobs, log), 1);
  EXPECT_NE(read_all(log).find("jobs.txt:3: ppl:"), std::string::npos) << read_all(log);
  EXPECT_NE(read_all(log).find("--bogus"), std::string::npos) << read_all(log);
  EXPECT_FALSE(std::filesystem::exists(f.dir.file("a.json")));
  // Unknown command, missing --out, bad policy, unterminated quote.
  for (const auto& [line, expected] :
       std::vector<std::pair<std::string, std::string>>{{"perplexity --model x --out y", "unknown command 'perplexity'"},
                                                        {"ppl" + model, "--out"},
                                                        {"ppl" + model + " --policy adamsa --out z", "adamsa"},
                                                        {"ppl" + model + " --out 'z", "unterminated"}}) {
    write_text(jobs, good + line + "\n");
    EXPECT_EQ(run_cli("jobs --file " + jobs, log), 1) << line;
    EXPECT_NE(read_all(log).find("jobs.txt:2:"), std::string::npos) << read_all(log);
    EXPECT_NE(read_all(log).find(expected), std::string::npos) << read_all(log);
  }
  // A job that fails while running (text file missing) is reported; the other job still runs.
  write_text(jobs, "ppl --model " + f.dir.path().string() + " --text " + f.dir.file("none.txt") + " --out " +
                       f.dir.file("c.json") + "\n" + good);
  EXPECT_EQ(run_cli("jobs --file " + jobs + " --parallel 2", log), 1);
  EXPECT_NE(read_all(log).find("jobs.txt:1: "), std::string::npos) << read_all(log);
  EXPECT_NE(read_all(log).find("none.txt"), std::string::npos) << read_all(log);
  EXPECT_FALSE(std::filesystem::exists(f.dir.file("c.json")));
  EXPECT_TRUE(std::filesystem::exists(f.dir.file("a.json")));
}

// Comma-separated options reject an empty item (a doubled or trailing comma) by name, before any
// work starts, whatever command reads them.
TEST(CommaLists, EmptyItemsAreErrors) {
  if (cli_path().empty()) GTEST_SKIP() << "adamas CLI not built next to the tests";
  TempDir dir;
  const std::string log = dir.file("log.txt");
  for (const auto& [arguments, option] : std::vector<std::pair<std::string, std::string>>{
           {"bench-attn --estimators l1,", "--estimators"},
           {"bench-attn --policies full,,adamas", "--policies"},
           {"bench-attn --thresholds=-10,0,", "--thresholds"},
           {"bench-e2e --gemv own,", "--gemv"},
           {"bench-e2e --contexts 8192,", "--contexts"}}) {
    EXPECT_EQ(run_cli(arguments, log), 1) << arguments;
    EXPECT_NE(read_all(log).find(option + ": empty item"), std::string::npos) << arguments << ": " << read_all(log);
  }
}

// A checkpoint directory's adamas_defaults.json supplies the code book of plain adamas runs, and only
// of those: any code-book option on the command line, --no-model-defaults or another policy leaves it
// out; a malformed file is an error naming the file.
TEST(ModelDefaults, CalibratedCodeBookUnlessTheCommandLineSetsOne) {
  if (cli_path().empty()) GTEST_SKIP() << "adamas CLI not built next to the tests";
  JobsFixture f;
  const std::string ppl = "ppl --model " + f.dir.path().string() +
                          " --kv-dtype f32 --weights f32 --page-size 4 --dense-layers 1 --text " + f.text +
                          " --max-tokens 50 --budget 12 --json";
  const std::string log = f.dir.file("log.txt");
  auto config = [&](const std::string& options) {
    EXPECT_EQ(run_cli(ppl + " --no-progress " + options, log), 0) << read_all(log);
    return nlohmann::json::parse(read_all(log));
  };
  const nlohmann::json plain = config("--policy adamas");
  EXPECT_EQ(plain.at("config").get<std::string>().find("calibrated"), std::string::npos) << plain.at("config");

  write_text(f.dir.file("adamas_defaults.json"),
             R"({"calibrate_after": 16, "calibration_quantiles": [0.25, 0.5, 0.75], "why": "test"})");
  const nlohmann::json with_defaults = config("--policy adamas");
  EXPECT_NE(with_defaults.at("config").get<std::string>().find("calibrated after 16"), std::string::npos)
      << with_defaults.at("config");
  // The library with the same code book gives the same perplexity.
  omp_set_num_threads(1);
  RuntimeOptions options = runtime_options({"", Policy::kAdamas, 12}, 64);
  options.selector.thresholds = {-10.0f, 0.0f, 10.0f};
  options.calibrate_after_tokens = 16;
  options.calibration_quantiles = {0.25, 0.5, 0.75};
  const std::vector<int32_t> tokens = tokenize_for_eval(*f.checkpoint.tokenizer, read_text_file(f.text), 50, 2, "text");
  EXPECT_NEAR(with_defaults.at("perplexity").get<double>(),
              evaluate_perplexity(*make_cpu_runtime(f.model, options), tokens).perplexity, 1e-9);

  for (const char* explicit_options : {"--policy adamas --thresholds=-10,0,10", "--policy adamas --no-model-defaults",
                                       "--policy adamas --calibrate-after 0", "--policy quest"}) {
    const nlohmann::json result = config(explicit_options);
    EXPECT_EQ(result.at("config").get<std::string>().find("calibrated"), std::string::npos)
        << explicit_options << ": " << result.at("config");
  }
  EXPECT_EQ(config("--policy adamas --thresholds=-10,0,10").at("perplexity"), plain.at("perplexity"));

  for (const char* bad : {R"({"calibrate_after": -1})", R"({"calibrate_after": 16, "thresholds": [1, 2, 3]})",
                          R"([16])", R"({"calibration_quantiles": "0.5"})", "{not json"}) {
    write_text(f.dir.file("adamas_defaults.json"), bad);
    EXPECT_NE(run_cli(ppl + " --policy adamas", log), 0) << bad;
    EXPECT_NE(read_all(log).find("adamas_defaults.json"), std::string::npos) << bad << ": " << read_all(log);
  }
}

}  // namespace
}  // namespace adamas::test
