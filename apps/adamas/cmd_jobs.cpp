// adamas jobs: many ppl / passkey / recall runs in one process, on worker threads that share the
// loaded models read-only; each job has its own runtime (on CUDA its own stream) and writes the
// JSON its command prints with --json to its --out file. Format and behaviour: docs/jobs.md.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "adamas/error.h"
#include "commands.h"

namespace adamas::cli {

namespace {

// Jobs on one GPU overlap through their own streams; eight keep an H200 busy with small models
// without multiplying the per-job weight copies too far.
constexpr int kDefaultCudaParallel = 8;

struct JobsArgs {
  std::string file, summary;
  int parallel = 0, threads_per_job = 1;
};

enum class JobStatus { kPending, kSkipped, kDone, kFailed };

struct Job {
  int line = 0;      // 1-based line number in the job file
  std::string text;  // the line as written
  EvalCommand command;
  std::string out;
  JobStatus status = JobStatus::kPending;
  std::string error;
  nlohmann::json metrics;  // the command's metric_keys, taken from its result
};

using AddOptions = EvalCommand (*)(CLI::App*);

AddOptions find_eval_command(const std::string& name) {
  if (name == "ppl") return add_ppl_options;
  if (name == "passkey") return add_passkey_options;
  if (name == "recall") return add_recall_options;
  return nullptr;
}

// Shell-like words: blanks separate them, '...' keeps its text literally, "..." keeps it except
// that \" and \\ stand for " and \, a backslash outside quotes takes the next character as is,
// and a word that begins with # starts a comment to the end of the line.
std::vector<std::string> split_job_line(const std::string& line, const std::string& where) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ' || c == '\t' || c == '\r') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else if (c == '#' && !in_word) {
      break;
    } else if (c == '\'') {
      const size_t close = line.find('\'', i + 1);
      ADAMAS_CHECK(close != std::string::npos, where, ": unterminated ' quote");
      word += line.substr(i + 1, close - i - 1);
      i = close;
      in_word = true;
    } else if (c == '"') {
      size_t j = i + 1;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size() && (line[j + 1] == '"' || line[j + 1] == '\\')) ++j;
        word += line[j];
      }
      ADAMAS_CHECK(j < line.size(), where, ": unterminated \" quote");
      i = j;
      in_word = true;
    } else if (c == '\\') {
      ADAMAS_CHECK(i + 1 < line.size(), where, ": a backslash ends the line");
      word += line[++i];
      in_word = true;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

// Parses one line with the options of its command (the same CLI11 definitions as the subcommand)
// plus the required --out. Throws adamas::Error naming the file and line.
Job parse_job(const std::string& file, int line_number, const std::string& text, const std::vector<std::string>& words) {
  const std::string where = file + ":" + std::to_string(line_number);
  const AddOptions add_options = find_eval_command(words.front());
  ADAMAS_CHECK(add_options != nullptr, where, ": unknown command '", words.front(), "', expected ppl, passkey or recall");
  Job job;
  job.line = line_number;
  job.text = text;
  CLI::App app{"adamas jobs line", words.front()};
  app.set_help_flag();  // --help in a job line is an unknown option, not a request for help
  job.command = add_options(&app);
  app.add_option("--out", job.out, "where the job's JSON result goes")->required();
  std::vector<std::string> args(words.begin() + 1, words.end());
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments last first
  try {
    app.parse(args);
    // The policy, estimator, thresholds and dtypes are checked now, not hours into the batch.
    make_runtime_options(*job.command.model, 1);
  } catch (const CLI::ParseError& e) {
    throw Error(where + ": " + words.front() + ": " + e.what());
  } catch (const Error& e) {
    throw Error(where + ": " + words.front() + ": " + e.what());
  }
  return job;
}

// Every job of the file; all bad lines are reported together (one adamas::Error).
std::vector<Job> read_jobs(const std::string& file) {
  std::ifstream in(file);
  ADAMAS_CHECK(in, file, ": cannot open the job file");
  std::vector<Job> jobs;
  std::string errors;
  std::map<std::string, int> line_of_out;
  std::string text;
  for (int line_number = 1; std::getline(in, text); ++line_number) {
    try {
      const std::vector<std::string> words = split_job_line(text, file + ":" + std::to_string(line_number));
      if (words.empty()) continue;
      Job job = parse_job(file, line_number, text, words);
      const auto [previous, inserted] = line_of_out.emplace(std::filesystem::absolute(job.out).lexically_normal().string(), line_number);
      ADAMAS_CHECK(inserted, file, ":", line_number, ": --out ", job.out, " is also the output of line ",
                   previous->second);
      jobs.push_back(std::move(job));
    } catch (const Error& e) {
      errors += std::string(errors.empty() ? "" : "\n") + e.what();
    }
  }
  ADAMAS_CHECK(errors.empty(), errors);
  ADAMAS_CHECK(!jobs.empty(), file, ": no jobs (one command line per line, # comments)");
  return jobs;
}

// The result goes to a temporary name first, so that a killed batch never leaves a partial file
// that a rerun would take as done.
void write_result(const std::string& path, const nlohmann::json& result) {
  const std::filesystem::path out(path);
  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
  const std::string temporary = path + ".partial";
  {
    std::ofstream file(temporary);
    ADAMAS_CHECK(file, temporary, ": cannot open for writing");
    file << result.dump(2) << "\n";
    ADAMAS_CHECK(file.good(), temporary, ": write failed");
  }
  std::filesystem::rename(temporary, out);
}

nlohmann::json pick_metrics(const EvalCommand& command, const nlohmann::json& result) {
  nlohmann::json metrics = nlohmann::json::object();
  for (const std::string& key : command.metric_keys)
    if (result.contains(key)) metrics[key] = result.at(key);
  return metrics;
}

std::string format_duration(double seconds) {
  const int total = static_cast<int>(seconds + 0.5);
  char text[32];
  std::snprintf(text, sizeof(text), "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60);
  return text;
}

// The batch's one progress line on stderr (drawn only on a terminal) and the failure reports,
// serialized by one mutex because every worker reports through it.
class BatchProgress {
 public:
  BatchProgress(int total, int skipped) : total_(total), finished_(skipped), skipped_(skipped) {}

  void job_finished(const Job& job, const std::string& file) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++finished_;
    if (job.status == JobStatus::kFailed) {
      ++failed_;
      clear();
      std::fprintf(stderr, "error: %s:%d: %s\n", file.c_str(), job.line, job.error.c_str());
    }
    draw();
  }
  void finish() {
    std::lock_guard<std::mutex> lock(mutex_);
    clear();
    std::fprintf(stderr, "jobs: %d done, %d skipped (result exists), %d failed, %s elapsed\n",
                 finished_ - skipped_ - failed_, skipped_, failed_, format_duration(elapsed()).c_str());
  }
  void draw_initial() {
    std::lock_guard<std::mutex> lock(mutex_);
    draw();
  }

 private:
  double elapsed() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  void clear() {
    if (!drawn_) return;
    std::fprintf(stderr, "\r\033[K");
    drawn_ = false;
  }
  void draw() {
    if (!terminal_) return;
    // The ETA counts only jobs run in this batch, not those skipped.
    const int ran = finished_ - skipped_, left = total_ - finished_;
    const double seconds = elapsed();
    const std::string eta = ran > 0 ? format_duration(seconds / ran * left) : "?";
    std::fprintf(stderr, "\rjobs %d/%d done (%d failed), %s elapsed, ETA %s  ", finished_, total_, failed_,
                 format_duration(seconds).c_str(), eta.c_str());
    std::fflush(stderr);
    drawn_ = true;
  }

  std::mutex mutex_;
  const int total_;
  int finished_ = 0, skipped_ = 0, failed_ = 0;
  bool terminal_ = ::isatty(STDERR_FILENO), drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

void write_summary(const std::string& path, const std::vector<Job>& jobs) {
  std::ofstream out(path);
  ADAMAS_CHECK(out, path, ": cannot open for writing");
  for (const Job& job : jobs) {
    static const char* const kStatus[] = {"pending", "skipped", "done", "failed"};
    nlohmann::json line = {{"line", job.line}, {"job", job.text}, {"out", job.out},
                           {"status", kStatus[static_cast<int>(job.status)]}};
    if (job.status == JobStatus::kFailed) line["error"] = job.error;
    for (const auto& [key, value] : job.metrics.items()) line[key] = value;
    out << line.dump() << "\n";
  }
  ADAMAS_CHECK(out.good(), path, ": write failed");
}

// Runs the batch; returns the number of failed jobs.
int run_jobs(const JobsArgs& args) {
  ADAMAS_CHECK(args.parallel >= 0, "--parallel must be >= 0, got ", args.parallel);
  ADAMAS_CHECK(args.threads_per_job >= 1, "--threads-per-job must be >= 1, got ", args.threads_per_job);
  std::vector<Job> jobs = read_jobs(args.file);

  // Resumable: a job whose result exists is skipped; its metrics still go to the summary.
  std::vector<Job*> pending;
  for (Job& job : jobs) {
    if (!std::filesystem::exists(job.out)) {
      pending.push_back(&job);
      continue;
    }
    job.status = JobStatus::kSkipped;
    try {
      job.metrics = pick_metrics(job.command, nlohmann::json::parse(std::ifstream(job.out)));
    } catch (const nlohmann::json::exception&) {
      // An unreadable old result is still the user's to keep; the summary only lacks its metrics.
    }
  }

  // Models are loaded once per (--model, --weights), here on the main thread, and then only read.
  std::map<std::pair<std::string, std::string>, std::shared_ptr<const LoadedModel>> models;
  std::map<std::pair<std::string, std::string>, std::string> load_errors;
  for (const Job* job : pending) {
    const auto key = std::make_pair(job->command.model->model, job->command.model->weights);
    if (models.count(key) || load_errors.count(key)) continue;
    try {
      models[key] = std::make_shared<const LoadedModel>(load_checkpoint_model(*job->command.model));
    } catch (const Error& e) {
      load_errors[key] = e.what();
    }
  }

  int workers = args.parallel;
  if (workers == 0) {
    const bool any_cuda = std::any_of(pending.begin(), pending.end(), [](const Job* job) { return job->command.model->device == "cuda"; });
    workers = any_cuda ? kDefaultCudaParallel : 1;
  }
  workers = std::max(1, std::min<int>(workers, static_cast<int>(pending.size())));

  BatchProgress progress(static_cast<int>(jobs.size()), static_cast<int>(jobs.size() - pending.size()));
  progress.draw_initial();
  std::atomic<size_t> next_job{0};
  auto worker = [&] {
    for (size_t index = next_job++; index < pending.size(); index = next_job++) {
      Job& job = *pending[index];
      const ModelArgs& model_args = *job.command.model;
      const auto key = std::make_pair(model_args.model, model_args.weights);
      try {
        if (const auto error = load_errors.find(key); error != load_errors.end()) throw Error(error->second);
        // OpenMP keeps the thread count per calling thread: this sets the team size of this
        // worker's parallel regions only. A job's own --threads wins over --threads-per-job.
        omp_set_num_threads(model_args.threads > 0 ? model_args.threads : args.threads_per_job);
        const nlohmann::json result = job.command.run(*models.at(key), ProgressFn{});
        write_result(job.out, result);
        job.metrics = pick_metrics(job.command, result);
        job.status = JobStatus::kDone;
      } catch (const std::exception& e) {  // adamas::Error, and filesystem or allocation failures
        job.status = JobStatus::kFailed;
        job.error = e.what();
      }
      progress.job_finished(job, args.file);
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) threads.emplace_back(worker);
  for (std::thread& thread : threads) thread.join();
  progress.finish();

  if (!args.summary.empty()) write_summary(args.summary, jobs);
  return static_cast<int>(std::count_if(jobs.begin(), jobs.end(), [](const Job& job) { return job.status == JobStatus::kFailed; }));
}

}  // namespace

void register_jobs(CLI::App& app) {
  auto args = std::make_shared<JobsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "jobs",
      "Run a file of ppl / passkey / recall jobs in one process, in parallel, sharing the loaded models");
  cmd->footer(
      "The --file holds one job per line: a command (ppl, passkey or recall), that command's options as on the command\n"
      "line, and --out FILE (the JSON the command prints with --json). Quotes and backslashes split words as in a\n"
      "shell; blank lines and # comments are skipped. Jobs whose --out exists are skipped, so a rerun resumes.\n"
      "Example line:\n"
      "  ppl --model models/tiny --text book.txt --max-tokens 8192 --policy adamas --budget 256 --out r/a256.json\n"
      "See docs/jobs.md.");
  cmd->add_option("--file", args->file, "job file, one job per line")->required();
  cmd->add_option("--parallel", args->parallel,
                  "worker threads, one job each (0: 8 if any job runs on cuda, else 1)")
      ->capture_default_str();
  cmd->add_option("--threads-per-job", args->threads_per_job,
                  "OpenMP threads of each job (a job's own --threads wins)")
      ->capture_default_str();
  cmd->add_option("--summary", args->summary, "write one JSON line per job (line, status, main metrics) here");
  cmd->callback([args] {
    const int failed = run_jobs(*args);
    ADAMAS_CHECK(failed == 0, failed, " job(s) failed (see the messages above)");
  });
}

}  // namespace adamas::cli
