// Does a kernel's run-once code cost more after the L2 flush than warm? (session 35 probe, not part
// of the library.) One warp (or 8) per block, 132 or
// 264 blocks, runs `long_region` (4096 straight-line FFMAs in 8 chains, 64 KiB of code) once, or
// `loop_region` (the same FMAs as 512 turns of an 8-FMA loop), or an empty kernel. Conditions before
// each timed launch (events, median of 50 after 10): 0 the same kernel just ran (warm); 1 a 256 MiB
// memset (the L2 emptied of the code, as the benchmarks' flush); 2 memset then the kernel on one
// block (code in L2, other SMs' instruction caches as after 1); 3 memset then another kernel with its
// own copy of the code on every SM; 4 as 3, then the kernel on one block.
// Result (H200, 2026-12-02, bench/results/2026-12-02-s35/c1/icache.txt): the long region took 8.9 us
// warm and 8.9-9.1 after a flush, 15.0 / 15.1-15.4 with 264 x 256 threads: fetching 64 KiB of cold
// code costs at most about 0.2 us; the step's run-once phases are not slowed by DRAM code fetches.
// Build: nvcc -O3 -arch=sm_90a -o icache_probe icache_probe.cu
#include <cstdio>
#include <cstdint>
#include <vector>
#include <algorithm>
#include <cuda_runtime.h>
#define CK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { printf("ERR %s line %d: %s\n", #x, __LINE__, cudaGetErrorString(e)); return 1; } } while (0)

#define FMA1(x) asm volatile("fma.rn.f32 %0, %0, %1, %2;" : "+f"(x) : "f"(a), "f"(b));
#define FMA8 FMA1(x0) FMA1(x1) FMA1(x2) FMA1(x3) FMA1(x4) FMA1(x5) FMA1(x6) FMA1(x7)
#define FMA64 FMA8 FMA8 FMA8 FMA8 FMA8 FMA8 FMA8 FMA8
#define FMA512 FMA64 FMA64 FMA64 FMA64 FMA64 FMA64 FMA64 FMA64
__device__ __noinline__ float long_region(float a, float b) {  // 4096 FFMAs, straight-line
  float x0=threadIdx.x, x1=x0+1, x2=x0+2, x3=x0+3, x4=x0+4, x5=x0+5, x6=x0+6, x7=x0+7;
  FMA512 FMA512 FMA512 FMA512 FMA512 FMA512 FMA512 FMA512
  return x0+x1+x2+x3+x4+x5+x6+x7;
}
__device__ __noinline__ float loop_region(float a, float b, int iters) {
  float x0=threadIdx.x, x1=x0+1, x2=x0+2, x3=x0+3, x4=x0+4, x5=x0+5, x6=x0+6, x7=x0+7;
#pragma unroll 1
  for (int i = 0; i < iters; ++i) {
    asm volatile("fma.rn.f32 %0, %0, %1, %2;" : "+f"(x0) : "f"(a), "f"(b));
    asm volatile("fma.rn.f32 %0, %0, %1, %2;" : "+f"(x1) : "f"(a), "f"(b));
    asm volatile("fma.rn.f32 %0, %0, %1, %2;" : "+f"(x2) : "f"(a), "f"(b));
    asm volatile("fma.rn.f32 %0, %0, %1, %2;" : "+f"(x3) : "f"(a), "f"(b));
    asm volatile("fma.rn.f32 %0, %0, %1, %2;" : "+f"(x4) : "f"(a), "f"(b));
    asm volatile("fma.rn.f32 %0, %0, %1, %2;" : "+f"(x5) : "f"(a), "f"(b));
    asm volatile("fma.rn.f32 %0, %0, %1, %2;" : "+f"(x6) : "f"(a), "f"(b));
    asm volatile("fma.rn.f32 %0, %0, %1, %2;" : "+f"(x7) : "f"(a), "f"(b));
  }
  return x0+x1+x2+x3+x4+x5+x6+x7;
}
__global__ void run_long(float* out, float a, float b) { float r = long_region(a, b); if (r == 12345.f) out[0] = r; }
__global__ void run_loop(float* out, float a, float b, int iters) { float r = loop_region(a, b, iters); if (r == 12345.f) out[0] = r; }
__global__ void empty_kernel(float* out) { if (out == nullptr) out[1] = 0; }
// Runs its own copy of the long region (other code addresses): evicts the SMs' instruction caches.
__global__ void other_code(float* out, float a, float b) { float r = long_region(a, b); if (r == 12345.f) out[1] = r; }

int main() {
  float* out; CK(cudaMalloc(&out, 64));
  const size_t fb = 256ull << 20; void* flush; CK(cudaMalloc(&flush, fb));
  cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
  auto launch = [&](int variant, int g, int threads) {
    if (variant == 0) run_long<<<g, threads>>>(out, 1.0001f, 0.5f);
    else if (variant == 1) run_loop<<<g, threads>>>(out, 1.0001f, 0.5f, 512);
    else empty_kernel<<<g, threads>>>(out);
  };
  const char* names[] = {"warm", "memset flush", "memset + 1-block run (L2 warm)", "memset + other code on all SMs",
                         "memset + other code + 1-block run"};
  for (int g : {132, 264}) for (int threads : {32, 256}) for (int variant = 0; variant < 3; ++variant) {
    const char* vname = variant == 0 ? "long(4096 straight)" : variant == 1 ? "loop(512x8)" : "empty";
    for (int cond = 0; cond < 5; ++cond) {
      std::vector<float> t;
      for (int it = 0; it < 60; ++it) {
        if (cond >= 1) cudaMemsetAsync(flush, it & 0xff, fb);
        if (cond == 3 || cond == 4) other_code<<<264, 256>>>(out, 1.0001f, 0.5f);
        if (cond == 2 || cond == 4) launch(variant, 1, 32);
        if (cond == 0) launch(variant, g, threads);
        cudaEventRecord(e0);
        launch(variant, g, threads);
        cudaEventRecord(e1);
        CK(cudaEventSynchronize(e1));
        float ms; cudaEventElapsedTime(&ms, e0, e1); if (it >= 10) t.push_back(ms * 1000);
      }
      std::sort(t.begin(), t.end());
      printf("grid %3d x %3d  %-20s cond %d (%s): median %.2f us  p10 %.2f p90 %.2f\n", g, threads, vname, cond,
             names[cond], t[t.size() / 2], t[t.size() / 10], t[t.size() * 9 / 10]);
    }
  }
  CK(cudaDeviceSynchronize());
  return 0;
}
