// Fused Adamas selection (estimate + top-k + index lists in one launch).
//
// Grid (chunks of kFusedTokens candidates, rows). Phase 1, every block:
//  - query codes of the row's heads, warp h computing head h: each lane holds d/32 consecutive
//    coordinates, the butterfly runs in registers (spans < d/32) and across lanes with shuffles,
//    in the exact order and rounding of hadamard.h, so the codes equal the CPU's bit for bit;
//  - the code scan: lane l scores token l of each group of 32 consecutive tokens (1 KiB of codes at
//    d = 128), 8 16-byte loads in flight per lane, the next round's loads issued before the current
//    round is scored; the minimum over the query group;
//  - distances to the row buffer (uint16) and per-warp histograms, summed into the chunk's
//    histogram (kept for phase 2) and the row's.
// Phase 2, the row's last block (ticket): the threshold T from the row histogram, then, from the
// chunks' own histograms (stored in phase 1), each chunk's count below T and at T, the ties taken
// (the latest chunks' first, as top_k.h's tie-break wants) and each chunk's output offset. The index
// lists are then written by compact_kernel (select.cu), one block per chunk, in parallel.
// Histogram and ticket are reset by the last block, so nothing needs clearing between steps.
#include <cub/block/block_scan.cuh>
#include <type_traits>

#include "adamas/hadamard.h"
#include "cuda/adamas_fused.cuh"

