// The code scan's pieces shared by the fused Adamas kernels (adamas_fused.cu: estimate + top-k
// threshold; adamas_step.cu: estimate + top-k + attention in one cluster launch): block shape,
// query codes built by one warp each, the minimum L1 over a row's query heads, the running bound.
#pragma once

#include <cstdint>
#include <type_traits>

#include "cuda/select_common.cuh"
#include "cuda/thermo_l1.h"
#include "cuda/warp_hadamard.cuh"

namespace adamas::cuda {

constexpr int kFusedThreads = 256;  // 8 warps: one per query head of a group of up to 8
constexpr int kWarps = kFusedThreads / 32;
constexpr int kFusedTokens = 4096;  // candidates per block
static_assert(kFusedTokens == kListChunk, "compact_kernel writes the lists chunk by chunk");

template <int D>
struct FusedShape {
  static constexpr int kVectors = D / 64;                       // 16-byte loads per token code
  static constexpr int kSlots = 8 / kVectors;                   // tokens in flight per lane (8 loads)
  static constexpr int kTokensPerRound = kWarps * kSlots * 32;
  static constexpr int kRounds = kFusedTokens / kTokensPerRound;
  static constexpr int kPerLane = D / 32;                       // coordinates per lane in the transform
  static constexpr int kBins = 3 * D + 1;
  static constexpr int kBinsPerThread = (kBins + kFusedThreads - 1) / kFusedThreads;  // consecutive bins per thread
};

// Query code of head `head` (fp32 [D], post-RoPE) into `code` (D/4 bytes), by one warp.
template <int D>
__device__ __forceinline__ void warp_query_code(const float* q, float scale, const Thresholds& t, uint8_t* code) {
  using S = FusedShape<D>;
  const int lane = threadIdx.x & 31;
  float v[S::kPerLane];
  warp_hadamard<D>(q, v);
  uint32_t bits = 0;
#pragma unroll
  for (int k = 0; k < S::kPerLane; ++k) {
    const float y = __fmul_rn(v[k], scale);
    bits |= static_cast<uint32_t>((y > t.t0) + (y > t.t1) + (y > t.t2)) << (2 * k);
  }
  if constexpr (S::kPerLane == 2) {  // 4 bits per lane: pairs of lanes make a byte
    const uint32_t next = __shfl_down_sync(0xffffffffu, bits, 1);
    if ((lane & 1) == 0) code[lane / 2] = static_cast<uint8_t>(bits | (next << 4));
  } else if constexpr (S::kPerLane == 4) {
    code[lane] = static_cast<uint8_t>(bits);
  } else {
    code[2 * lane] = static_cast<uint8_t>(bits);
    code[2 * lane + 1] = static_cast<uint8_t>(bits >> 8);
  }
}

// Warp h < heads (the caller's `warp`) codes query head first_head + h of sequence seq into
// query_code[h]; the caller synchronizes before reading them.
template <int D>
__device__ __forceinline__ void code_row_queries(const SelectArgs& a, int seq, int first_head, int heads, int warp,
                                                 float hadamard_scale, uint8_t (*query_code)[D / 4]) {
  if (warp < heads)
    warp_query_code<D>(a.q + (static_cast<size_t>(seq) * a.num_q_heads + first_head + warp) * D, hadamard_scale,
                       a.thresholds, query_code[warp]);
}

// The row's query codes in registers, as the scan reads them (when kInRegisters; else nothing is
// copied and the scan reads query_code in shared memory): in thermometer form (thermo_l1.h) for
// four 64-bit words (one head at d 128, two at d 64: 12 registers), else as the packed words (the
// thermometer form's half more registers made one head at d 64 spill, ptxas).
template <int D, int HEADS>
constexpr bool kThermoQuery = HEADS * (D / 32) == 4;
template <int D, int HEADS, bool kInRegisters>
struct QueryRegisters {
  static constexpr int kWords = kInRegisters ? HEADS * (D / 32) : 1;
  static constexpr bool kThermo = kInRegisters && kThermoQuery<D, HEADS>;
  std::conditional_t<kThermo, ThermoWord, uint64_t> words[kWords];

