// Where the code scan's time goes (session 14 probe, not part of the library): the L1 estimate's
// inner loop at MHA 128K (32 rows x 131072 tokens, d = 128, 2-bit codes, 134 MB) rebuilt piece by
// piece, each variant timed on its own:
//   stream    every code byte read with warp-contiguous 16-byte loads (the read ceiling)
//   loads     the scan's pattern (lane = token, two 16-byte loads a token, 4 tokens a lane a round,
//             page ids a round ahead), codes only XOR-folded
//   distance  + the exact L1 (cuda_common.cuh's formula) and the u16 distance store
//   full      + histogram atomics below a fixed bound (the scan as it runs)
// and the same with: shifts for the page arithmetic (fastpage), the thermometer form of the L1
// (thermo), two rounds of loads in flight (depth2), and (eighteenth session) the L1 of a bit-plane
// code layout (planes: per 32 coordinates a word of low bits and a word of high bits, which the
// library does not use; same bytes, timed on the same random words).
// Build: nvcc -O3 -std=c++20 -arch=sm_90a -o scan_probe scan_probe.cu; run: ./scan_probe [page_size]
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "probe_check.h"

constexpr int kThreads = 256, kWarps = 8, kCodeBytes = 32, kBins = 385;

struct Args {
  const uint8_t* codes;     // [pages][heads][page_size][32]
  const int* page_table;    // [pages_per_row]
  int heads, tokens, page_size, page_shift, blocks_per_row, bound;
  uint64_t q0, q1, q2, q3;  // one query code (4 words of 16 coordinates... as 2 x 64 bits used)
  unsigned* sink;
};

__device__ __forceinline__ int l1_word(uint64_t a, uint64_t b) {
  constexpr uint64_t kLow = 0x5555555555555555ull;
  const uint64_t diff = a ^ b;
  const uint64_t low = diff & kLow;
  const uint64_t high = (diff >> 1) & kLow;
  const uint64_t correction = high & low & ~((a >> 1) ^ b);
  return 2 * __popcll(high & ~correction) + __popcll(low);
}

// Thermometer form: coordinate value v as (v>=1, v>=2, v>=3); |q-k| = the differing thermometer
// bits. Key word w (16 coordinates, lo bit even, hi bit odd): t1 = lo|hi and t3 = lo&hi packed as
// even|odd into one word against q13, t2 = hi against q2 (odd bits), two words' t2 in one popc.
struct ThermoQuery {
  uint32_t q13[4], q2[4];
};
__device__ __forceinline__ ThermoQuery thermo_query(uint64_t w0, uint64_t w1) {
  ThermoQuery t;
  const uint32_t words[4] = {uint32_t(w0), uint32_t(w0 >> 32), uint32_t(w1), uint32_t(w1 >> 32)};
  for (int i = 0; i < 4; ++i) {
    const uint32_t w = words[i], lo = w & 0x55555555u, hi = (w >> 1) & 0x55555555u;
    t.q13[i] = (lo | hi) | ((lo & hi) << 1);
    t.q2[i] = hi << 1;
  }
  return t;
}
__device__ __forceinline__ int thermo_distance(const uint32_t (&k)[4], const ThermoQuery& q) {
  int total = 0;
#pragma unroll
  for (int p = 0; p < 2; ++p) {
    const uint32_t w0 = k[2 * p], w1 = k[2 * p + 1];
    const uint32_t s0 = w0 >> 1, s1 = w1 >> 1;
    const uint32_t a0 = (((w0 | s0) & 0x55555555u) | ((w0 & (w0 << 1)) & 0xaaaaaaaau)) ^ q.q13[2 * p];
    const uint32_t a1 = (((w1 | s1) & 0x55555555u) | ((w1 & (w1 << 1)) & 0xaaaaaaaau)) ^ q.q13[2 * p + 1];
    const uint32_t b = ((w0 ^ q.q2[2 * p]) & 0xaaaaaaaau) | ((s1 ^ (q.q2[2 * p + 1] >> 1)) & 0x55555555u);
    total += __popc(a0) + __popc(a1) + __popc(b);
  }
  return total;
}