namespace adamas::cuda {

namespace {

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
};

// Query code of head `head` (fp32 [D], post-RoPE) into `code` (D/4 bytes), by one warp.
template <int D>
__device__ __forceinline__ void warp_query_code(const float* q, float scale, const Thresholds& t, uint8_t* code) {
  using S = FusedShape<D>;
  const int lane = threadIdx.x & 31;
  float v[S::kPerLane];
#pragma unroll
  for (int k = 0; k < S::kPerLane; ++k) v[k] = q[lane * S::kPerLane + k];
#pragma unroll
  for (int span = 1; span < D; span *= 2) {
    if (span < S::kPerLane) {
#pragma unroll
      for (int k = 0; k < S::kPerLane; ++k)
        if ((k & span) == 0) {
          const float x = v[k], y = v[k + span];
          v[k] = __fadd_rn(x, y);
          v[k + span] = __fsub_rn(x, y);
        }
    } else {
      const int mask = span / S::kPerLane;
      const bool upper = lane & mask;
#pragma unroll
      for (int k = 0; k < S::kPerLane; ++k) {
        const float other = __shfl_xor_sync(0xffffffffu, v[k], mask);
        // Lower lane holds x[i], upper lane x[i + span]: (x + y, x - y) as on the CPU.
        v[k] = upper ? __fsub_rn(other, v[k]) : __fadd_rn(v[k], other);
      }
    }
  }
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

template <int D, int HEADS>
__global__ __launch_bounds__(kFusedThreads, 2) void adamas_fused_kernel(SelectArgs a, float hadamard_scale) {
  using S = FusedShape<D>;
  __shared__ __align__(16) uint8_t query_code[kMaxGroup][D / 4];
  __shared__ int histogram[kWarps * S::kBins];
  __shared__ bool is_last;
  using Scan = cub::BlockScan<int, kFusedThreads>;
  __shared__ typename Scan::TempStorage scan_storage;
  __shared__ RowSelectState row_state;

  const int row = blockIdx.y, seq = row / a.rows_per_seq, r = row % a.rows_per_seq;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int n = a.seq_lens[seq];
  const int candidates = row_candidates(a, n);
  if (!begin_row(a, row, seq, r, candidates)) return;
  const int chunks = ceil_div(candidates, kFusedTokens);
  if (static_cast<int>(blockIdx.x) >= chunks) return;
  const int kv_head = row_kv_head_dev(a, r), first_head = row_first_q_head_dev(a, r);
  constexpr int heads = HEADS;  // a.heads_per_row, as a constant
  const int32_t* page_row = a.page_table + static_cast<size_t>(seq) * a.max_pages_per_seq;
  const int chunk_start = blockIdx.x * kFusedTokens;

  // Lane l of a warp scores token l of each 32-token group: the code's d/64 16-byte vectors are
  // loaded by the same lane (the first load brings whole 32-byte sectors into L1, the next ones
  // hit there), so no shuffle is needed to finish a distance. ncu showed the 2-lanes-per-token
  // version stalling on shuffles and match instructions (MIO), not on memory.
  auto code_address = [&](int t) {
    const int page = __ldg(page_row + t / a.page_size);
    return reinterpret_cast<const uint4*>(
        a.key_codes + ((static_cast<size_t>(page) * a.num_kv_heads + kv_head) * a.page_size + t % a.page_size) * (D / 4));
  };
  auto round_token = [&](int round, int j) {
    return chunk_start + round * S::kTokensPerRound + (warp * S::kSlots + j) * 32 + lane;
  };
  auto load_round = [&](int round, uint4 (&codes)[S::kSlots][S::kVectors]) {
#pragma unroll
    for (int j = 0; j < S::kSlots; ++j) {
      const int t = round_token(round, j);
      const bool valid = round < S::kRounds && t < candidates;
      const uint4* address = valid ? code_address(t) : nullptr;
#pragma unroll
      for (int v = 0; v < S::kVectors; ++v) codes[j][v] = valid ? __ldg(address + v) : make_uint4(0, 0, 0, 0);
    }
  };

  // Phase 1. Issue the first round's loads, then build the query codes while they fly.
  uint4 codes[S::kSlots][S::kVectors];
  load_round(0, codes);
  for (int i = tid; i < kWarps * S::kBins; i += kFusedThreads) histogram[i] = 0;
  if (warp < heads)
    warp_query_code<D>(a.q + (static_cast<size_t>(seq) * a.num_q_heads + first_head + warp) * D, hadamard_scale,
                       a.thresholds, query_code[warp]);
  __syncthreads();
  int* warp_histogram = histogram + warp * S::kBins;  // per warp: no contention between warps
  // Query words in registers when they fit (MHA, small groups), else broadcast shared reads.
  constexpr bool kQueryInRegisters = HEADS * (D / 32) <= 16;
  uint64_t query_words[kQueryInRegisters ? HEADS * (D / 32) : 1];
  if constexpr (kQueryInRegisters)
#pragma unroll
    for (int i = 0; i < HEADS * (D / 32); ++i) query_words[i] = reinterpret_cast<const uint64_t*>(query_code[i / (D / 32)])[i % (D / 32)];
  uint16_t* distance_row = a.distances + static_cast<size_t>(row) * a.candidate_stride;
  for (int round = 0; round < S::kRounds; ++round) {
    if (chunk_start + round * S::kTokensPerRound >= candidates) break;
    uint4 next[S::kSlots][S::kVectors];
    load_round(round + 1, next);
#pragma unroll
    for (int j = 0; j < S::kSlots; ++j) {
      const int t = round_token(round, j);
      const uint64_t* key = reinterpret_cast<const uint64_t*>(codes[j]);
      int best = 3 * D;
#pragma unroll
      for (int h = 0; h < HEADS; ++h) {
        const uint64_t* query = kQueryInRegisters ? query_words + h * (D / 32)
                                                  : reinterpret_cast<const uint64_t*>(query_code[h]);
        int distance = 0;
#pragma unroll
        for (int w = 0; w < D / 32; ++w) distance += l1_distance_word_dev(query[w], key[w]);
        best = min(best, distance);
      }
      if (t < candidates) {
        distance_row[t] = static_cast<uint16_t>(best);
        atomicAdd(&warp_histogram[best], 1);
      }
    }
#pragma unroll
    for (int j = 0; j < S::kSlots; ++j)
#pragma unroll
      for (int v = 0; v < S::kVectors; ++v) codes[j][v] = next[j][v];
  }
  __syncthreads();
  int32_t* row_histogram = a.histogram + static_cast<size_t>(row) * kHistStride;
  int32_t* chunk_histogram = a.chunk_histogram + (static_cast<size_t>(row) * a.max_chunks + blockIdx.x) * kHistStride;
  for (int b = tid; b < S::kBins; b += kFusedThreads) {
    int count = 0;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) count += histogram[w * S::kBins + b];
    chunk_histogram[b] = count;
    if (count) atomicAdd(&row_histogram[b], count);
  }
  __threadfence();
  __syncthreads();
  if (tid == 0) is_last = atomicAdd(&a.row_counter[row], 1u) == static_cast<unsigned>(chunks - 1);
  __syncthreads();
  if (!is_last) return;
  __threadfence();

  // Phase 2a. Threshold T: the smallest distance whose inclusive count reaches keep.
  constexpr int kBinsPerThread = (S::kBins + kFusedThreads - 1) / kFusedThreads;
  const int keep = row_keep(a);
  int bin_count[kBinsPerThread];
  int sum = 0;
#pragma unroll
  for (int i = 0; i < kBinsPerThread; ++i) {
    const int b = tid * kBinsPerThread + i;
    bin_count[i] = b < S::kBins ? __ldcg(&row_histogram[b]) : 0;
    sum += bin_count[i];
  }
  int before = 0;
  Scan(scan_storage).ExclusiveSum(sum, before);
#pragma unroll
  for (int i = 0; i < kBinsPerThread; ++i) {
    const int b = tid * kBinsPerThread + i;
    if (b < S::kBins && before + bin_count[i] >= keep && (b == 0 || before < keep)) {
      row_state = RowSelectState{static_cast<uint32_t>(b), before, keep - before, keep >= candidates ? 1 : 0};
    }
    before += bin_count[i];
  }
  for (int b = tid; b < S::kBins; b += kFusedThreads) row_histogram[b] = 0;
  if (tid == 0) a.row_counter[row] = 0;
  __syncthreads();
  const RowSelectState state = row_state;
  if (tid == 0) a.state[row] = state;
  int32_t* list = a.indices + static_cast<size_t>(row) * a.capacity;
  // Phase 2b. Per chunk: below T and at T, from its histogram (8 threads per chunk).
  const uint32_t threshold = state.take_all ? static_cast<uint32_t>(S::kBins) : state.threshold;
  const size_t row_chunks = static_cast<size_t>(row) * a.max_chunks;
  for (int c0 = 0; c0 < chunks; c0 += kFusedThreads / 8) {
    const int c = c0 + tid / 8, sub = tid % 8;
    int less = 0, tie = 0;
    if (c < chunks) {
      const int32_t* h = a.chunk_histogram + (row_chunks + c) * kHistStride;
      for (int b = sub; b < static_cast<int>(threshold) && b < S::kBins; b += 8) less += __ldcg(h + b);
      if (sub == 0 && threshold < static_cast<uint32_t>(S::kBins)) tie = __ldcg(h + threshold);
    }
#pragma unroll
    for (int width = 4; width > 0; width /= 2) {
      less += __shfl_xor_sync(0xffffffffu, less, width);
      tie += __shfl_xor_sync(0xffffffffu, tie, width);
    }
    if (c < chunks && sub == 0) {
      a.chunk_less[row_chunks + c] = less;
      a.chunk_tie[row_chunks + c] = tie;
    }
  }
  __syncthreads();
  // Ties are taken from the latest chunks first; offsets are the exclusive prefix of what each
  // chunk keeps (compact_kernel then fills each chunk's slots in ascending order).
  int chunk_less[kMaxChunkItems], chunk_tie[kMaxChunkItems];
#pragma unroll
  for (int i = 0; i < kMaxChunkItems; ++i) {
    const int c = tid * kMaxChunkItems + i;
    chunk_less[i] = c < chunks ? __ldcg(&a.chunk_less[row_chunks + c]) : 0;
    chunk_tie[i] = c < chunks ? __ldcg(&a.chunk_tie[row_chunks + c]) : 0;
  }
  int ties_through[kMaxChunkItems], all_ties;
  Scan(scan_storage).InclusiveSum(chunk_tie, ties_through, all_ties);
  __syncthreads();
  int output[kMaxChunkItems], taken[kMaxChunkItems];
#pragma unroll
  for (int i = 0; i < kMaxChunkItems; ++i) {
    taken[i] = min(chunk_tie[i], max(0, state.ties_needed - (all_ties - ties_through[i])));
    output[i] = chunk_less[i] + taken[i];
  }
  int offset[kMaxChunkItems], kept;
  Scan(scan_storage).ExclusiveSum(output, offset, kept);
#pragma unroll
  for (int i = 0; i < kMaxChunkItems; ++i) {
    const int c = tid * kMaxChunkItems + i;
    if (c < chunks) {
      a.chunk_offset[row_chunks + c] = offset[i];
      a.chunk_taken[row_chunks + c] = taken[i];
    }
  }
  if (tid == 0) {
    list[kept] = n - 1;  // the current token closes the list
    a.counts[row] = kept + 1;
  }
}

}  // namespace

