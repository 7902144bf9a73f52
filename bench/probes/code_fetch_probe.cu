// What does a kernel's first pass through cold code cost, and does asking L2 for the code first help?
// (twenty-eighth session probe, not part of the library.) The grid step's phases after its scan run
// about once a warp, so their code is fetched cold (bench/results/2026-11-30-s23: "no instruction"
// stalls on every 256-byte boundary); this measures that in isolation.
//   1. Where code lies: each kernel's address as device code sees it (a generic address), the first 16
//      bytes read there with an ordinary load (to compare with cuobjdump's encodings), and whether a
//      prefetch of an address past the code faults.
//   2. `straight`: one warp a block (132 blocks) runs kInstructions dependent integer operations of
//      straight-line code (about 16 bytes each) once. Timed with events, median of kReps launches:
//        warm   run right after the same launch (code in L2 and in the SMs' instruction caches);
//        cold   after a 256 MiB memset (L2 emptied of the code);
//        pf     cold, but every thread first asks L2 for one 128-byte line of the kernel's code
//               (prefetch.global.L2; the kernel's address comes from a helper kernel);
//        pf_ahead cold, and the code asked of L2 by a separate 1-block kernel launched before it.
// Result (H200, CUDA 13.0, bench/results/2026-12-01-s28 call 1): part 1 ends the program with "an
// illegal memory access": a kernel's address as device code sees it cannot be read with a load, so
// code cannot be asked of L2 by address (the step experiment beside it, code_prefetch.patch.txt,
// prefetched those addresses to no effect). Taking a kernel's address in device code also changed how
// ptxas compiled that kernel (8 bytes of stack, the grid step's scan loop 1231 against 1160
// instructions).
// Build: nvcc -O3 -std=c++20 -arch=sm_90a -o code_fetch_probe bench/probes/code_fetch_probe.cu
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <vector>

#include "probe_check.h"

namespace {

constexpr int kInstructions = 6000, kReps = 41, kBlocks = 132;

__global__ void tiny_kernel(unsigned* out) { out[threadIdx.x] = threadIdx.x * 3u; }

// Straight-line code: kInstructions / 3 rounds of a multiply-add and a shift-xor, each on the last.
__global__ void straight_kernel(unsigned* out, const char* code, int code_lines, unsigned seed) {
  const int thread = blockIdx.x * blockDim.x + threadIdx.x;
  if (thread < code_lines) asm volatile("prefetch.global.L2 [%0];" ::"l"(code + static_cast<size_t>(thread) * 128));
  unsigned x = seed + threadIdx.x;
#pragma unroll
  for (int i = 0; i < kInstructions / 3; ++i) {
    x = x * 1664525u + (1013904223u + i);
    x ^= x >> 13;
  }
  out[thread] = x;
}

__global__ void prefetch_kernel(const char* code, int code_lines) {
  for (int line = threadIdx.x; line < code_lines; line += blockDim.x)
    asm volatile("prefetch.global.L2 [%0];" ::"l"(code + static_cast<size_t>(line) * 128));
}

__global__ void addresses_kernel(unsigned long long* out) {
  const char* kernels[3] = {reinterpret_cast<const char*>(&tiny_kernel), reinterpret_cast<const char*>(&straight_kernel),
                            reinterpret_cast<const char*>(&prefetch_kernel)};
  for (int k = 0; k < 3; ++k) {
    unsigned long long address;  // through a register: ptxas takes no kernel symbol as a load's operand
    asm volatile("mov.b64 %0, %1;" : "=l"(address) : "l"(kernels[k]));
    out[3 * k] = address;
    const unsigned long long* code = reinterpret_cast<const unsigned long long*>(address);
    out[3 * k + 1] = code[0];
    out[3 * k + 2] = code[1];
  }
  // Past the code: a prefetch is a hint, and must not fault.
  asm volatile("prefetch.global.L2 [%0];" ::"l"(kernels[1] + (256ull << 20)));
  asm volatile("prefetch.global.L2 [%0];" ::"l"(reinterpret_cast<const char*>(4096)));
}

}  // namespace

int main() {
  unsigned long long* addresses = nullptr;
  CHECK(cudaMalloc(&addresses, 16 * sizeof(unsigned long long)));
  addresses_kernel<<<1, 1>>>(addresses);
  CHECK(cudaDeviceSynchronize());
  unsigned long long host[9];
  CHECK(cudaMemcpy(host, addresses, sizeof host, cudaMemcpyDeviceToHost));
  const char* names[3] = {"tiny_kernel", "straight_kernel", "prefetch_kernel"};
  for (int k = 0; k < 3; ++k)
    std::printf("%-16s at 0x%llx: /* 0x%016llx */ /* 0x%016llx */ (offset from tiny %lld)\n", names[k], host[3 * k],
                host[3 * k + 1], host[3 * k + 2], static_cast<long long>(host[3 * k] - host[0]));
  const char* code = reinterpret_cast<const char*>(host[3]);
  cudaFuncAttributes attributes{};
  CHECK(cudaFuncGetAttributes(&attributes, straight_kernel));
  const int code_lines = (kInstructions * 16 + 4096) / 128;

  unsigned* out = nullptr;
  char* flush = nullptr;
  const size_t flush_bytes = 256ull << 20;
  CHECK(cudaMalloc(&out, kBlocks * 32 * sizeof(unsigned)));
  CHECK(cudaMalloc(&flush, flush_bytes));
  cudaEvent_t start, stop;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreate(&stop));
  auto time_one = [&](const char* mode, int rep) {
    const bool cold = std::string_view(mode) != "warm";
    if (cold) CHECK(cudaMemsetAsync(flush, rep & 0xff, flush_bytes));
    else straight_kernel<<<kBlocks, 32>>>(out, code, 0, rep);
    if (std::string_view(mode) == "pf_ahead") prefetch_kernel<<<1, 1024>>>(code, code_lines);
    CHECK(cudaEventRecord(start));
    straight_kernel<<<kBlocks, 32>>>(out, code, std::string_view(mode) == "pf" ? code_lines : 0, rep);
    CHECK(cudaEventRecord(stop));
    CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    CHECK(cudaEventElapsedTime(&ms, start, stop));
    return ms * 1000.0f;
  };
  const char* modes[4] = {"warm", "cold", "pf", "pf_ahead"};
  std::vector<float> times[4];
  for (int rep = 0; rep < kReps + 3; ++rep)
    for (int m = 0; m < 4; ++m) {
      const float us = time_one(modes[m], rep);
      if (rep >= 3) times[m].push_back(us);
    }
  std::printf("straight_kernel: %d instructions of straight-line code, %d blocks of one warp, %d registers; median of %d (us)\n",
              kInstructions, kBlocks, attributes.numRegs, kReps);
  for (int m = 0; m < 4; ++m) {
    std::sort(times[m].begin(), times[m].end());
    std::printf("  %-9s %.2f (min %.2f, max %.2f)\n", modes[m], times[m][kReps / 2], times[m][0], times[m][kReps - 1]);
  }
  return 0;
}