// Bit-plane layout: 32 coordinates as a word of low bits l and a word of high bits h (k = 2h + l).
// With the query's bits (ql, qh) the distance |q - k| in binary is s1 = l ^ ql and
// s2 = (h ^ qh) & ((l ^ qh) | ~(ql ^ qh)), so d = popc(s1) + 2 popc(s2): 3 logic operations and two
// popcounts a 32 coordinates, where the thermometer form of the packed layout takes about 14.
struct PlaneQuery {
  uint32_t ql[4], qh[4], b[4];  // b = ~(ql ^ qh)
};
__device__ __forceinline__ PlaneQuery plane_query(uint64_t w0, uint64_t w1) {
  PlaneQuery q;
  const uint32_t words[4] = {uint32_t(w0), uint32_t(w0 >> 32), uint32_t(w1), uint32_t(w1 >> 32)};
  for (int i = 0; i < 2; ++i) {
    q.ql[2 * i] = q.ql[2 * i + 1] = words[2 * i];
    q.qh[2 * i] = q.qh[2 * i + 1] = words[2 * i + 1];
  }
  for (int i = 0; i < 4; ++i) q.b[i] = ~(q.ql[i] ^ q.qh[i]);
  return q;
}
__device__ __forceinline__ int plane_distance(const uint32_t (&k)[4], const PlaneQuery& q) {
  int total = 0;
#pragma unroll
  for (int p = 0; p < 2; ++p) {
    const uint32_t l = k[2 * p], h = k[2 * p + 1];
    const uint32_t s1 = l ^ q.ql[2 * p];
    const uint32_t s2 = (h ^ q.qh[2 * p]) & ((l ^ q.qh[2 * p]) | q.b[2 * p]);
    total += __popc(s1) + 2 * __popc(s2);
  }
  return total;
}

