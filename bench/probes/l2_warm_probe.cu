// Does L2 make the o product faster, and do bulk L2 prefetches land (nineteenth session probe, not
// part of the library)? The LongChat-7B o product (4096 x 4096 bf16, 33.5 MB; src/cuda/gemv.h)
// timed with events around its launch, after the L2 is flushed (a read of 256 MB) and then:
//   cold       nothing
//   read       its first MB megabytes read with plain loads (the best L2 could give)
//   prefetch   the same bytes asked for with cp.async.bulk.prefetch.L2 (as step::warm_l2_share),
//              then 40 us of waiting so they land
//   prefetch0  the prefetches with no wait: the product right behind them
// Medians of 40 runs. Build (the library built for sm_90a in build-gpu): nvcc -O3 -std=c++20
// -arch=sm_90a -I include -I src -o l2_warm_probe bench/probes/l2_warm_probe.cu -L build-gpu -ladamas
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <vector>

#include "cuda/gemv.h"
#include "probe_check.h"
#include "probe_weights.cuh"

namespace {

__global__ void read_kernel(const uint4* data, size_t chunks, unsigned* sink) {
  uint32_t acc = 0;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < chunks; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const uint4 v = __ldcg(data + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x12345678u) *sink = acc;
}

// One warp a block; lane l of block b asks for 16 KB chunk (b * 32 + l) of [data, data + bytes).
__global__ void prefetch_kernel(const char* data, size_t bytes) {
  const size_t chunk = 16384, first = (static_cast<size_t>(blockIdx.x) * 32 + threadIdx.x) * chunk;
  for (size_t at = first; at < bytes; at += static_cast<size_t>(gridDim.x) * 32 * chunk) {
    const unsigned size = static_cast<unsigned>(chunk < bytes - at ? chunk : bytes - at);
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(data + at), "r"(size) : "memory");
  }
}

__global__ void wait_kernel(unsigned long long ns) {
  unsigned long long start, now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < ns);
}

}  // namespace

int main() {
  int sms = 0;
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  cudaStream_t stream;
  CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  const int out = 4096, in = 4096;
  const size_t weight_bytes = static_cast<size_t>(out) * in * 2, flush_bytes = 256u << 20;
  uint16_t *w, *x, *flush;
  float* y;
  unsigned* sink;
  CHECK(cudaMalloc(&w, weight_bytes));
  CHECK(cudaMalloc(&flush, flush_bytes));
  CHECK(cudaMalloc(&x, in * 2));
  CHECK(cudaMalloc(&y, out * 4));
  CHECK(cudaMalloc(&sink, 4));
  fill_bf16_kernel<<<4 * sms, 256, 0, stream>>>(w, weight_bytes / 2, 11u);
  fill_bf16_kernel<<<4 * sms, 256, 0, stream>>>(flush, flush_bytes / 2, 13u);
  fill_bf16_kernel<<<sms, 256, 0, stream>>>(x, in, 5u);
  CHECK(cudaStreamSynchronize(stream));
  adamas::cuda::GemvProblem p;
  p.weight = w;
  p.input = x;
  p.out = out;
  p.in = in;
  p.epilogue = adamas::cuda::GemvEpilogue::kAccumulate;
  p.y = y;
  p.programmatic = false;
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));
  auto time_product = [&](const std::function<void()>& before) {
    std::vector<float> us;
    for (int r = 0; r < 42; ++r) {
      read_kernel<<<8 * sms, 256, 0, stream>>>(reinterpret_cast<const uint4*>(flush), flush_bytes / 16, sink);
      before();
      CHECK(cudaEventRecord(a, stream));
      adamas::cuda::gemv_bf16(p, stream);
      CHECK(cudaEventRecord(b, stream));
      CHECK(cudaEventSynchronize(b));
      float ms = 0;
      CHECK(cudaEventElapsedTime(&ms, a, b));
      if (r >= 2) us.push_back(1e3f * ms);
    }
    std::sort(us.begin(), us.end());
    return us[us.size() / 2];
  };
  std::printf("{\"case\": \"cold\", \"mb\": 0, \"us\": %.2f}\n", time_product([] {}));
  for (int mb : {8, 16, 24, 32}) {
    const size_t bytes = std::min(weight_bytes, static_cast<size_t>(mb) << 20);
    std::printf("{\"case\": \"read\", \"mb\": %d, \"us\": %.2f}\n", mb, time_product([&] {
                  read_kernel<<<8 * sms, 256, 0, stream>>>(reinterpret_cast<const uint4*>(w), bytes / 16, sink);
                }));
    std::printf("{\"case\": \"prefetch\", \"mb\": %d, \"us\": %.2f}\n", mb, time_product([&] {
                  prefetch_kernel<<<2 * sms, 32, 0, stream>>>(reinterpret_cast<const char*>(w), bytes);
                  wait_kernel<<<1, 32, 0, stream>>>(40000);
                }));
    std::printf("{\"case\": \"prefetch0\", \"mb\": %d, \"us\": %.2f}\n", mb, time_product([&] {
                  prefetch_kernel<<<2 * sms, 32, 0, stream>>>(reinterpret_cast<const char*>(w), bytes);
                }));
  }
  std::printf("{\"case\": \"wait_only\", \"mb\": 0, \"us\": %.2f}\n", time_product([&] { wait_kernel<<<1, 32, 0, stream>>>(40000); }));
  CHECK(cudaGetLastError());
  return 0;
}