void launch_adamas_fused_select(const SelectArgs& args, int batch, int max_candidates, cudaStream_t stream) {
  const float scale = hadamard_scale(args.head_dim);
  const dim3 grid(std::max(1, ceil_div(max_candidates, kFusedTokens)), batch * args.rows_per_seq);
  auto launch = [&](auto dim) {
    constexpr int D = decltype(dim)::value;
    switch (args.heads_per_row) {
      case 1: adamas_fused_kernel<D, 1><<<grid, kFusedThreads, 0, stream>>>(args, scale); break;
      case 2: adamas_fused_kernel<D, 2><<<grid, kFusedThreads, 0, stream>>>(args, scale); break;
      case 4: adamas_fused_kernel<D, 4><<<grid, kFusedThreads, 0, stream>>>(args, scale); break;
      case 8: adamas_fused_kernel<D, 8><<<grid, kFusedThreads, 0, stream>>>(args, scale); break;
      default: throw Error(detail::concat("CUDA adamas select: ", args.heads_per_row, " query heads per row not supported (1, 2, 4, 8)"));
    }
  };
  switch (args.head_dim) {
    case 64: launch(std::integral_constant<int, 64>{}); break;
    case 128: launch(std::integral_constant<int, 128>{}); break;
    case 256: launch(std::integral_constant<int, 256>{}); break;
    default: throw Error(detail::concat("CUDA adamas select: head_dim ", args.head_dim, " not supported (64, 128, 256)"));
  }
  ADAMAS_CUDA_CHECK_LAUNCH();
}

}  // namespace adamas::cuda
