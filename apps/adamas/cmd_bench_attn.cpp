// adamas bench-attn: one decode step of attention per policy, timed per stage.
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "adamas/bench_attn.h"
#include "adamas/error.h"
#include "commands.h"

namespace adamas::cli {

namespace {

struct BenchAttnArgs {
  BenchAttnOptions options;
  std::string policies = "all";
  std::string estimators = "l1";
  std::string dtype = "f16";
  std::string thresholds = "-10,0,10";
  int threads = 0;
  bool json = false;
};

std::string row_name(const BenchAttnRow& r) {
  if (r.policy != Policy::kAdamas || r.estimator == Estimator::kL1) return policy_name(r.policy);
  return policy_name(r.policy) + "/" + estimator_name(r.estimator);
}

void print_table(const BenchAttnOptions& o, const BenchAttnReport& report) {
  std::printf("device: %s (%d threads) | batch %d, heads %d/%d, d %d, context %d%s, budget %d, %s, page %d, median of %d\n",
              report.device_name.c_str(), report.threads, o.batch, o.num_q_heads, o.num_kv_heads, o.head_dim, o.context,
              o.ragged ? " (ragged)" : "", o.token_budget, dtype_name(o.dtype).c_str(), o.page_size, o.iterations);
  std::printf("%-17s %12s %12s %12s %12s %11s %9s %10s %12s\n", "policy", "estimate_us", "select_us", "attend_us",
              "total_us", "MiB_read", "GB/s", "speedup", "estimate_GB/s");
  for (const BenchAttnRow& r : report.rows)
    std::printf("%-17s %12.1f %12.1f %12.1f %12.1f %11.2f %9.1f %9.2fx %12.1f\n", row_name(r).c_str(), r.estimate_us,
                r.select_us, r.attend_us, r.total_us, r.bytes_read / (1 << 20), r.achieved_gb_per_s, r.speedup_vs_full,
                r.estimate_gb_per_s);
}

nlohmann::json to_json(const BenchAttnOptions& o, const BenchAttnReport& report) {
  nlohmann::json rows = nlohmann::json::array();
  for (const BenchAttnRow& r : report.rows)
    rows.push_back({{"policy", policy_name(r.policy)}, {"estimator", estimator_name(r.estimator)},
                    {"estimate_gb_per_s", r.estimate_gb_per_s}, {"estimate_us", r.estimate_us}, {"select_us", r.select_us},
                    {"attend_us", r.attend_us}, {"total_us", r.total_us}, {"bytes_read", r.bytes_read},
                    {"achieved_gb_per_s", r.achieved_gb_per_s}, {"speedup_vs_full", r.speedup_vs_full}});
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return {{"device", o.device},         {"device_name", report.device_name}, {"threads", report.threads},
          {"date", date},               {"batch", o.batch},                  {"num_q_heads", o.num_q_heads},
          {"num_kv_heads", o.num_kv_heads}, {"head_dim", o.head_dim},         {"context", o.context},
          {"ragged", o.ragged},         {"token_budget", o.token_budget},    {"dtype", dtype_name(o.dtype)},
          {"page_size", o.page_size},   {"iterations", o.iterations},        {"rows", rows}};
}

}  // namespace

void register_bench_attn(CLI::App& app) {
  auto args = std::make_shared<BenchAttnArgs>();
  CLI::App* cmd = app.add_subcommand("bench-attn", "Time one decode step of attention for every policy on one random cache");
  BenchAttnOptions& o = args->options;
  cmd->add_option("--device", o.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  cmd->add_option("--batch", o.batch, "sequences decoding together")->capture_default_str();
  cmd->add_option("--heads", o.num_q_heads, "query heads")->capture_default_str();
  cmd->add_option("--kv-heads", o.num_kv_heads, "KV heads (divides --heads)")->capture_default_str();
  cmd->add_option("--head-dim", o.head_dim, "head dimension (power of two <= 256)")->capture_default_str();
  cmd->add_option("--context", o.context, "cached tokens per sequence")->capture_default_str();
  cmd->add_flag("--ragged", o.ragged, "sequence s holds context*(batch-s)/batch tokens");
  cmd->add_option("--budget", o.token_budget, "token budget B")->capture_default_str();
  cmd->add_option("--policies", args->policies, "comma list of full,streaming,quest,adamas,oracle or 'all'")->capture_default_str();
  cmd->add_option("--estimators", args->estimators,
                  "adamas estimators, one row each: comma list of l1,l2,hamming,asymmetric (cuda: l2 and hamming take the "
                  "untuned generic estimate)")
      ->capture_default_str();
  cmd->add_option("--dtype", args->dtype, "cache dtype: f32, f16, bf16")->capture_default_str();
  cmd->add_option("--page-size", o.page_size, "cache page size (Quest page)")->capture_default_str();
  cmd->add_option("--thresholds", args->thresholds, "Adamas code thresholds t0,t1,t2")->capture_default_str();
  cmd->add_option("--iterations", o.iterations, "timed repetitions (median reported)")->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "untimed repetitions first")->capture_default_str();
  cmd->add_option("--seed", o.seed, "random seed")->capture_default_str();
  cmd->add_option("--threads", args->threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->add_flag("--json", args->json, "print JSON instead of a table");
  cmd->callback([args] {
    BenchAttnOptions options = args->options;
    options.policies = parse_policy_list(args->policies);
    options.estimators = parse_estimator_list(args->estimators);
    options.dtype = parse_dtype(args->dtype);
    options.thresholds = parse_thresholds(args->thresholds);
    ADAMAS_CHECK(args->threads >= 0, "--threads must be >= 0");
    if (args->threads > 0) omp_set_num_threads(args->threads);
    const BenchAttnReport report = options.device == "cuda" ? run_bench_attn_cuda(options) : run_bench_attn_cpu(options);
    if (args->json) {
      std::cout << to_json(options, report).dump(2) << "\n";
    } else {
      print_table(options, report);
    }
  });
}

}  // namespace adamas::cli
