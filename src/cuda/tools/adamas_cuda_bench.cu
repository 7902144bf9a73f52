// adamas_cuda_bench: run_bench_attn_cuda over budgets on one shape, plus the device-to-device copy
// bandwidth measured in the same process; one JSON object per line (bench/run_gpu_bench.sh
// collects them, bench/sdpa_baseline.py puts them next to PyTorch SDPA).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "adamas/bench_attn.h"
#include "adamas/cuda_backend.h"
#include "adamas/error.h"
#include "adamas/selector.h"

namespace {

// The kernel variants DecodePlan picks up (src/cuda/kernel_variants.cuh; unset means the default).
const char* env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

// "a,b,c" -> {"a", "b", "c"} (an empty item stays: the parser then names it in its error).
std::vector<std::string> split_commas(const std::string& list) {
  std::vector<std::string> items;
  for (size_t start = 0; start <= list.size();) {
    const size_t comma = std::min(list.find(',', start), list.size());
    items.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return items;
}

std::vector<int> parse_list(const char* text) {
  std::vector<int> values;
  for (const std::string& item : split_commas(text)) {
    size_t used = 0;
    int value = 0;
    try {
      value = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size()) throw adamas::Error("'" + item + "' in '" + text + "' is not an integer");
    values.push_back(value);
  }
  return values;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    adamas::BenchAttnOptions o;
    o.device = "cuda";
    o.iterations = 50;
    o.warmup = 5;
    std::vector<int> budgets = {o.token_budget};
    bool copy = false;
    for (int i = 1; i < argc; ++i) {
      const std::string flag = argv[i];
      auto value = [&]() -> const char* {
        if (i + 1 >= argc) throw adamas::Error("missing value after " + flag);
        return argv[++i];
      };
      if (flag == "--batch") o.batch = std::stoi(value());
      else if (flag == "--q-heads") o.num_q_heads = std::stoi(value());
      else if (flag == "--kv-heads") o.num_kv_heads = std::stoi(value());
      else if (flag == "--head-dim") o.head_dim = std::stoi(value());
      else if (flag == "--context") o.context = std::stoi(value());
      else if (flag == "--budgets") budgets = parse_list(value());
      else if (flag == "--dtype") o.dtype = adamas::parse_dtype(value());
      else if (flag == "--iters") o.iterations = std::stoi(value());
      else if (flag == "--ragged") o.ragged = true;
      else if (flag == "--page-size") o.page_size = std::stoi(value());
      else if (flag == "--policies") {
        o.policies.clear();
        for (const std::string& name : split_commas(value())) o.policies.push_back(adamas::parse_policy(name));
      }
      else if (flag == "--estimators") {  // adamas rows: l1, asymmetric, ... (one row each)
        o.estimators.clear();
        for (const std::string& name : split_commas(value())) o.estimators.push_back(adamas::parse_estimator(name));
      }
      else if (flag == "--copy-bandwidth") copy = true;
      else throw adamas::Error("unknown flag " + flag);
    }
    if (copy) {
      std::printf("{\"copy_gb_per_s\": %.1f}\n", adamas::cuda::copy_bandwidth_gb_per_s());
      return 0;
    }
    for (int budget : budgets) {
      o.token_budget = budget;
      const adamas::BenchAttnReport report = adamas::run_bench_attn_cuda(o);
      for (const auto& row : report.rows)
        std::printf(
            "{\"gpu\": \"%s\", \"batch\": %d, \"q_heads\": %d, \"kv_heads\": %d, \"head_dim\": %d, \"context\": %d, "
            "\"budget\": %d, \"dtype\": \"%s\", \"policy\": \"%s\", \"estimate_us\": %.2f, \"select_us\": %.2f, "
            "\"attend_us\": %.2f, \"total_us\": %.2f, \"bytes\": %.0f, \"gb_per_s\": %.1f, \"speedup_vs_full\": %.2f, "
            "\"estimate_variant\": \"%s\", \"dense_variant\": \"%s\", \"pdl\": \"%s\", \"estimator\": \"%s\", "
            "\"fused_attend\": \"%s\", \"flush\": \"%s\", \"asym_part\": \"%s\", \"step\": \"%s\", \"page_size\": %d}\n",
            report.device_name.c_str(), o.batch, o.num_q_heads, o.num_kv_heads, o.head_dim, o.context, budget,
            adamas::dtype_name(o.dtype).c_str(), adamas::policy_name(row.policy).c_str(), row.estimate_us,
            row.select_us, row.attend_us, row.total_us, row.bytes_read, row.achieved_gb_per_s, row.speedup_vs_full,
            env_or("ADAMAS_ESTIMATE_VARIANT", "new"), env_or("ADAMAS_DENSE_VARIANT", "mma"), env_or("ADAMAS_PDL", "0"),
            adamas::estimator_name(row.estimator).c_str(), env_or("ADAMAS_FUSED_ATTEND", "0"),
            env_or("ADAMAS_BENCH_FLUSH", "write"), env_or("ADAMAS_ASYM_PART", "auto"), env_or("ADAMAS_STEP", "auto"),
            o.page_size);
      std::fflush(stdout);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
