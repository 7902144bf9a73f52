// How soon after a grid's last block exits does the kernel behind it go on? (twenty-seventh session
// probe, not part of the library.) The decoder's o product waits for the grid step with
// griddepcontrol.wait; this measures what that wait costs beyond the step's own last store.
//   A: 256 blocks of 256 threads with 100 KiB of shared memory each (2 a multiprocessor, like the
//      grid step), each spinning a different time (the last leaves about 12 us in) and stamping
//      %globaltimer as it leaves; block `blocks - 1` of the slowest group leaves last.
//   B: 512 blocks of 256 threads (like the o product; 48 KiB of shared memory), launched right behind A on the same stream:
//      plain  an ordinary launch: each block stamps its start;
//      pdl    programmatic (A lets it launch at A's start): each block stamps after griddepcontrol.wait;
//      flag   programmatic, each block spins until a counter that every A block increments as it
//             leaves (after a fence) reaches A's block count, then stamps; a 1-block kernel after B
//             zeroes the counter.
// Prints, per mode, the medians over 200 launches of B's first and median stamp after A's last.
// Build: nvcc -O3 -std=c++20 -arch=sm_90a -o pdl_release_probe bench/probes/pdl_release_probe.cu
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "probe_check.h"

namespace {

// B's 48 KiB of shared memory keep it off a multiprocessor until one of A's blocks leaves it (the grid
// step's registers do the same to the o product).
constexpr int kBlocksA = 256, kBlocksB = 512, kThreads = 256, kSharedA = 100 * 1024, kSharedB = 48 * 1024, kReps = 200;

__device__ __forceinline__ unsigned long long now_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %globaltimer;" : "=l"(t));
  return t;
}

__global__ void a_kernel(unsigned long long* exits, int* counter) {
  extern __shared__ int scratch[];
  asm volatile("griddepcontrol.launch_dependents;");
  const long long start = clock64();
  const long long cycles = 4000 + 2000LL * (blockIdx.x % 11);  // about 2-14 us at 1.98 GHz
  int acc = 0;
  while (clock64() - start < cycles) acc += scratch[threadIdx.x];
  if (acc == 12345) scratch[threadIdx.x] = acc;  // keeps the loop
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    atomicAdd(counter, 1);
    exits[blockIdx.x] = now_ns();
  }
}

template <int kMode>  // 0 plain, 1 pdl, 2 flag
__global__ void b_kernel(unsigned long long* starts, int* counter) {
  if constexpr (kMode == 1) asm volatile("griddepcontrol.wait;" ::: "memory");
  if constexpr (kMode == 2) {
    if (threadIdx.x == 0) {
      int seen = 0;
      do asm volatile("ld.acquire.gpu.global.b32 %0, [%1];" : "=r"(seen) : "l"(counter) : "memory");
      while (seen < kBlocksA);
    }
    __syncthreads();
  }
  extern __shared__ int keep_out[];
  if (threadIdx.x == 0) starts[blockIdx.x] = now_ns() + (keep_out[0] == 12345);
}

__global__ void reset_kernel(int* counter) { *counter = 0; }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main() {
  unsigned long long *exits = nullptr, *starts = nullptr;
  int* counter = nullptr;
  CHECK(cudaMalloc(&exits, kBlocksA * sizeof(unsigned long long)));
  CHECK(cudaMalloc(&starts, kBlocksB * sizeof(unsigned long long)));
  CHECK(cudaMalloc(&counter, sizeof(int)));
  CHECK(cudaMemset(counter, 0, sizeof(int)));
  CHECK(cudaFuncSetAttribute(a_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSharedA));
  cudaStream_t stream;
  CHECK(cudaStreamCreate(&stream));
  const char* names[] = {"plain", "pdl", "flag"};
  for (int mode = 0; mode < 3; ++mode) {
    std::vector<double> first, middle;
    for (int rep = 0; rep < kReps + 5; ++rep) {
      a_kernel<<<kBlocksA, kThreads, kSharedA, stream>>>(exits, counter);
      cudaLaunchAttribute attribute{};
      attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
      attribute.val.programmaticStreamSerializationAllowed = mode == 0 ? 0 : 1;
      cudaLaunchConfig_t config{};
      config.gridDim = dim3(kBlocksB);
      config.blockDim = dim3(kThreads);
      config.dynamicSmemBytes = kSharedB;
      config.stream = stream;
      config.attrs = &attribute;
      config.numAttrs = 1;
      if (mode == 0) CHECK(cudaLaunchKernelEx(&config, b_kernel<0>, starts, counter));
      if (mode == 1) CHECK(cudaLaunchKernelEx(&config, b_kernel<1>, starts, counter));
      if (mode == 2) CHECK(cudaLaunchKernelEx(&config, b_kernel<2>, starts, counter));
      reset_kernel<<<1, 1, 0, stream>>>(counter);
      CHECK(cudaStreamSynchronize(stream));
      CHECK(cudaGetLastError());
      std::vector<unsigned long long> a(kBlocksA), b(kBlocksB);
      CHECK(cudaMemcpy(a.data(), exits, a.size() * sizeof(a[0]), cudaMemcpyDeviceToHost));
      CHECK(cudaMemcpy(b.data(), starts, b.size() * sizeof(b[0]), cudaMemcpyDeviceToHost));
      if (rep < 5) continue;  // warm-up
      const unsigned long long last = *std::max_element(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      first.push_back((static_cast<double>(b.front()) - static_cast<double>(last)) / 1000.0);
      middle.push_back((static_cast<double>(b[b.size() / 2]) - static_cast<double>(last)) / 1000.0);
    }
    std::printf("%-5s B's first block goes on %+.2f us after A's last exit, its median block %+.2f us (medians of %d)\n",
                names[mode], median(first), median(middle), kReps);
  }
  return 0;
}
