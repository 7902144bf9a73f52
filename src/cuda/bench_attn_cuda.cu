// run_bench_attn_cuda: one decode step per policy on a device cache of random post-RoPE keys,
// timed per stage. Each stage is captured once in a CUDA graph; every timed replay is preceded by
// an L2 flush (a write of twice the L2 size) outside the timed events; medians over iterations.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <cstdlib>

#include "adamas/bench_attn.h"
#include "adamas/cuda_backend.h"
#include "cuda/device_buffer.cuh"
#include "cuda/event_timer.cuh"
#include "cuda/random_fill.cuh"
#include "select/selector_common.h"

namespace adamas {

namespace cuda {
namespace {

// Reads the flush buffer: evicts the L2 and leaves it full of clean lines. The xor only keeps
// the loads from being optimized away (the sink is written when it equals an unlikely value).
__global__ void read_flush_kernel(const uint4* data, size_t count, uint32_t* sink) {
  uint32_t acc = 0;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const uint4 v = __ldcs(data + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x9e3779b9u) *sink = acc;
}

// How the L2 is emptied before each timed replay (ADAMAS_BENCH_FLUSH): "write" (default, as
// PyTorch's and Triton's benchmarks do: a memset, which leaves the L2 full of dirty lines that the
// timed work then pays to write back) or "read" (a read of the same buffer: clean lines, as after
// the weight reads that precede attention in a decode step).
bool read_flush_from_env() {
  const char* raw = std::getenv("ADAMAS_BENCH_FLUSH");
  const std::string value = raw && *raw ? raw : "write";
  ADAMAS_CHECK(value == "write" || value == "read", "environment variable ADAMAS_BENCH_FLUSH='", value,
               "': expected write or read");
  return value == "read";
}

class Timer {
 public:
  explicit Timer(cudaStream_t stream) : stream_(stream), read_flush_(read_flush_from_env()), sink_(1) {
    int l2 = 0;
    ADAMAS_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
    flush_.resize(std::max<size_t>(2 * static_cast<size_t>(l2), 64u << 20));
    ADAMAS_CUDA_CHECK(cudaMemsetAsync(flush_.data(), 0x5a, flush_.bytes(), stream_));
  }
  // Median microseconds of `iterations` replays of the work captured by `record` (0 if empty).
  template <typename Record>
  double median_us(Record&& record, int warmup, int iterations) {
    cudaGraph_t graph;
    ADAMAS_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    record(stream_);
    ADAMAS_CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
    size_t nodes = 0;
    ADAMAS_CUDA_CHECK(cudaGraphGetNodes(graph, nullptr, &nodes));
    if (nodes == 0) {
      cudaGraphDestroy(graph);
      return 0.0;
    }
    cudaGraphExec_t exec;
    ADAMAS_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    const float ms = median_event_ms(
        stream_, warmup, iterations, [&] { ADAMAS_CUDA_CHECK(cudaGraphLaunch(exec, stream_)); },
        [&](int i) {
          if (read_flush_) {
            read_flush_kernel<<<1024, 256, 0, stream_>>>(reinterpret_cast<const uint4*>(flush_.data()), flush_.bytes() / 16,
                                                         sink_.data());
            ADAMAS_CUDA_CHECK_LAUNCH();
          } else {
            ADAMAS_CUDA_CHECK(cudaMemsetAsync(flush_.data(), i & 0xff, flush_.bytes(), stream_));
          }
        });
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    return ms * 1000.0;
  }