  __device__ __forceinline__ void load(const uint8_t (*query_code)[D / 4]) {
    if constexpr (kInRegisters)
#pragma unroll
      for (int i = 0; i < kWords; ++i) {
        const uint64_t word = reinterpret_cast<const uint64_t*>(query_code[i / (D / 32)])[i % (D / 32)];
        if constexpr (kThermo) words[i] = thermo_word(word);
        else words[i] = word;
      }
  }
  // Minimum over the row's HEADS query codes of the exact L1 to one key code (d/32 64-bit words).
  __device__ __forceinline__ int min_l1(const uint64_t* key, const uint8_t (*query_code)[D / 4]) const {
    int best = 3 * D;
#pragma unroll
    for (int h = 0; h < HEADS; ++h) {
      int distance = 0;
#pragma unroll
      for (int w = 0; w < D / 32; ++w) {
        if constexpr (kThermo) distance += l1_distance_thermo(key[w], words[h * (D / 32) + w]);
        else if constexpr (kInRegisters) distance += l1_distance_word_dev(words[h * (D / 32) + w], key[w]);
        else distance += l1_distance_word_dev(reinterpret_cast<const uint64_t*>(query_code[h])[w], key[w]);
      }
      best = min(best, distance);
    }
    return best;
  }
};

// The codes of one round's kSlots tokens of a lane (token[j], page id page[j]; -1: past the end,
// zeros), as d/64 16-byte loads each, for the row's KV head in the paged code layout
// (docs/kv_cache_layout.md). The page ids are read by the caller a round ahead. Streaming loads
// (__ldcs: evict-first in L1 and L2): each code is read once, so its lines make room for each other
// instead of for what is resident (in the benchmark, the dirty lines of the L2 flush, whose
// write-back shared the scan's DRAM time; in a decode step, the small buffers the next phases read).
template <int D>
__device__ __forceinline__ void load_slot_codes(const SelectArgs& a, int kv_head, const int (&token)[FusedShape<D>::kSlots],
                                                const int (&page)[FusedShape<D>::kSlots],
                                                uint4 (&codes)[FusedShape<D>::kSlots][FusedShape<D>::kVectors]) {
  using S = FusedShape<D>;
#pragma unroll
  for (int j = 0; j < S::kSlots; ++j) {
    const uint4* address = reinterpret_cast<const uint4*>(
        a.key_codes + paged_row(a, max(page[j], 0), kv_head, token[j]) * (D / 4));
#pragma unroll
    for (int v = 0; v < S::kVectors; ++v)
      codes[j][v] = page[j] >= 0 ? __ldcs(address + v) : make_uint4(0, 0, 0, 0);
  }
}

// Query words of the bounded and bulk kernels in registers: 16 registers at most (3 blocks per SM).
// Not with 3 heads (d 64: 6 words spill 8 bytes at 80 registers, ptxas; broadcast shared reads
// instead, as with 3 heads at d 128).
template <int D, int HEADS>
constexpr bool kBoundedQueryInRegisters = HEADS * (D / 32) <= 8 && HEADS != 3;

// Thread tid's kBinsPerThread consecutive bins of a block histogram (bin_count) and the count of
// every bin before them (the return value): one block-wide exclusive scan. Every thread calls it.
template <int D>
__device__ __forceinline__ int histogram_bins_before(const int* histogram, typename ChunkScan::TempStorage& scan_storage,
                                                     int (&bin_count)[FusedShape<D>::kBinsPerThread]) {
  using S = FusedShape<D>;
  constexpr int kBinsPerThread = S::kBinsPerThread;
  int sum = 0;
#pragma unroll
  for (int i = 0; i < kBinsPerThread; ++i) {
    const int b = threadIdx.x * kBinsPerThread + i;
    bin_count[i] = b < S::kBins ? histogram[b] : 0;
    sum += bin_count[i];
  }
  int before = 0;
  ChunkScan(scan_storage).ExclusiveSum(sum, before);
  return before;
}

// `bound` := the smallest bin whose inclusive count in the block histogram reaches keep (kept when
// none does); with kCumulate the histogram is also made cumulative in place (bin b: the count of
// distances <= b). Called by every thread; synchronizes before (the histogram's last updates).
template <int D, bool kCumulate>
__device__ __forceinline__ void bound_from_histogram(int* histogram, int keep, typename ChunkScan::TempStorage& scan_storage,
                                                     int& bound) {
  using S = FusedShape<D>;
  constexpr int kBinsPerThread = S::kBinsPerThread;
  __syncthreads();
  int bin_count[kBinsPerThread];
  int through = histogram_bins_before<D>(histogram, scan_storage, bin_count);
#pragma unroll
  for (int i = 0; i < kBinsPerThread; ++i) {
    const int b = threadIdx.x * kBinsPerThread + i;
    if (b < S::kBins && through < keep && through + bin_count[i] >= keep) bound = b;
    through += bin_count[i];
    if (kCumulate && b < S::kBins) histogram[b] = through;
  }
}

// The bounded kernels' running bound after a round (counts <= the old bound are exact, and the new
// bound is never above the old one). Synchronizes before and after.
template <int D>
__device__ __forceinline__ void update_bound(int* histogram, int keep, typename ChunkScan::TempStorage& scan_storage,
                                             int& bound) {
  bound_from_histogram<D, false>(histogram, keep, scan_storage, bound);
  __syncthreads();
}

// The block histogram made cumulative in place, and `bound` tightened to the block's own keep-th
// distance (the scan updates it only after rounds 0, 1, 3, 7, ..., never after a block's only
// round). Does not synchronize after.
template <int D>
__device__ __forceinline__ void cumulate_histogram(int* histogram, int keep, typename ChunkScan::TempStorage& scan_storage,
                                                   int& bound) {
  bound_from_histogram<D, true>(histogram, keep, scan_storage, bound);
}

// Exclusive prefix sum over the warp's lanes, and the warp's total.
__device__ __forceinline__ int warp_exclusive_sum(int value, int& total) {
  const int lane = threadIdx.x & 31;
  int inclusive = value;
#pragma unroll
  for (int offset = 1; offset < 32; offset *= 2) {
    const int before = __shfl_up_sync(0xffffffffu, inclusive, offset);
    if (lane >= offset) inclusive += before;
  }
  total = __shfl_sync(0xffffffffu, inclusive, 31);
  return inclusive - value;
}

}  // namespace adamas::cuda
