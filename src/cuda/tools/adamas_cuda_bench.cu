// adamas_cuda_bench: run_bench_attn_cuda over budgets on one shape, plus the device-to-device copy
// bandwidth measured in the same process; one JSON object per line (bench/run_gpu_bench.sh
// collects them, bench/sdpa_baseline.py puts them next to PyTorch SDPA).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "adamas/bench_attn.h"
#include "adamas/cuda_backend.h"
#include "adamas/error.h"

namespace {

std::vector<int> parse_list(const char* text) {
  std::vector<int> values;
  std::string s(text);
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    values.push_back(std::stoi(s.substr(start, comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
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
            "\"attend_us\": %.2f, \"total_us\": %.2f, \"bytes\": %.0f, \"gb_per_s\": %.1f, \"speedup_vs_full\": %.2f}\n",
            report.device_name.c_str(), o.batch, o.num_q_heads, o.num_kv_heads, o.head_dim, o.context, budget,
            adamas::dtype_name(o.dtype).c_str(), adamas::policy_name(row.policy).c_str(), row.estimate_us,
            row.select_us, row.attend_us, row.total_us, row.bytes_read, row.achieved_gb_per_s, row.speedup_vs_full);
      std::fflush(stdout);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