template <int kMode, bool kFastPage, bool kThermo, int kDepth, bool kBarriers = false, bool kPlanes = false>
__global__ __launch_bounds__(kThreads, 4) void scan_kernel(Args a) {
  constexpr int kSlots = 4 / kDepth;  // tokens a lane loads per round (per buffer)
  constexpr int kRound = kWarps * kSlots * 32;
  __shared__ uint16_t distance[8192 + 64];
  __shared__ int histogram[kBins];
  const int row = blockIdx.x / a.blocks_per_row, rank = blockIdx.x % a.blocks_per_row;
  const int span = (a.tokens / a.blocks_per_row + 1023) / 1024 * 1024;
  const int span_start = rank * span, span_end = min(a.tokens, span_start + span);
  for (int i = threadIdx.x; i < kBins; i += kThreads) histogram[i] = 0;
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  auto page_of = [&](int t) { return kFastPage ? t >> a.page_shift : t / a.page_size; };
  auto in_page = [&](int t) { return kFastPage ? t & (a.page_size - 1) : t % a.page_size; };
  auto code_address = [&](int page, int t) {
    return reinterpret_cast<const uint4*>(
        a.codes + ((static_cast<size_t>(page) * a.heads + row) * a.page_size + in_page(t)) * kCodeBytes);
  };
  unsigned fold = 0;
  int bound = a.bound;
  if constexpr (kMode == 0) {
    // Warp-contiguous: vector v of the span (two a token) in order.
    for (int v = span_start * 2 + threadIdx.x; v < span_end * 2; v += kThreads * 4) {
      uint4 x[4];
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        const int vv = v + u * kThreads, t = vv >> 1;
        x[u] = __ldg(code_address(__ldg(a.page_table + page_of(t)), t) + (vv & 1));
      }
#pragma unroll
      for (int u = 0; u < 4; ++u) fold ^= x[u].x ^ x[u].y ^ x[u].z ^ x[u].w;
    }
  } else {
    const ThermoQuery tq = thermo_query(a.q0, a.q1);
    const PlaneQuery pq = plane_query(a.q0, a.q1);
    auto token = [&](int base, int j) { return base + (warp * kSlots + j) * 32 + lane; };
    uint4 codes[kDepth][kSlots][2];
    int page[kDepth][kSlots];
    auto load_pages = [&](int buffer, int base) {
#pragma unroll
      for (int j = 0; j < kSlots; ++j) {
        const int t = token(base, j);
        page[buffer][j] = t < span_end ? __ldg(a.page_table + page_of(t)) : -1;
      }
    };
    auto load_codes = [&](int buffer, int base) {
#pragma unroll
      for (int j = 0; j < kSlots; ++j) {
        const int t = token(base, j);
        const uint4* p = code_address(max(page[buffer][j], 0), t);
#pragma unroll
        for (int v = 0; v < 2; ++v) codes[buffer][j][v] = page[buffer][j] >= 0 ? __ldg(p + v) : make_uint4(0, 0, 0, 0);
      }
    };
    // Buffers b = 0..kDepth-1 hold rounds base + b * kRound; pages run one round ahead of codes.
#pragma unroll
    for (int b = 0; b < kDepth; ++b) {
      load_pages(b, span_start + b * kRound);
      load_codes(b, span_start + b * kRound);
      load_pages(b, span_start + (b + kDepth) * kRound);
    }
    for (int base = span_start; base < span_end; base += kDepth * kRound) {
#pragma unroll
      for (int b = 0; b < kDepth; ++b) {
        const int round_base = base + b * kRound;
        int best[kSlots];
#pragma unroll
        for (int j = 0; j < kSlots; ++j) {
          if constexpr (kMode == 1) {
            best[j] = codes[b][j][0].x ^ codes[b][j][0].y ^ codes[b][j][0].z ^ codes[b][j][0].w ^ codes[b][j][1].x ^
                      codes[b][j][1].y ^ codes[b][j][1].z ^ codes[b][j][1].w;
          } else if constexpr (kPlanes) {
            const uint32_t k[4] = {codes[b][j][0].x, codes[b][j][0].y, codes[b][j][0].z, codes[b][j][0].w};
            const uint32_t k2[4] = {codes[b][j][1].x, codes[b][j][1].y, codes[b][j][1].z, codes[b][j][1].w};
            best[j] = plane_distance(k, pq) + plane_distance(k2, pq);
          } else if constexpr (kThermo) {
            const uint32_t k[4] = {codes[b][j][0].x, codes[b][j][0].y, codes[b][j][0].z, codes[b][j][0].w};
            const uint32_t k2[4] = {codes[b][j][1].x, codes[b][j][1].y, codes[b][j][1].z, codes[b][j][1].w};
            best[j] = thermo_distance(k, tq) + thermo_distance(k2, tq);
          } else {
            const uint64_t* key = reinterpret_cast<const uint64_t*>(codes[b][j]);
            best[j] = l1_word(a.q0, key[0]) + l1_word(a.q1, key[1]) + l1_word(a.q0, key[2]) + l1_word(a.q1, key[3]);
          }
        }
        if (kBarriers && ((round_base - span_start) / kRound & ((round_base - span_start) / kRound + 1)) == 0) {
          // as update_bound: two barriers and a histogram read, after rounds 0, 1, 3, 7, ...
          __syncthreads();
          bound = min(bound, histogram[threadIdx.x] > 1000000 ? 0 : a.bound);
          __syncthreads();
        }
        const int next = round_base + kDepth * kRound;
        if (next < span_end) {
          load_codes(b, next);
          load_pages(b, next + kDepth * kRound);
        }
#pragma unroll
        for (int j = 0; j < kSlots; ++j) {
          const int t = token(round_base, j);
          if (kMode == 1) {
            fold ^= best[j];
          } else if (t < span_end) {
            distance[(t - span_start) & 8191] = static_cast<uint16_t>(best[j]);
            if (kMode == 3 && best[j] <= bound) atomicAdd(&histogram[best[j]], 1);
          }
        }
      }
    }
  }
  __syncthreads();
  if (kMode >= 2) fold = distance[threadIdx.x * 7] + histogram[threadIdx.x % kBins];
  if (fold == 0x9e3779b9u) a.sink[0] = fold;  // never true for random codes; keeps the loads
}

// The thermometer form against the XOR form on pseudo-random words: the count of mismatches.
__global__ void check_thermo(unsigned* mismatches) {
  uint64_t s = 0x9e3779b97f4a7c15ull * (blockIdx.x * blockDim.x + threadIdx.x + 1);
  auto next = [&] { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s; };
  for (int i = 0; i < 64; ++i) {
    const uint64_t q0 = next(), q1 = next(), k0 = next(), k1 = next();
    const uint32_t k[4] = {uint32_t(k0), uint32_t(k0 >> 32), uint32_t(k1), uint32_t(k1 >> 32)};
    if (thermo_distance(k, thermo_query(q0, q1)) != l1_word(q0, k0) + l1_word(q1, k1)) atomicAdd(mismatches, 1u);
  }
}

