// Flash-decoding attention over index lists (sparse) or every cached position (dense), GQA-aware.
#pragma once

#include <cuda_runtime.h>

#include "adamas/dtype.h"
#include "cuda/cache_view_args.cuh"
#include "cuda/kernel_variants.cuh"

namespace adamas::cuda {

constexpr int kAttentionThreads = 256;

struct AttentionArgs : CacheViewArgs {  // the cache view (device), then:
  const float* q;            // fp32 [batch][num_q_heads][head_dim]
  float* out;                // fp32 [batch][num_q_heads][head_dim]
  int num_q_heads, group_size;
  bool per_query_head;       // one list per query head (units are query heads)
  int units_per_seq;         // num_kv_heads, or num_q_heads when per_query_head
  int heads_per_unit;        // group_size, or 1
  // selection (nullptr indices: dense for every sequence)
  const int32_t* indices;    // [batch][units_per_seq][capacity]
  const int32_t* counts;
  const uint8_t* dense;
  int capacity;
  float scale_log2;          // softmax scale * log2(e)
  int splits;                // context splits per unit
  float* partial_out;        // [batch*units][heads_per_unit][splits][head_dim]
  float* partial_lse;        // [batch*units][heads_per_unit][splits]  (log2 domain)
  uint32_t* unit_counter;    // [batch*units], zero between launches
  // Fused list compaction (`fused`: adamas after a fused estimate, launch_decode_attention_fused):
  // split x of a unit is part x % fused_parts of chunk x / fused_parts of the row's candidates.
  // Each block compacts its chunk's selected positions into shared memory from the estimate's
  // row state and chunk offsets (select_common.cuh), attends over its part of them, and part 0
  // writes them into the row's index list (list_out) as compact_kernel would.
  bool fused;
  int fused_parts;
  const uint16_t* distances;       // [rows][candidate_stride] (L1), or
  const uint32_t* score_keys;      // [rows][candidate_stride] (asymmetric): the estimate's keys
  int candidate_stride;
  const void* state;               // RowSelectState [rows]
  const int32_t* chunk_offset;     // [rows][max_chunks]
  const int32_t* chunk_taken;
  const int32_t* chunk_tie;
  int max_chunks;
  int32_t* list_out;               // [rows][capacity]
  // Diagnostics (launch_decode_attention's `traced`): when set, thread 0 of every block
  // stamps the global timer at kAttentionTracePoints points into [block][kAttentionTracePoints].
  unsigned long long* trace = nullptr;
};
constexpr int kAttentionTracePoints = 5;  // start, tiles done, ticket, merged (last split), SM id

// `dense`: the tile size of launches without index lists (kernel_variants.cuh); `programmatic`:
// launched with programmatic dependent launch (launch.cuh), waiting for the previous kernel before
// reading anything; `traced` (diagnostics, ADAMAS_DENSE_TRACE): an eager launch runs once more with
// phase stamps, printed to stderr.
void launch_decode_attention(const AttentionArgs& args, int batch, cudaStream_t stream,
                             DenseVariant dense = DenseVariant::kTile16K, bool programmatic = false,
                             bool traced = false);

// The shapes dense_mma_kernel serves (DenseVariant::kMma: launches without index lists): fp16/bf16
// K/V, d 64 or 128, 2 to 8 query heads per KV head; other shapes take the warp split.
constexpr bool dense_mma_serves(DType dtype, int head_dim, int heads_per_unit) {
  return dtype != DType::kF32 && (head_dim == 64 || head_dim == 128) && heads_per_unit >= 2 && heads_per_unit <= 8;
}

// Attention blocks resident per multiprocessor with each variant (shared memory bound): the plan
// sizes its splits to one wave.
constexpr int attention_blocks_per_sm(DenseVariant dense) { return dense == DenseVariant::kTile16K ? 4 : 2; }

}  // namespace adamas::cuda
