// Where the weight products' time goes (fifteenth session probe, not part of the library): the
// LongChat-7B products of one decode step at batch 1 (32 layers of q|k|v 12288 x 4096, o 4096 x
// 4096, gate|up 22016 x 4096, down 4096 x 11008, bf16; 12.9 GB), each kind timed as a CUDA graph of
// its 32 launches on distinct weights (so nothing is read from L2), against a plain read of the
// same bytes:
//   read      every weight byte read once with 16-byte streaming loads, a grid of 8 waves (ceiling)
//   gemv      the library's gemv_bf16 (src/cuda/gemv.h) as the decoder calls it, with and without
//             programmatic launch
// and the whole step's 128 products in layer order. Medians of 20 graph replays.
// Build (the library built for sm_90a in build-gpu): nvcc -O3 -std=c++20 -arch=sm_90a -I include
//   -I src -o gemv_probe bench/probes/gemv_probe.cu -L build-gpu -ladamas; run: ./gemv_probe
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "cuda/gemv.h"
#include "probe_check.h"
#include "probe_weights.cuh"

namespace {

constexpr int kLayers = 32;

struct Kind {
  const char* name;
  int out, in;
  adamas::cuda::GemvEpilogue epilogue;
};

__global__ void read_kernel(const uint4* data, size_t chunks, unsigned* sink) {
  uint32_t acc = 0;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < chunks; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const uint4 v = __ldcs(data + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x12345678u) *sink = acc;  // keeps the loads
}

float median_graph_ms(cudaStream_t stream, const std::function<void()>& enqueue, int reps = 20) {
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  enqueue();
  CHECK(cudaStreamEndCapture(stream, &graph));
  CHECK(cudaGraphInstantiate(&exec, graph, 0));
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));
  std::vector<float> ms;
  for (int r = 0; r < reps + 2; ++r) {
    CHECK(cudaEventRecord(a, stream));
    CHECK(cudaGraphLaunch(exec, stream));
    CHECK(cudaEventRecord(b, stream));
    CHECK(cudaEventSynchronize(b));
    float t = 0;
    CHECK(cudaEventElapsedTime(&t, a, b));
    if (r >= 2) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  CHECK(cudaGraphExecDestroy(exec));
  CHECK(cudaGraphDestroy(graph));
  return ms[ms.size() / 2];
}

}  // namespace

int main() {
  using adamas::cuda::GemvEpilogue;
  const Kind kinds[] = {{"qkv", 12288, 4096, GemvEpilogue::kStore},
                        {"o", 4096, 4096, GemvEpilogue::kAccumulate},
                        {"gate_up", 22016, 4096, GemvEpilogue::kSwiGlu},
                        {"down", 4096, 11008, GemvEpilogue::kAccumulate}};
  int sms = 0;
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  cudaStream_t stream;
  CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  std::vector<std::vector<uint16_t*>> weights(4);
  for (int k = 0; k < 4; ++k)
    for (int l = 0; l < kLayers; ++l) {
      uint16_t* w;
      const size_t n = static_cast<size_t>(kinds[k].out) * kinds[k].in;
      CHECK(cudaMalloc(&w, n * 2));
      fill_bf16_kernel<<<4 * sms, 256, 0, stream>>>(w, n, 977u * (k * kLayers + l + 1));
      weights[k].push_back(w);
    }
  uint16_t *x, *act_in, *act_out;
  float* y;
  unsigned* sink;
  CHECK(cudaMalloc(&x, 16 * 11008 * 2));
  CHECK(cudaMalloc(&act_in, 16 * 11008 * 2));
  CHECK(cudaMalloc(&act_out, 16 * 11008 * 2));
  CHECK(cudaMalloc(&y, 16 * 22016 * 4));
  CHECK(cudaMalloc(&sink, 4));
  fill_bf16_kernel<<<sms, 256, 0, stream>>>(x, 16 * 11008, 5u);
  fill_bf16_kernel<<<sms, 256, 0, stream>>>(act_in, 16 * 11008, 7u);
  CHECK(cudaStreamSynchronize(stream));

  auto problem = [&](int k, int l, bool programmatic) {
    adamas::cuda::GemvProblem p;
    p.weight = weights[k][l];
    p.input = kinds[k].in == 4096 ? x : act_in;
    p.out = kinds[k].out;
    p.in = kinds[k].in;
    p.epilogue = kinds[k].epilogue;
    p.y = y;
    p.act = act_out;
    p.programmatic = programmatic;
    return p;
  };
  auto report = [&](const char* what, const char* kind, double bytes, float ms) {
    std::printf("{\"what\": \"%s\", \"kind\": \"%s\", \"us_per_product\": %.2f, \"gb_per_s\": %.0f}\n", what, kind,
                1e3 * ms / kLayers, bytes / (ms * 1e-3) / 1e9);
  };
  double step_bytes = 0;
  for (int k = 0; k < 4; ++k) {
    const double bytes = 2.0 * kinds[k].out * kinds[k].in * kLayers;
    step_bytes += bytes;
    const size_t chunks = static_cast<size_t>(kinds[k].out) * kinds[k].in / 8;
    report("read", kinds[k].name, bytes, median_graph_ms(stream, [&] {
             for (int l = 0; l < kLayers; ++l)
               read_kernel<<<8 * 4 * sms, 256, 0, stream>>>(reinterpret_cast<const uint4*>(weights[k][l]), chunks, sink);
           }));
    for (bool programmatic : {false, true})
      report(programmatic ? "gemv_pdl" : "gemv", kinds[k].name, bytes, median_graph_ms(stream, [&] {
               for (int l = 0; l < kLayers; ++l) adamas::cuda::gemv_bf16(problem(k, l, programmatic), stream);
             }));
  }
  for (bool programmatic : {false, true}) {
    const float ms = median_graph_ms(stream, [&] {
      for (int l = 0; l < kLayers; ++l)
        for (int k = 0; k < 4; ++k) adamas::cuda::gemv_bf16(problem(k, l, programmatic), stream);
    });
    std::printf("{\"what\": \"%s\", \"kind\": \"step\", \"ms\": %.3f, \"gb_per_s\": %.0f}\n",
                programmatic ? "gemv_pdl" : "gemv", ms, step_bytes / (ms * 1e-3) / 1e9);
  }
  const float read_ms = median_graph_ms(stream, [&] {
    for (int l = 0; l < kLayers; ++l)
      for (int k = 0; k < 4; ++k)
        read_kernel<<<8 * 4 * sms, 256, 0, stream>>>(reinterpret_cast<const uint4*>(weights[k][l]),
                                                    static_cast<size_t>(kinds[k].out) * kinds[k].in / 8, sink);
  });
  std::printf("{\"what\": \"read\", \"kind\": \"step\", \"ms\": %.3f, \"gb_per_s\": %.0f}\n", read_ms,
              step_bytes / (read_ms * 1e-3) / 1e9);
  return 0;
}