 private:
  cudaStream_t stream_;
  bool read_flush_;
  DeviceBuffer<uint8_t> flush_;
  DeviceBuffer<uint32_t> sink_;
};

// Bytes a step must read from the cache: the scored metadata plus the attended K/V rows.
double step_bytes(const BenchAttnOptions& o, Policy policy, const std::vector<int32_t>& lens) {
  const double kv_row = 2.0 * o.head_dim * dtype_size_bytes(o.dtype);  // K + V of one token and KV head
  double total = 0;
  for (int n : lens) {
    const double heads = o.num_kv_heads;
    const bool dense = policy == Policy::kFull || n <= o.token_budget;
    if (dense) {
      total += heads * n * kv_row;
      continue;
    }
    switch (policy) {
      case Policy::kAdamas: total += heads * (n * (o.head_dim / 4.0) + o.token_budget * kv_row); break;
      case Policy::kOracle: total += heads * (n * kv_row / 2 + o.token_budget * kv_row); break;
      case Policy::kQuest: {
        const double pages = std::ceil(static_cast<double>(n) / o.page_size);
        const double kept = std::min<double>(pages, std::max(3, o.token_budget / o.page_size));
        total += heads * (pages * 2.0 * o.head_dim * 4 + kept * o.page_size * kv_row);
        break;
      }
      default: total += heads * o.token_budget * kv_row; break;
    }
  }
  return total;
}

}  // namespace
}  // namespace cuda

BenchAttnReport run_bench_attn_cuda(const BenchAttnOptions& o) {
  using namespace cuda;
  ADAMAS_CHECK(gpu_available(), "bench-attn --device cuda: no CUDA device is present");
  ADAMAS_CHECK(o.batch >= 1 && o.context >= 1 && o.iterations >= 1, "bench-attn: batch, context and iterations must be positive");
  BenchAttnReport report;
  report.device_name = gpu_name();
  report.threads = 0;
  cudaStream_t stream;
  ADAMAS_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

  KvCacheConfig cache_config;
  cache_config.num_layers = 1;
  cache_config.num_kv_heads = o.num_kv_heads;
  cache_config.head_dim = o.head_dim;
  cache_config.page_size = o.page_size;
  cache_config.dtype = o.dtype;
  cache_config.max_batch = o.batch;
  cache_config.max_tokens_per_seq = o.context;
  cache_config.code_thresholds = o.thresholds;
  DeviceKvCache cache(cache_config);

  // Lengths and a shuffled page table (pages of a sequence are scattered, as in a serving pool).
  std::vector<int32_t> lens(o.batch);
  for (int s = 0; s < o.batch; ++s)
    lens[s] = o.ragged ? std::max(1, static_cast<int>(static_cast<int64_t>(o.context) * (o.batch - s) / o.batch)) : o.context;
  const int max_pages = cache.max_pages_per_seq();
  std::vector<int32_t> pages(cache.num_pages());
  std::iota(pages.begin(), pages.end(), 0);
  std::mt19937_64 rng(o.seed);
  std::shuffle(pages.begin(), pages.end(), rng);
  std::vector<int32_t> table(static_cast<size_t>(o.batch) * max_pages, -1);
  size_t next = 0;
  for (int s = 0; s < o.batch; ++s)
    for (int p = 0; p < (lens[s] + o.page_size - 1) / o.page_size; ++p) table[static_cast<size_t>(s) * max_pages + p] = pages[next++];
  cache.set_page_table(table, lens);

  // Fill with the append kernel, a chunk of tokens at a time.
  const int chunk = std::min(o.context, 8192);
  const size_t chunk_floats = static_cast<size_t>(chunk) * o.num_kv_heads * o.head_dim;
  DeviceBuffer<float> new_keys(chunk_floats), new_values(chunk_floats);
  std::vector<int32_t> starts;
  for (int start = 0; start < o.context; start += chunk) starts.push_back(start);
  DeviceBuffer<int32_t> device_starts(starts.size());
  ADAMAS_CUDA_CHECK(cudaMemcpy(device_starts.data(), starts.data(), starts.size() * sizeof(int32_t), cudaMemcpyHostToDevice));
  const PagedKvView view = cache.view(0);
  uint64_t fill_seed = o.seed * 1000003ull;
  for (int s = 0; s < o.batch; ++s) {
    for (size_t c = 0; c < starts.size() && starts[c] < lens[s]; ++c) {
      const int count = std::min(chunk, lens[s] - starts[c]);
      fill_normal(new_keys.data(), chunk_floats, ++fill_seed, o.key_scale, stream);
      fill_normal(new_values.data(), chunk_floats, ++fill_seed, 1.0f, stream);
      cache.append(0, new_keys.data(), new_values.data(), device_starts.data() + c, s, 1, count, stream);
    }
  }
  const size_t q_floats = static_cast<size_t>(o.batch) * o.num_q_heads * o.head_dim;
  DeviceBuffer<float> q(q_floats), out(q_floats);
  fill_normal(q.data(), q_floats, o.seed * 7 + 3, o.key_scale, stream);
  ADAMAS_CUDA_CHECK(cudaStreamSynchronize(stream));

  Timer timer(stream);
  const int warmup = std::max(1, o.warmup);
  for (const auto& [policy, estimator] : bench_attn_cases(o)) {
    DecodePlanConfig plan_config;
    plan_config.max_batch = o.batch;
    plan_config.num_q_heads = o.num_q_heads;
    plan_config.num_kv_heads = o.num_kv_heads;
    plan_config.head_dim = o.head_dim;
    plan_config.page_size = o.page_size;
    plan_config.dtype = o.dtype;
    plan_config.max_context = o.context;
    plan_config.selector.policy = policy;
    plan_config.selector.estimator = estimator;
    plan_config.selector.token_budget = o.token_budget;
    plan_config.selector.thresholds = o.thresholds;
    DecodePlan plan(plan_config);
    StreamHandle handle = stream;
    // One untimed step so the selection the attend stage reads exists.
    plan.step(view, q.data(), out.data(), handle);
    ADAMAS_CUDA_CHECK(cudaStreamSynchronize(stream));
    BenchAttnRow row;
    row.policy = policy;
    row.estimator = estimator;
    row.estimate_us = timer.median_us([&](cudaStream_t s) { plan.estimate(view, q.data(), s); }, warmup, o.iterations);
    row.select_us = timer.median_us([&](cudaStream_t s) { plan.select_from_scores(view, s); }, warmup, o.iterations);
    row.attend_us = timer.median_us([&](cudaStream_t s) { plan.attend(view, q.data(), out.data(), true, s); }, warmup,
                                    o.iterations);
    row.total_us = timer.median_us([&](cudaStream_t s) { plan.step(view, q.data(), out.data(), s); }, warmup, o.iterations);
    row.bytes_read = step_bytes(o, policy, lens);
    row.achieved_gb_per_s = row.bytes_read / (row.total_us * 1e-6) / 1e9;
    row.estimate_gb_per_s = row.estimate_us > 0 ? estimate_pass_bytes(o, policy, estimator) / (row.estimate_us * 1e-6) / 1e9 : 0;
    report.rows.push_back(row);
  }
  double full_us = 0;
  for (const auto& row : report.rows)
    if (row.policy == Policy::kFull) full_us = row.total_us;
  for (auto& row : report.rows) row.speedup_vs_full = full_us > 0 ? full_us / row.total_us : 0;
  ADAMAS_CUDA_CHECK(cudaStreamDestroy(stream));
  return report;
}

}  // namespace adamas
