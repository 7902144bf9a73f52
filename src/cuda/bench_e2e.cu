// adamas bench-e2e (include/adamas/cuda_decoder.h): random-weight decode speed per shape, context,
// policy, budget and batch, with the device's copy bandwidth measured in the same run.
#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>

#include "adamas/cuda_backend.h"
#include "adamas/cuda_decoder.h"
#include "cuda/cuda_common.cuh"
#include "cuda/kernel_timeline.h"

namespace adamas {

BenchE2eReport run_bench_e2e(const BenchE2eOptions& o) {
  ADAMAS_CHECK(cuda::gpu_available(), "bench-e2e needs a CUDA device");
  ADAMAS_CHECK(!o.contexts.empty() && !o.policies.empty() && !o.batches.empty() && o.iterations >= 1,
               "bench-e2e: empty sweep");
  const ModelConfig config = cuda::model_shape(o.shape);
  // Before any decoder exists, so that CUPTI sees every graph from its instantiation on.
  std::optional<cuda::KernelTimeline> timeline;
  if (!o.timeline.empty()) timeline.emplace();
  const std::string shape_name = o.shape.substr(o.shape.find_last_of('/') + 1);
  BenchE2eReport report;
  report.device_name = cuda::gpu_name();
  report.copy_gb_per_s = cuda::copy_bandwidth_gb_per_s();
  const double weight_bytes =
      static_cast<double>(dtype_size_bytes(o.weight_dtype)) *
      (config.num_layers * (static_cast<double>(config.hidden_size) * (config.num_heads + 2 * config.num_kv_heads) * config.head_dim +
                            static_cast<double>(config.hidden_size) * config.num_heads * config.head_dim +
                            3.0 * config.hidden_size * config.intermediate_size) +
       (config.tie_word_embeddings ? 1.0 : 2.0) * config.vocab_size * config.hidden_size);
  for (int batch : o.batches)
    for (int context : o.contexts) {
      const double cache_bytes = 2.0 * config.num_layers * config.num_kv_heads * config.head_dim *
                                 dtype_size_bytes(o.kv_dtype) * static_cast<double>(context + 64) * batch * (1 + 1.0 / 8);
      std::map<std::string, double> full_ms;  // per gemv
      for (Policy policy : o.policies) {
        const std::vector<int> budgets = policy == Policy::kFull ? std::vector<int>{0} : o.budgets;
        for (int budget : budgets)
        for (const std::string& gemv : o.gemvs) {
          ADAMAS_CHECK(gemv == "auto" || gemv == "own" || gemv == "cublas", "bench-e2e: --gemv '", gemv,
                       "': expected auto, own or cublas");
          BenchE2eRow row;
          row.shape = o.shape;
          row.gemv = gemv;
          row.batch = batch;
          row.context = context;
          row.policy = policy;
          row.budget = budget;
          if ((weight_bytes + cache_bytes) / (1ull << 30) > o.memory_limit_gib) {
            row.skipped = true;
            report.rows.push_back(row);
            std::fprintf(stderr, "bench-e2e: %s batch %d context %d skipped (%.0f GiB)\n", o.shape.c_str(), batch, context,
                         (weight_bytes + cache_bytes) / (1ull << 30));
            continue;
          }
          cuda::CudaDecoderOptions options;
          options.max_batch = batch;
          options.weight_dtype = o.weight_dtype;
          options.gemv = gemv == "own"      ? cuda::CudaDecoderOptions::Gemv::kOwn
                         : gemv == "cublas" ? cuda::CudaDecoderOptions::Gemv::kCublas
                                            : cuda::CudaDecoderOptions::Gemv::kAuto;
          options.runtime.selector.policy = policy;
          options.runtime.selector.token_budget = std::max(1, budget);
          options.runtime.dense_layers = o.dense_layers;
          options.runtime.kv_dtype = o.kv_dtype;
          options.runtime.max_context = context + 64;
          cuda::CudaDecoder decoder(config, options);
          row.gemv = decoder.gemv_in_use();
          decoder.randomize_weights(o.seed);
          decoder.fill_random_context(context, o.seed + 17);
          row.ms_per_step = decoder.graph_step_ms(o.iterations);
          if (timeline) {
            timeline->collect();  // what ran before
            constexpr int kReplays = 3;  // graph_step_ms(1): two warm-up replays and one timed
            decoder.graph_step_ms(kReplays - 2);
            const std::string path = o.timeline + "_" + shape_name + "_c" + std::to_string(context) + "_" +
                                     policy_name(policy) + "_b" + std::to_string(budget) + "_n" + std::to_string(batch) + ".jsonl";
            cuda::write_timeline_jsonl(cuda::last_replay(timeline->collect(), kReplays), path);
          }
          if (o.graph_split) {
            // Each part alone, then all four (what is left: embedding, copies, the logits' norm,
            // launch gaps), then all but the products and all but the attention.
            const std::vector<std::vector<std::string>> sets = {{"norms"},
                                                                {"append"},
                                                                {"attention"},
                                                                {"products"},
                                                                {"norms", "append", "attention", "products"},
                                                                {"norms", "append", "attention"},
                                                                {"norms", "append", "products"}};
            for (const std::vector<std::string>& parts : sets) {
              decoder.set_graph_skip(parts);
              std::string name;
              for (const std::string& part : parts) name += (name.empty() ? "" : "+") + part;
              row.graph_ms_without.emplace_back(name, decoder.graph_step_ms(o.iterations));
            }
            decoder.set_graph_skip({});
          }
          const cuda::StepProfile profile = decoder.profile_step();
          row.matmul_ms = profile.matmul_ms;
          row.attention_ms = profile.attention_ms;
          row.other_ms = profile.other_ms;
          row.tokens_per_second = batch * 1000.0 / row.ms_per_step;
          row.bytes_per_step = decoder.step_bytes();
          row.achieved_gb_per_s = row.bytes_per_step / (row.ms_per_step * 1e-3) / 1e9;
          if (policy == Policy::kFull) full_ms[row.gemv] = row.ms_per_step;
          report.rows.push_back(row);
          std::fprintf(stderr, "bench-e2e: %s batch %d context %d %s budget %d gemv %s: %.2f ms/step\n", o.shape.c_str(),
                       batch, context, policy_name(policy).c_str(), budget, row.gemv.c_str(), row.ms_per_step);
        }
      }
      for (auto& row : report.rows)
        if (row.batch == batch && row.context == context && !row.skipped && full_ms.count(row.gemv))
          row.speedup_vs_full = full_ms[row.gemv] / row.ms_per_step;
    }
  return report;
}

}  // namespace adamas
