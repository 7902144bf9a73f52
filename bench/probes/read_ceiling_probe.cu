// How fast can the H200 read the step's codes? (twenty-ninth session probe, not part of the library)
// The step's scan reads 134 MB at MHA 128K (32 rows x 131072 tokens x 32 bytes, layout
// [page][head][page_size][32], a shuffled page table) at about 3.7 TB/s, and a plain warp-contiguous
// read of the same bytes reached 3.6 TB/s (scan_probe.cu). Is that the device's read ceiling, or
// the load instruction's? Each variant only reads (XOR-folds what it reads into a sink):
//   ldg        whole buffer, grid-stride 16-byte loads, U loads a thread in flight
//   ldg_paged  the scan's order: block = (rank, row), lane = token, 2 x 16 bytes a token, 4 tokens
//              a lane a round (as the scan's register rounds)
//   bulk       whole buffer by cp.async.bulk into a ring of shared-memory stages (one producer
//              thread, consumer warps), chunk and stage count as given
//   bulk_paged the scan's span by cp.async.bulk, one copy per (page, head) chunk of page_size x 32
//              bytes, K chunks a stage (its one producer thread reads each page id before the copy:
//              latency-bound, so it measures that thread, not the copy engine)
//   launch     an empty kernel of the step's grid, plain and from a CUDA graph (the fixed cost)
// Order: the floors (the MHA codes at 8K / 32K / 128K read contiguously) and the empty kernels, then
// the load-policy sweep of ldg and ldg_paged, then (unless all=0) every configuration above.
// L2 emptied before each timed run by a 256 MiB memset (write, the benchmarks' default) or a read.
// Build: nvcc -O3 -std=c++20 -arch=sm_90a -o read_ceiling_probe read_ceiling_probe.cu
// Run: ./read_ceiling_probe [page_size=16] [all=1]   (JSON lines: variant, config, flush, us, GB/s; all=0:
// stop after the policy sweep)
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "probe_check.h"

constexpr int kRows = 32, kTokens = 131072, kCodeBytes = 32;
constexpr size_t kBytes = size_t{kRows} * kTokens * kCodeBytes;

__device__ __forceinline__ uint4 load_cs(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.cs.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
  return v;
}

// The load's cache policy (template argument): does any read avoid paying the write-back of the
// dirty lines a memset flush leaves in L2?
enum Load { kCs = 0, kPlain = 1, kHintFirst = 2, kNoAllocHintFirst = 3, kLastUse = 4, kHintUnchanged = 5 };
constexpr const char* kLoadNames[] = {"cs", "plain", "L2hint_evict_first", "nc_noalloc_L2hint_evict_first", "lu",
                                      "L2hint_evict_unchanged"};

