// Arguments shared by the selection kernels (estimate, scoring, threshold search, index lists).
// Rows: row = seq * rows_per_seq + r, as in TokenSelection. Workspaces: docs/cuda_kernels.md.
#pragma once

#include <cub/block/block_scan.cuh>
#include <cuda_runtime.h>

#include "adamas/key_codes.h"
#include "adamas/selector.h"
#include "cuda/cache_view_args.cuh"
#include "cuda/cuda_common.cuh"

namespace adamas::cuda {

constexpr int kMaxGroup = 8;          // query heads scored per selection row
constexpr int kSelectThreads = 256;   // threads of every selection kernel
constexpr int kListChunk = 4096;      // candidates per block of the threshold/count/compact kernels
constexpr int kMaxChunkItems = 4;     // chunk counts per thread in the offset scan: 1024 chunks = 4M candidates
constexpr int kHistStride = 3 * 256 + 1;  // distance bins per row: L1 in [0, 3 * head_dim]

struct SelectArgs : CacheViewArgs {  // the cache view (device), then:
  // queries (device fp32 [batch][num_q_heads][head_dim])
  const float* q;
  int num_q_heads, group_size, rows_per_seq, heads_per_row;
  bool per_query_head;
  // policy
  Policy policy;
  int token_budget, sink_tokens;
  Thresholds thresholds;     // query codes (adamas l1): the layer's code book when the view has one
  float centroids[4];        // asymmetric estimator: the layer's code book centroids, level 0..3
  // workspaces
  uint16_t* distances;      // [rows][candidate_stride]
  uint32_t* score_keys;     // [rows][candidate_stride]
  int candidate_stride;
  int32_t* histogram;       // [rows][kHistStride], zero between kernels
  uint32_t* row_counter;    // [rows], zero between kernels
  RowSelectState* state;    // [rows]
  int32_t* chunk_less;      // [rows][max_chunks]
  int32_t* chunk_tie;
  int32_t* chunk_offset;
  int32_t* chunk_taken;
  int32_t* chunk_histogram;  // [rows][max_chunks][kHistStride] (adamas: each chunk's distance histogram)
  int max_chunks;
  uint2* asym_list;          // [rows][candidate_stride] {key, chunk} (asymmetric, fused variant: asymmetric.cu)
  unsigned long long* asym_tally;  // [rows] tickets << 32 | list entries (the same), zero between kernels
  // output selection
  int32_t* indices;         // [rows][capacity]
  int32_t* counts;          // [rows]
  uint8_t* dense;           // [batch]
  int capacity;
  // Fused asymmetric estimates (asymmetric.cu), benchmarks only (ADAMAS_ASYM_PROBE; the selection is
  // left unfinished): every block ends after its tables (1), its scan (2), its part's bound (3); or
  // the row's last block after its ticket (4), after reading the list (5), after the digit passes (6).
  int asym_probe;
};

__device__ __forceinline__ int row_kv_head_dev(const SelectArgs& a, int r) {
  return a.per_query_head ? r / a.group_size : r;
}
__device__ __forceinline__ int row_first_q_head_dev(const SelectArgs& a, int r) {
  return a.per_query_head ? r : r * a.group_size;
}
__device__ __forceinline__ int quest_pages_kept_dev(const SelectArgs& a) { return max(3, a.token_budget / a.page_size); }

// Candidates scored in a row of a sequence of n tokens: every position but the current one, or
// (quest) every page but the last; 0 for a sequence attended densely.
__device__ __forceinline__ int row_candidates(const SelectArgs& a, int n) {
  if (a.policy == Policy::kFull || n <= a.token_budget) return 0;
  if (a.policy == Policy::kQuest) return (n + a.page_size - 1) / a.page_size - 1;
  return n - 1;
}
// How many candidates the row keeps (the current token / last page comes on top).
__device__ __forceinline__ int row_keep(const SelectArgs& a) {
  return a.policy == Policy::kQuest ? quest_pages_kept_dev(a) - 1 : a.token_budget - 1;
}

// Marks the dense flag (the reference's rule: full, or n <= budget) and empties dense rows; a
// Quest row of a sequence longer than the budget but within one page has no candidate page and
// its list is that page (0 .. n-1), as select_tokens_ref writes it. Called by every thread of the
// policy's first kernel (block x == 0 of each row writes). Returns whether the row has candidates.
__device__ __forceinline__ bool begin_row(const SelectArgs& a, int row, int seq, int r, int candidates) {
  if (blockIdx.x == 0) {
    const int n = a.seq_lens[seq];
    const bool dense = a.policy == Policy::kFull || n <= a.token_budget;
    if (threadIdx.x == 0 && r == 0) a.dense[seq] = dense ? 1 : 0;
    if (dense) {
      if (threadIdx.x == 0) a.counts[row] = 0;
    } else if (candidates == 0) {
      int32_t* list = a.indices + static_cast<size_t>(row) * a.capacity;
      for (int u = threadIdx.x; u < min(n, a.capacity); u += blockDim.x) list[u] = u;
      if (threadIdx.x == 0) a.counts[row] = min(n, a.capacity);
    }
  }
  return candidates > 0;
}

using ChunkScan = cub::BlockScan<int, kSelectThreads>;

// The row's last block, once every chunk's count below T (`chunk_less`) and at T (`chunk_tie`) is
// stored: the ties each chunk takes and its output offset, written to `chunk_taken` and
// `chunk_offset`. Ties are taken from the latest chunks first (top_k.h's tie-break: equal keys
// order by descending position), so chunk c takes its ties only after every later chunk has
// given all of its own. Returns the number of candidates kept (the closing index goes there).
// Called by every thread of a kSelectThreads block; reuses `storage` (synchronizes before reuse).
__device__ __forceinline__ int assign_chunk_offsets(const SelectArgs& a, int row, int chunks, int ties_needed,
                                                    typename ChunkScan::TempStorage& storage) {
  const int tid = threadIdx.x;
  const size_t row_slot = static_cast<size_t>(row) * a.max_chunks;
  int chunk_less[kMaxChunkItems], chunk_tie[kMaxChunkItems];
#pragma unroll
  for (int i = 0; i < kMaxChunkItems; ++i) {
    const int c = tid * kMaxChunkItems + i;
    chunk_less[i] = c < chunks ? __ldcg(&a.chunk_less[row_slot + c]) : 0;
    chunk_tie[i] = c < chunks ? __ldcg(&a.chunk_tie[row_slot + c]) : 0;
  }
  int ties_through[kMaxChunkItems], total_ties;
  ChunkScan(storage).InclusiveSum(chunk_tie, ties_through, total_ties);
  __syncthreads();
  int output[kMaxChunkItems], taken[kMaxChunkItems];
#pragma unroll
  for (int i = 0; i < kMaxChunkItems; ++i) {
    const int ties_after = total_ties - ties_through[i];
    taken[i] = min(chunk_tie[i], max(0, ties_needed - ties_after));
    output[i] = chunk_less[i] + taken[i];
  }
  int offset[kMaxChunkItems], kept;
  ChunkScan(storage).ExclusiveSum(output, offset, kept);
#pragma unroll
  for (int i = 0; i < kMaxChunkItems; ++i) {
    const int c = tid * kMaxChunkItems + i;
    if (c < chunks) {
      a.chunk_offset[row_slot + c] = offset[i];
      a.chunk_taken[row_slot + c] = taken[i];
    }
  }
  return kept;
}

}  // namespace adamas::cuda