template <int kMode, bool kFastPage, bool kThermo, int kDepth, bool kBarriers = false, bool kPlanes = false>
float time_variant(const Args& a, int blocks, int iters) {
  cudaEvent_t start, stop;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreate(&stop));
  std::vector<float> times;
  for (int i = 0; i < iters + 3; ++i) {
    CHECK(cudaEventRecord(start));
    scan_kernel<kMode, kFastPage, kThermo, kDepth, kBarriers, kPlanes><<<blocks, kThreads>>>(a);
    CHECK(cudaEventRecord(stop));
    CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    CHECK(cudaEventElapsedTime(&ms, start, stop));
    if (i >= 3) times.push_back(ms * 1000.0f);
  }
  CHECK(cudaGetLastError());
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

int main(int argc, char** argv) {
  const int page_size = argc > 1 ? std::atoi(argv[1]) : 16;
  const int heads = 32, tokens = 131072, pages = tokens / page_size;
  int sm = 0;
  CHECK(cudaDeviceGetAttribute(&sm, cudaDevAttrMultiProcessorCount, 0));
  const size_t bytes = static_cast<size_t>(tokens) * heads * kCodeBytes;
  uint8_t* codes;
  int* table;
  unsigned* sink;
  CHECK(cudaMalloc(&codes, bytes));
  CHECK(cudaMalloc(&table, pages * sizeof(int)));
  CHECK(cudaMalloc(&sink, 4));
  CHECK(cudaMemset(sink, 0, 4));
  std::vector<uint8_t> host(bytes);
  uint64_t s = 0x1234567;
  for (auto& b : host) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    b = static_cast<uint8_t>(s >> 56);
  }
  CHECK(cudaMemcpy(codes, host.data(), bytes, cudaMemcpyHostToDevice));
  std::vector<int> ids(pages);
  for (int i = 0; i < pages; ++i) ids[i] = i;
  CHECK(cudaMemcpy(table, ids.data(), pages * sizeof(int), cudaMemcpyHostToDevice));
  int shift = 0;
  while ((1 << shift) < page_size) ++shift;
  Args a{codes, table, heads, tokens, page_size, shift, 0, 150, 0x1b2d3e4f5a697887ull, 0x99aabbccddeeff01ull, 0, 0, sink};
  check_thermo<<<64, 256>>>(sink);
  unsigned mismatches = 0;
  CHECK(cudaMemcpy(&mismatches, sink, 4, cudaMemcpyDeviceToHost));
  std::printf("{\"thermo_mismatches\": %u}\n", mismatches);
  std::printf("{\"page_size\": %d, \"sms\": %d, \"code_mb\": %.1f}\n", page_size, sm, bytes / 1e6);
  for (int per_row : {8, 12, 16}) {
    a.blocks_per_row = per_row;
    const int used = a.blocks_per_row * heads;
    auto report = [&](const char* name, float us) {
      std::printf("{\"variant\": \"%s\", \"blocks\": %d, \"per_row\": %d, \"us\": %.2f, \"GBps\": %.0f}\n", name, used,
                  a.blocks_per_row, us, bytes / us / 1e3);
    };
    const int it = 20;
    report("stream", time_variant<0, true, false, 1>(a, used, it));
    report("loads", time_variant<1, false, false, 1>(a, used, it));
    report("loads_fastpage", time_variant<1, true, false, 1>(a, used, it));
    report("distance", time_variant<2, false, false, 1>(a, used, it));
    report("full", time_variant<3, false, false, 1>(a, used, it));
    report("full_fastpage", time_variant<3, true, false, 1>(a, used, it));
    report("full_thermo", time_variant<3, false, true, 1>(a, used, it));
    report("full_fastpage_thermo", time_variant<3, true, true, 1>(a, used, it));
    report("full_depth2", time_variant<3, false, false, 2>(a, used, it));
    report("full_fastpage_thermo_depth2", time_variant<3, true, true, 2>(a, used, it));
    report("loads_depth2", time_variant<1, true, false, 2>(a, used, it));
    report("full_barriers", time_variant<3, false, false, 1, true>(a, used, it));
    report("full_fastpage_barriers", time_variant<3, true, false, 1, true>(a, used, it));
    report("full_fastpage_thermo_depth2_barriers", time_variant<3, true, true, 2, true>(a, used, it));
    report("full_fastpage_depth2_barriers", time_variant<3, true, false, 2, true>(a, used, it));
    report("full_fastpage_planes", time_variant<3, true, false, 1, false, true>(a, used, it));
    report("full_fastpage_planes_depth2", time_variant<3, true, false, 2, false, true>(a, used, it));
    report("full_fastpage_planes_depth2_barriers", time_variant<3, true, false, 2, true, true>(a, used, it));
  }
  return 0;
}