template <int L>
__device__ __forceinline__ uint4 load_as(const uint4* p, uint64_t policy) {
  uint4 v;
  if constexpr (L == kCs) {
    v = load_cs(p);
  } else if constexpr (L == kPlain) {
    asm volatile("ld.global.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
  } else if constexpr (L == kHintFirst || L == kHintUnchanged) {
    asm volatile("ld.global.L2::cache_hint.v4.u32 {%0,%1,%2,%3}, [%4], %5;"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(p), "l"(policy));
  } else if constexpr (L == kNoAllocHintFirst) {
    asm volatile("ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%0,%1,%2,%3}, [%4], %5;"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(p), "l"(policy));
  } else {
    asm volatile("ld.global.lu.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
  }
  return v;
}

template <int L>
__device__ __forceinline__ uint64_t make_policy() {
  uint64_t policy = 0;
  if constexpr (L == kHintUnchanged)
    asm volatile("createpolicy.fractional.L2::evict_unchanged.b64 %0, 1.0;" : "=l"(policy));
  else
    asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
  return policy;
}

__device__ __forceinline__ void fold(uint32_t& acc, uint4 v) { acc ^= v.x ^ (v.y * 3u) ^ (v.z * 5u) ^ (v.w * 7u); }

// ------------------------------------------------------------------ plain loads
template <int U, int L = kCs>
__global__ void ldg_kernel(const uint4* data, size_t count, uint32_t* sink) {
  const uint64_t policy = make_policy<L>();
  uint32_t acc = 0;
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  size_t i = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  for (; i + (U - 1) * stride < count; i += U * stride) {
    uint4 v[U];
#pragma unroll
    for (int u = 0; u < U; ++u) v[u] = load_as<L>(data + i + u * stride, policy);
#pragma unroll
    for (int u = 0; u < U; ++u) fold(acc, v[u]);
  }
  for (; i < count; i += stride) fold(acc, load_as<L>(data + i, policy));
  if (acc == 0x9e3779b9u) sink[0] = acc;
}

// The scan's order: block (rank, row) reads its span; lane = token within a warp's 32 tokens, four
// such groups a round (128 tokens a warp), codes requested for the whole round before any is used.
template <int L = kCs>
__global__ void ldg_paged_kernel(const uint8_t* codes, const int* page_table, int page_shift, int blocks_per_row,
                                 uint32_t* sink) {
  const uint64_t policy = make_policy<L>();
  const int row = blockIdx.y, rank = blockIdx.x, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int warps = blockDim.x >> 5;
  const int span = kTokens / blocks_per_row, begin = rank * span;
  const int page_size = 1 << page_shift;
  uint32_t acc = 0;
  for (int base = begin + warp * 128; base < begin + span; base += warps * 128) {
    uint4 v[8];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int t = base + j * 32 + lane;
      const int page = page_table[t >> page_shift];
      const uint4* p = reinterpret_cast<const uint4*>(
          codes + ((static_cast<size_t>(page) * kRows + row) * page_size + (t & (page_size - 1))) * kCodeBytes);
      v[2 * j] = load_as<L>(p, policy);
      v[2 * j + 1] = load_as<L>(p + 1, policy);
    }
#pragma unroll
    for (int j = 0; j < 8; ++j) fold(acc, v[j]);
  }
  if (acc == 0x9e3779b9u) sink[0] = acc;
}

// ------------------------------------------------------------------ bulk copies
__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void mbar_init(uint64_t* bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_addr(bar)), "r"(count));
}
__device__ __forceinline__ void mbar_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_addr(bar)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_addr(bar)) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "wait_%=:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra wait_%=;\n"
      "}\n" ::"r"(smem_addr(bar)),
      "r"(parity)
      : "memory");
}
__device__ __forceinline__ void bulk_copy(void* dst, const void* src, uint32_t bytes, uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(smem_addr(dst)),
      "l"(src), "r"(bytes), "r"(smem_addr(bar))
      : "memory");
}

// Stages of `chunk` bytes; a stage = `pieces` copies of chunk / pieces bytes. The work: `units`
// stages a block, the source of piece j of unit u given by piece_source.
struct BulkPlan {
  const uint8_t* data;
  const int* page_table;  // paged: [kTokens / page_size] page ids (one sequence, every row)
  int paged, page_shift, stages, chunk, pieces, blocks_per_row;
};

__device__ __forceinline__ const uint8_t* piece_source(const BulkPlan& p, int block, int unit, int piece) {
  if (!p.paged) {  // block b reads units b, b + grid, ...: whole buffer, chunk-sized contiguous units
    const size_t chunk_index = static_cast<size_t>(unit) * gridDim.x + block;
    return p.data + chunk_index * p.chunk + static_cast<size_t>(piece) * (p.chunk / p.pieces);
  }
  // block = (rank, row); its span's pages in order, `pieces` pages a stage
  const int page_size = 1 << p.page_shift;
  const int row = block / p.blocks_per_row, rank = block % p.blocks_per_row;
  const int span_pages = kTokens / page_size / p.blocks_per_row;
  const int logical = rank * span_pages + unit * p.pieces + piece;
  const int page = p.page_table[logical];
  return p.data + (static_cast<size_t>(page) * kRows + row) * page_size * kCodeBytes;
}

