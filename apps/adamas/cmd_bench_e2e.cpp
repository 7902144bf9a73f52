// adamas bench-e2e: end-to-end decode speed at 7B scale on the GPU (random weights, real shapes).
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "adamas/cuda_decoder.h"
#include "adamas/error.h"
#include "commands.h"

namespace adamas::cli {

void register_bench_e2e(CLI::App& app) {
  struct Args {
    BenchE2eOptions options;
    std::string contexts = "8192,32768,131072", policies = "full,adamas", budgets = "64,256,1024", batches = "1", gemvs = "auto";
    std::string weights = "bf16", kv_dtype = "f16";
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("bench-e2e", "Decode speed of a 7B-scale model shape with random weights on the GPU");
  cmd->add_option("--shape", args->options.shape, "longchat-7b, llama3-8b or a config.json path")->capture_default_str();
  cmd->add_option("--contexts", args->contexts, "cached tokens per sequence (comma list)")->capture_default_str();
  cmd->add_option("--policies", args->policies, "comma list of full,streaming,quest,adamas,oracle")->capture_default_str();
  cmd->add_option("--budgets", args->budgets, "token budgets of the sparse policies")->capture_default_str();
  cmd->add_option("--batches", args->batches, "sequences decoding together (comma list)")->capture_default_str();
  cmd->add_option("--gemv", args->gemvs, "weight products: auto, own (our GEMV, batch <= 16, bf16), cublas (comma list)")
      ->capture_default_str();
  cmd->add_option("--dense-layers", args->options.dense_layers, "leading layers attending densely")->capture_default_str();
  cmd->add_option("--weights", args->weights, "weight type on the GPU: bf16 or f32")->capture_default_str();
  cmd->add_option("--kv-dtype", args->kv_dtype, "cache type: f16, bf16, f32")->capture_default_str();
  cmd->add_option("--iterations", args->options.iterations, "timed graph replays (median)")->capture_default_str();
  cmd->add_option("--memory-limit-gib", args->options.memory_limit_gib, "skip configurations above this")->capture_default_str();
  cmd->add_flag("--graph-split", args->options.graph_split,
                "also time the step graph without each of norms, append, attention, products, without all four, and "
                "without all but the products or the attention (a timing probe)");
  cmd->add_option("--timeline", args->options.timeline,
                  "path prefix: each configuration's kernels in one graph replay (start, end, gaps; CUPTI) go to "
                  "<prefix>_<shape>_c<context>_<policy>_b<budget>_n<batch>.jsonl");
  cmd->add_flag("--json", args->json, "print JSON instead of a table");
  cmd->callback([args] {
    BenchE2eOptions o = args->options;
    o.contexts = parse_int_list(args->contexts, "--contexts");
    o.policies = parse_policy_list(args->policies);
    o.budgets = parse_int_list(args->budgets, "--budgets");
    o.batches = parse_int_list(args->batches, "--batches");
    o.gemvs = parse_name_list(args->gemvs, "--gemv");
    o.weight_dtype = parse_dtype(args->weights);
    o.kv_dtype = parse_dtype(args->kv_dtype);
    const BenchE2eReport report = run_bench_e2e(o);
    if (args->json) {
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& r : report.rows) {
        nlohmann::json without = nlohmann::json::object();
        for (const auto& [part, ms] : r.graph_ms_without) without[part] = ms;
        rows.push_back({{"shape", r.shape}, {"batch", r.batch}, {"context", r.context}, {"policy", policy_name(r.policy)}, {"gemv", r.gemv},
                        {"budget", r.budget}, {"skipped", r.skipped}, {"ms_per_step", r.ms_per_step},
                        {"tokens_per_second", r.tokens_per_second}, {"matmul_ms", r.matmul_ms},
                        {"attention_ms", r.attention_ms}, {"other_ms", r.other_ms}, {"bytes_per_step", r.bytes_per_step},
                        {"achieved_gb_per_s", r.achieved_gb_per_s}, {"speedup_vs_full", r.speedup_vs_full},
                        {"graph_ms_without", without}});
      }
      std::cout << nlohmann::json{{"device", report.device_name}, {"copy_gb_per_s", report.copy_gb_per_s}, {"rows", rows}}.dump(2)
                << "\n";
      return;
    }
    std::printf("device: %s, copy bandwidth %.0f GB/s (read + written), weights %s, cache %s, graph replays\n",
                report.device_name.c_str(), report.copy_gb_per_s, args->weights.c_str(), args->kv_dtype.c_str());
    std::printf("%-12s %5s %7s %-7s %6s %-6s %9s %9s %8s %8s %8s %9s %8s %8s\n", "shape", "batch", "context", "policy",
                "budget", "gemv",
                "ms/step", "tok/s", "matmul", "attn", "other", "GB/step", "GB/s", "speedup");
    for (const auto& r : report.rows) {
      if (r.skipped) {
        std::printf("%-12s %5d %7d %-7s %6d  skipped (does not fit)\n", r.shape.c_str(), r.batch, r.context,
                    policy_name(r.policy).c_str(), r.budget);
        continue;
      }
      std::printf("%-12s %5d %7d %-7s %6d %-6s %9.2f %9.1f %8.2f %8.2f %8.2f %9.2f %8.0f %7.2fx\n", r.shape.c_str(),
                  r.batch, r.context, policy_name(r.policy).c_str(), r.budget, r.gemv.c_str(), r.ms_per_step, r.tokens_per_second, r.matmul_ms,
                  r.attention_ms, r.other_ms, r.bytes_per_step / 1e9, r.achieved_gb_per_s, r.speedup_vs_full);
      for (const auto& [part, ms] : r.graph_ms_without)
        std::printf("%14s without %-9s %9.3f ms/step: the part costs %.3f ms in the graph\n", "", part.c_str(), ms,
                    r.ms_per_step - ms);
    }
  });
}

}  // namespace adamas::cli