__global__ void bulk_kernel(BulkPlan p, int units, uint32_t* sink) {
  extern __shared__ __align__(128) uint8_t ring[];
  __shared__ uint64_t full[16], empty[16];
  const int warp = threadIdx.x >> 5, consumers = (blockDim.x >> 5) - 1;
  if (threadIdx.x == 0) {
    for (int s = 0; s < p.stages; ++s) {
      mbar_init(&full[s], 1);
      mbar_init(&empty[s], consumers);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
  const uint32_t piece_bytes = p.chunk / p.pieces;
  if (warp == consumers) {  // producer warp, lane 0
    if ((threadIdx.x & 31) != 0) return;
    for (int u = 0; u < units; ++u) {
      const int s = u % p.stages;
      if (u >= p.stages) mbar_wait(&empty[s], ((u / p.stages) - 1) & 1);
      mbar_expect_tx(&full[s], p.chunk);
      for (int j = 0; j < p.pieces; ++j)
        bulk_copy(ring + static_cast<size_t>(s) * p.chunk + j * piece_bytes, piece_source(p, blockIdx.x, u, j),
                  piece_bytes, &full[s]);
    }
    return;
  }
  uint32_t acc = 0;
  const int words = p.chunk / 16;
  for (int u = 0; u < units; ++u) {
    const int s = u % p.stages;
    mbar_wait(&full[s], (u / p.stages) & 1);
    const uint4* stage = reinterpret_cast<const uint4*>(ring + static_cast<size_t>(s) * p.chunk);
    for (int i = threadIdx.x; i < words; i += consumers * 32) fold(acc, stage[i]);
    __syncwarp();
    if ((threadIdx.x & 31) == 0) mbar_arrive(&empty[s]);
  }
  if (acc == 0x9e3779b9u) sink[0] = acc;
}

// The fixed cost around a kernel: an empty one of the step's shape (256 blocks of 256 threads,
// `smem` bytes of dynamic shared memory), launched plainly or replayed from a CUDA graph.
__global__ void empty_kernel(uint32_t* sink) {
  extern __shared__ uint32_t scratch[];
  if (threadIdx.x == 1023) sink[2] = scratch[0];  // never true at 256 threads
}

// ------------------------------------------------------------------ driver
__global__ void read_flush_kernel(const uint4* data, size_t count, uint32_t* sink) {
  uint32_t acc = 0;
  for (size_t i = size_t{blockIdx.x} * blockDim.x + threadIdx.x; i < count; i += size_t{gridDim.x} * blockDim.x)
    fold(acc, data[i]);
  if (acc == 0x9e3779b9u) sink[1] = acc;
}

int main(int argc, char** argv) {
  const int page_size = argc > 1 ? std::atoi(argv[1]) : 16;
  int page_shift = 0;
  while ((1 << page_shift) < page_size) ++page_shift;
  if ((1 << page_shift) != page_size || page_size > 1024) {
    std::fprintf(stderr, "page_size must be a power of two up to 1024\n");
    return 2;
  }
  int sms = 0;
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  uint8_t* codes;
  uint32_t* sink;
  uint8_t* flush;
  int* page_table;
  const size_t flush_bytes = size_t{256} << 20;
  CHECK(cudaMalloc(&codes, kBytes));
  CHECK(cudaMalloc(&flush, flush_bytes));
  CHECK(cudaMalloc(&sink, 64));
  CHECK(cudaMemset(codes, 0x37, kBytes));
  const int pages = kTokens / page_size;
  std::vector<int> table(pages);
  std::iota(table.begin(), table.end(), 0);
  std::mt19937_64 rng(7);
  std::shuffle(table.begin(), table.end(), rng);
  CHECK(cudaMalloc(&page_table, pages * sizeof(int)));
  CHECK(cudaMemcpy(page_table, table.data(), pages * sizeof(int), cudaMemcpyHostToDevice));
  cudaEvent_t start, stop;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreate(&stop));

  auto time = [&](const char* variant, const char* config, bool read_flush, auto launch, size_t bytes = kBytes) {
    std::vector<float> ms;
    for (int i = 0; i < 23; ++i) {
      if (read_flush)
        read_flush_kernel<<<sms * 8, 256>>>(reinterpret_cast<const uint4*>(flush), flush_bytes / 16, sink);
      else
        CHECK(cudaMemsetAsync(flush, i & 0xff, flush_bytes));
      CHECK(cudaEventRecord(start));
      launch();
      CHECK(cudaEventRecord(stop));
      CHECK(cudaEventSynchronize(stop));
      CHECK(cudaGetLastError());
      float t = 0;
      CHECK(cudaEventElapsedTime(&t, start, stop));
      if (i >= 3) ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    const double us = ms[ms.size() / 2] * 1e3;
    std::printf("{\"variant\": \"%s\", \"config\": \"%s\", \"flush\": \"%s\", \"page_size\": %d, \"us\": %.2f, \"GBps\": %.0f}\n",
                variant, config, read_flush ? "read" : "write", page_size, us, bytes / (us * 1e-6) / 1e9);
    std::fflush(stdout);
  };

  char config[128];
  auto policy_sweep = [&](bool read_flush, auto load_tag) {
    constexpr int L = decltype(load_tag)::value;
    time("ldg", (std::string("U8 4x512 ") + kLoadNames[L]).c_str(), read_flush, [&] {
      ldg_kernel<8, L><<<sms * 4, 512>>>(reinterpret_cast<const uint4*>(codes), kBytes / 16, sink);
    });
    time("ldg_paged", (std::string("8 a row x 256 ") + kLoadNames[L]).c_str(), read_flush, [&] {
      ldg_paged_kernel<L><<<dim3(8, kRows), 256>>>(codes, page_table, page_shift, 8, sink);
    });
  };
  // Floors of the benchmark's contexts: the codes of 32 rows at 8K / 32K / 128K read contiguously
  // (U8 4x512, streaming loads), and the fixed cost of an empty kernel.
  for (bool read_flush : {false, true}) {
    for (int tokens : {8192, 32768, 131072}) {
      const size_t bytes = size_t{kRows} * tokens * kCodeBytes;
      std::snprintf(config, sizeof config, "floor %dK U8 4x512", tokens / 1024);
      time("ldg", config, read_flush,
           [&] { ldg_kernel<8><<<sms * 4, 512>>>(reinterpret_cast<const uint4*>(codes), bytes / 16, sink); }, bytes);
    }
    for (int smem : {0, 48 * 1024, 100 * 1024}) {
      CHECK(cudaFuncSetAttribute(empty_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
      std::snprintf(config, sizeof config, "empty 256x256 smem %dK plain", smem / 1024);
      time("launch", config, read_flush, [&] { empty_kernel<<<256, 256, smem>>>(sink); }, 0);
      cudaGraph_t graph;
      cudaGraphExec_t exec;
      cudaStream_t stream;
      CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
      CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
      empty_kernel<<<256, 256, smem, stream>>>(sink);
      CHECK(cudaStreamEndCapture(stream, &graph));
      CHECK(cudaGraphInstantiate(&exec, graph, 0));
      std::snprintf(config, sizeof config, "empty 256x256 smem %dK graph", smem / 1024);
      time("launch", config, read_flush, [&] { CHECK(cudaGraphLaunch(exec, nullptr)); }, 0);
      CHECK(cudaGraphExecDestroy(exec));
      CHECK(cudaGraphDestroy(graph));
      CHECK(cudaStreamDestroy(stream));
    }
  }
  for (int repeat = 0; repeat < 2; ++repeat)
    for (bool read_flush : {false, true}) {
      policy_sweep(read_flush, std::integral_constant<int, kCs>{});
      policy_sweep(read_flush, std::integral_constant<int, kPlain>{});
      policy_sweep(read_flush, std::integral_constant<int, kHintFirst>{});
      policy_sweep(read_flush, std::integral_constant<int, kNoAllocHintFirst>{});
      policy_sweep(read_flush, std::integral_constant<int, kLastUse>{});
      policy_sweep(read_flush, std::integral_constant<int, kHintUnchanged>{});
    }
  if (argc > 2 && std::atoi(argv[2]) == 0) return 0;  // the policy sweep only
  for (bool read_flush : {false, true}) {
    for (int per_sm : {1, 2, 4, 8})
      for (int threads : {256, 512, 1024}) {
        if (per_sm * threads > 2048) continue;
        std::snprintf(config, sizeof config, "U8 %dx%d", per_sm, threads);
        time("ldg", config, read_flush, [&] {
          ldg_kernel<8><<<sms * per_sm, threads>>>(reinterpret_cast<const uint4*>(codes), kBytes / 16, sink);
        });
      }
    for (int u : {4, 16}) {
      std::snprintf(config, sizeof config, "U%d 4x512", u);
      time("ldg", config, read_flush, [&] {
        if (u == 4)
          ldg_kernel<4><<<sms * 4, 512>>>(reinterpret_cast<const uint4*>(codes), kBytes / 16, sink);
        else
          ldg_kernel<16><<<sms * 4, 512>>>(reinterpret_cast<const uint4*>(codes), kBytes / 16, sink);
      });
    }
    for (int bpr : {8, 16, 32}) {
      std::snprintf(config, sizeof config, "%d a row x 256", bpr);
      time("ldg_paged", config, read_flush, [&] {
        ldg_paged_kernel<><<<dim3(bpr, kRows), 256>>>(codes, page_table, page_shift, bpr, sink);
      });
    }
    // bulk, contiguous: chunk x stages per block, 1 or 2 blocks per SM, 8 consumer warps
    struct Shape { int chunk, stages, per_sm; };
    for (Shape sh : {Shape{8192, 8, 1}, Shape{16384, 8, 1}, Shape{32768, 6, 1}, Shape{8192, 6, 2}, Shape{16384, 6, 2},
                     Shape{4096, 12, 2}}) {
      const int blocks = sms * sh.per_sm;
      const size_t smem = static_cast<size_t>(sh.chunk) * sh.stages;
      CHECK(cudaFuncSetAttribute(bulk_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
      const int units = static_cast<int>(kBytes / sh.chunk / blocks);  // the remainder is left unread
      BulkPlan p{codes, page_table, 0, page_shift, sh.stages, sh.chunk, 1, 0};
      std::snprintf(config, sizeof config, "%dKB x %d, %d/SM", sh.chunk / 1024, sh.stages, sh.per_sm);
      time("bulk", config, read_flush, [&] { bulk_kernel<<<blocks, 288, smem>>>(p, units, sink); },
           static_cast<size_t>(units) * blocks * sh.chunk);
    }
    // bulk, paged: one copy per (page, head) chunk; pieces chunks a stage
    const int page_bytes = page_size * kCodeBytes;
    for (int bpr : {4, 8})
      for (int stage_bytes : {8192, 16384})
        for (int stages : {4, 8}) {
          const int pieces = std::max(1, stage_bytes / page_bytes);
          const int chunk = pieces * page_bytes;
          const int span_pages = pages / bpr;
          if (span_pages % pieces) continue;
          const size_t smem = static_cast<size_t>(chunk) * stages;
          if (smem > (bpr == 4 ? 200 : 110) * 1024) continue;  // 8 a row: two blocks an SM
          CHECK(cudaFuncSetAttribute(bulk_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
          BulkPlan p{codes, page_table, 1, page_shift, stages, chunk, pieces, bpr};
          std::snprintf(config, sizeof config, "%d a row, %d x %dB copies a stage, %d stages", bpr, pieces, page_bytes,
                        stages);
          time("bulk_paged", config, read_flush,
               [&] { bulk_kernel<<<bpr * kRows, 288, smem>>>(p, span_pages / pieces, sink); });
        }
  }
  return 0;
}
