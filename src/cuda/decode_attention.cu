// Flash-decoding attention over index lists (sparse) or every cached position (dense), GQA-aware.
//
// Block = (context split, unit); a unit is (sequence, KV head) with its whole query group (or one
// query head under per-query-head selection), so each selected K/V row is read once for all heads
// of the group. A split walks its positions in tiles of kTile tokens (16 KiB of K+V per tile:
// 32 tokens at d = 128 fp16). Tiles are copied into shared memory with cp.async, kStages deep, so
// the copies of the next tiles are in flight while the current one is computed and no register
// holds a load; the index list and the page table are read by the copying threads only.
// Per tile: q.k (kThreads / kTile threads per token, 32 B of the row each, rows padded by 16 B and
// pieces visited in a rotated order so the shared-memory reads do not collide), an online softmax
// per head (a warp per head; exp2, the scale folded into q), then P.V with each thread owning two
// dims of every head for every kTokenGroups-th token (short FMA chains: the kernel is bound by
// instruction latency, not bandwidth, when chains are long; measured with ncu on the H200). The last split of a unit to finish (ticket counter) merges
// the splits' (output, log-sum-exp) pairs, so there is no separate merge launch.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <type_traits>
#include <vector>

#include "cuda/block_stamps.cuh"
#include "cuda/cuda_common.cuh"
#include "cuda/decode_attention.cuh"
#include "cuda/launch.cuh"
#include "cuda/select_common.cuh"

namespace adamas::cuda {

namespace {

constexpr int kThreads = kAttentionThreads;  // 8 warps: short dependency chains, a softmax warp per head
constexpr int kStages = 3;

// kMatrixBytes: bytes of K (and of V) per tile. 8 KiB (v4; 4 blocks per SM) everywhere, or 16 KiB
// (DenseVariant::kTile32K, dense attention only; 2 blocks per SM): the same bytes in flight per SM
// with half the barriers and softmax passes per byte.
template <typename T, int D, int HEADS, int kMatrixBytes = 8192>
struct Tile {
  static constexpr int kRowBytes = D * static_cast<int>(sizeof(T));
  static constexpr int kTile = kMatrixBytes / kRowBytes;         // tokens per tile
  static constexpr int kPitch = kRowBytes + 16;                  // padded row in shared memory
  static constexpr int kChunksPerRow = kRowBytes / 16;
  static constexpr int kMatrixChunks = kTile * kChunksPerRow;    // 16-byte copies per matrix
  static constexpr int kCopiesPerThread = kMatrixChunks / kThreads;  // of K, and as many of V
  static constexpr int kThreadsPerToken = kThreads / kTile;      // q.k: threads sharing a row
  static constexpr int kDimsPerThread = D / kThreadsPerToken;    // 32 B of the row each
  static constexpr int kElemsPerPiece = 16 / static_cast<int>(sizeof(T));
  static constexpr int kPieces = kDimsPerThread / kElemsPerPiece;  // 2
  static constexpr int kQPitch = 36;                             // floats per 32 dims of q (padded)
  static constexpr int kPairs = D / 2;                           // P.V: each thread owns two dims
  static constexpr int kTokenGroups = kThreads / kPairs;         // ... of every kTokenGroups-th token
  static constexpr size_t kStageBytes = 2ull * kTile * kPitch;
  static constexpr size_t kSharedBytes = kStages * kStageBytes + sizeof(float) * (HEADS * D / 32 * kQPitch + HEADS * kTile);
  static_assert(kMatrixChunks % kThreads == 0 && kThreads % kTile == 0 && kPieces >= 1 && kThreads % kPairs == 0,
                "tile shape");
  static_assert(sizeof(float) * kTokenGroups * HEADS * D <= kStages * kStageBytes, "P.V partials reuse the stages");
};

__device__ __forceinline__ void copy_async_16(void* shared, const void* global, bool valid) {
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(shared));
  // With src-size 0 the 16 bytes are zero-filled: tokens past the end of the split.
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(address), "l"(global), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void copy_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void copy_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

template <typename T>
__device__ __forceinline__ void widen_piece(const uint4& raw, float* out) {
  const T* x = reinterpret_cast<const T*>(&raw);
#pragma unroll
  for (int e = 0; e < static_cast<int>(16 / sizeof(T)); ++e) out[e] = Elem<T>::to_float(x[e]);
}

template <typename T>
__device__ __forceinline__ float2 load_pair(const uint8_t* p) {
  if constexpr (sizeof(T) == 4) {
    return *reinterpret_cast<const float2*>(p);
  } else {
    const T* x = reinterpret_cast<const T*>(p);
    return make_float2(Elem<T>::to_float(x[0]), Elem<T>::to_float(x[1]));
  }
}

// Row (in K/V rows of kRowBytes) of cached `position` of a sequence (page_row: its page table)
// for `kv_head` in the paged layout.
__device__ __forceinline__ size_t cache_row(const AttentionArgs& a, const int32_t* page_row, int kv_head, int position) {
  const int page = __ldg(page_row + a.pages.page(position));
  return paged_row(a, page, kv_head, position);
}

// q of the unit's HEADS heads, scaled into the exp2 domain, into shared memory [HEADS][D/32][kQPitch]
// (32-dim chunks padded against bank conflicts).
template <typename S, int D, int HEADS>
__device__ __forceinline__ void stage_query(const AttentionArgs& a, float* q_shared, int seq, int first_head) {
  for (int i = threadIdx.x; i < HEADS * D; i += kThreads) {
    const int h = i / D, d = i % D;
    q_shared[(h * (D / 32) + d / 32) * S::kQPitch + d % 32] =
        a.q[(static_cast<size_t>(seq) * a.num_q_heads + first_head + h) * D + d] * a.scale_log2;
  }
}

// The tile row (token) of this thread's i-th 16-byte copy of each matrix, and the piece of the row.
// DenseSplit reads its rows' page ids a tile ahead by the same rule.
template <typename S>
__device__ __forceinline__ int copy_row_of_thread(int i) {
  return (static_cast<int>(threadIdx.x) + i * kThreads) / S::kChunksPerRow;
}
template <typename S>
__device__ __forceinline__ int copy_piece_of_thread(int i) {
  return (static_cast<int>(threadIdx.x) + i * kThreads) % S::kChunksPerRow;
}

// Copies of one tile, positions first + token for token < kTile while first + token < end
// (zero-filled past it), into `stage` ([K|V][kTile][kPitch]). Thread tid copies chunks tid, tid +
// kThreads, ... of K and the same ones of V: kCopiesPerThread rows, the i-th at cache row
// row_of(i, position).
template <typename S, typename RowOf>
__device__ __forceinline__ void copy_tile_rows(const AttentionArgs& a, uint8_t* stage, int first, int end, RowOf row_of) {
  const uint8_t* keys = static_cast<const uint8_t*>(a.keys);
  const uint8_t* values = static_cast<const uint8_t*>(a.values);
#pragma unroll
  for (int i = 0; i < S::kCopiesPerThread; ++i) {
    const int token = copy_row_of_thread<S>(i), piece = copy_piece_of_thread<S>(i);
    const int index = first + token;
    const bool valid = index < end;
    const size_t offset = (valid ? row_of(i, index) : 0) * S::kRowBytes + piece * 16;
    copy_async_16(stage + token * S::kPitch + piece * 16, keys + offset, valid);
    copy_async_16(stage + (S::kTile + token) * S::kPitch + piece * 16, values + offset, valid);
  }
}

// The same with positions position_of(first + token) (index list, page table).
template <typename S, typename PositionOf>
__device__ __forceinline__ void copy_tile(const AttentionArgs& a, uint8_t* stage, int first, int end, const int32_t* page_row,
                                          int kv_head, PositionOf position_of) {
  copy_tile_rows<S>(a, stage, first, end,
                    [&](int, int index) { return cache_row(a, page_row, kv_head, position_of(index)); });
}

// N consecutive elements of a shared-memory row as floats, in 16, 8 or 4 byte loads.
template <typename T, int N>
__device__ __forceinline__ void load_row_slice(const uint8_t* p, float (&out)[N]) {
  constexpr int kBytes = N * static_cast<int>(sizeof(T));
  static_assert(kBytes % 4 == 0, "whole words");
  if constexpr (kBytes >= 16) {
    uint4 raw[kBytes / 16];
#pragma unroll
    for (int i = 0; i < kBytes / 16; ++i) raw[i] = reinterpret_cast<const uint4*>(p)[i];
    const T* x = reinterpret_cast<const T*>(raw);
#pragma unroll
    for (int e = 0; e < N; ++e) out[e] = Elem<T>::to_float(x[e]);
  } else if constexpr (kBytes == 8) {
    const uint2 raw = *reinterpret_cast<const uint2*>(p);
    const T* x = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int e = 0; e < N; ++e) out[e] = Elem<T>::to_float(x[e]);
  } else {
    const uint32_t raw = *reinterpret_cast<const uint32_t*>(p);
    const T* x = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int e = 0; e < N; ++e) out[e] = Elem<T>::to_float(x[e]);
  }
}

// Diagnostics: thread 0 stamps the global timer at `point` (kAttentionTracePoints) when traced.
__device__ __forceinline__ void trace_mark(const AttentionArgs& a, int point) {
  stamp_block(a.trace, static_cast<size_t>(blockIdx.y) * gridDim.x + blockIdx.x, kAttentionTracePoints, point);
}

// n floats from global memory written by other blocks of this launch (L2, not L1), as one
// 16-byte, 8-byte or 4-byte load when n is 4, 2 or 1 (src aligned to n floats), else in fours.
template <int N>
__device__ __forceinline__ void load_floats_cg(const float* src, float (&dst)[N]) {
  if constexpr (N % 4 == 0) {
#pragma unroll
    for (int i = 0; i < N; i += 4) {
      const float4 v = __ldcg(reinterpret_cast<const float4*>(src + i));
      dst[i] = v.x, dst[i + 1] = v.y, dst[i + 2] = v.z, dst[i + 3] = v.w;
    }
  } else if constexpr (N == 2) {
    const float2 v = __ldcg(reinterpret_cast<const float2*>(src));
    dst[0] = v.x, dst[1] = v.y;
  } else {
    static_assert(N == 1, "1, 2 or a multiple of 4 floats");
    dst[0] = __ldcg(src);
  }
}

// The merge of a unit's splits, by its last split to finish: out = sum_s w_s o_s / sum_s w_s with
// w_s = exp2(lse_s - max lse), every sum in ascending split order. Warp w takes head w /
// kWarpsPerHead and a slice of its dims, lane l kDimsPerLane consecutive dims of it. The lanes load
// 32 splits' lse at once and pass the weights on by shuffles; the first kGroup splits' outputs are
// requested with the lse, before the maximum is known, and later ones fly kGroup at a time, so the
// merge is about two L2 round trips for up to kGroup splits. (One thread per output, each loading
// every lse itself, took about 6 us at 33 splits: the GQA dense kernel's tail, ADAMAS_DENSE_TRACE.)
template <int D, int HEADS>
__device__ void merge_splits(const AttentionArgs& a, size_t unit_partial, int seq, int first_head) {
  constexpr int kWarps = kThreads / 32;
  static_assert(HEADS >= 1 && HEADS <= kWarps && D % 32 == 0, "a warp per head at least");
  constexpr int kWarpsPerHead = kWarps / HEADS < D / 32 ? kWarps / HEADS : D / 32;
  constexpr int kSlice = D / kWarpsPerHead, kDimsPerLane = kSlice / 32;
  static_assert(kDimsPerLane * 32 * kWarpsPerHead == D, "the slices cover the head");
  constexpr int kGroup = 8;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (warp >= HEADS * kWarpsPerHead) return;
  const int h = warp / kWarpsPerHead, first_dim = (warp % kWarpsPerHead) * kSlice + lane * kDimsPerLane;
  const int splits = a.splits;
  const size_t first_slot = unit_partial + static_cast<size_t>(h) * splits;
  const float* lse = a.partial_lse + first_slot;
  const float* partial = a.partial_out + first_slot * D + first_dim;  // split s at s * D
  float first_lse = lane < splits ? __ldcg(lse + lane) : -INFINITY;
  float head[kGroup][kDimsPerLane];  // splits 0 .. kGroup - 1
#pragma unroll
  for (int j = 0; j < kGroup; ++j)
    if (j < splits) load_floats_cg<kDimsPerLane>(partial + static_cast<size_t>(j) * D, head[j]);
  float max_lse = first_lse;
  for (int s = lane + 32; s < splits; s += 32) max_lse = fmaxf(max_lse, __ldcg(lse + s));
#pragma unroll
  for (int width = 16; width > 0; width /= 2) max_lse = fmaxf(max_lse, __shfl_xor_sync(0xffffffffu, max_lse, width));
  float sum = 0.0f, out[kDimsPerLane];
#pragma unroll
  for (int k = 0; k < kDimsPerLane; ++k) out[k] = 0.0f;
  for (int base = 0; base < splits; base += 32) {
    const float lane_lse = base == 0 ? first_lse : base + lane < splits ? __ldcg(lse + base + lane) : -INFINITY;
    const float lane_weight = base + lane < splits ? exp2f(lane_lse - max_lse) : 0.0f;
    const int count = min(32, splits - base);
    int j = 0;
    if (base == 0) {
#pragma unroll
      for (; j < kGroup; ++j) {
        if (j >= count) break;
        const float weight = __shfl_sync(0xffffffffu, lane_weight, j);
        sum += weight;
#pragma unroll
        for (int k = 0; k < kDimsPerLane; ++k) out[k] += weight * head[j][k];
      }
    }
#pragma unroll 8
    for (; j < count; ++j) {
      const float weight = __shfl_sync(0xffffffffu, lane_weight, j);
      float part[kDimsPerLane];
      load_floats_cg<kDimsPerLane>(partial + static_cast<size_t>(base + j) * D, part);
      sum += weight;
#pragma unroll
      for (int k = 0; k < kDimsPerLane; ++k) out[k] += weight * part[k];
    }
  }
  float* dst = a.out + (static_cast<size_t>(seq) * a.num_q_heads + first_head + h) * D + first_dim;
#pragma unroll
  for (int k = 0; k < kDimsPerLane; ++k) dst[k] = out[k] / sum;
}

// The end of a split: value(h, dim) is the split's unnormalized output of head h (sum over its
// positions of exp2(score - head_max[h]) * v), head_sum[h] its softmax denominator (0: no
// position). One split writes the output; else each writes (output / sum, log-sum-exp) to its slot
// and the unit's last split to finish (ticket counter) merges them all (merge_splits). Called by
// every thread.
template <int D, int HEADS, typename Value>
__device__ void finish_split(const AttentionArgs& a, int unit, int split, int seq, int first_head, const float* head_sum,
                             const float* head_max, Value value) {
  __shared__ bool is_last;
  const int tid = threadIdx.x;
  trace_mark(a, 1);
  const size_t unit_partial = static_cast<size_t>(unit) * HEADS * a.splits;
  for (int index = tid; index < HEADS * D; index += kThreads) {
    const int h = index / D, dim = index % D;
    const float out = value(h, dim);
    const float sum = head_sum[h];
    if (a.splits == 1) {
      a.out[(static_cast<size_t>(seq) * a.num_q_heads + first_head + h) * D + dim] = out / sum;
    } else {
      const size_t slot = unit_partial + static_cast<size_t>(h) * a.splits + split;
      a.partial_out[slot * D + dim] = sum > 0.0f ? out / sum : 0.0f;
      if (dim == 0) a.partial_lse[slot] = sum > 0.0f ? head_max[h] + log2f(sum) : -INFINITY;
    }
  }
  if (a.splits == 1) return;

  // The unit's last split merges all splits. The barrier orders the block's partial stores before
  // thread 0's fence and ticket (the pattern of a grid barrier): one fence a block, not one a thread.
  __syncthreads();
  if (tid == 0) {
    __threadfence();
    is_last = atomicAdd(&a.unit_counter[unit], 1u) == static_cast<unsigned>(a.splits - 1);
    if (is_last) __threadfence();  // the other splits' partials are read after their tickets
  }
  __syncthreads();
  trace_mark(a, 2);
  if (!is_last) return;
  merge_splits<D, HEADS>(a, unit_partial, seq, first_head);
  if (a.trace != nullptr) {  // the stamp once every warp has merged
    __syncthreads();
    trace_mark(a, 3);
  }
  if (tid == 0) a.unit_counter[unit] = 0;
}

// Fused compaction (AttentionArgs::fused): the positions of chunk `chunk` of row `unit` that the
// estimate's row state selects, in position order, into `local` (shared memory, kListChunk + 1
// entries: the chunk's last one may add the closing current token n - 1); part 0 also writes them
// at the chunk's offset of the row's list. The same selection rule as compact_kernel (select.cu):
// keys below the threshold, and of the keys equal to it the chunk's last `taken`. Returns the
// count. Called by every thread; ends with a barrier.
template <typename Key>
__device__ int compact_chunk(const AttentionArgs& a, const Key* keys_row, int unit, int chunk, int part, int n,
                             int32_t* local, cub::BlockScan<int, kThreads>::TempStorage& storage) {
  constexpr int kItems = kListChunk / kThreads;
  const int tid = threadIdx.x, candidates = n - 1;
  const RowSelectState state = static_cast<const RowSelectState*>(a.state)[unit];
  const size_t slot = static_cast<size_t>(unit) * a.max_chunks + chunk;
  const int offset = a.chunk_offset[slot], taken = a.chunk_taken[slot], ties = a.chunk_tie[slot];
  const int first = chunk * kListChunk + tid * kItems;
  Key key[kItems];
  static_assert(kItems * sizeof(Key) % 16 == 0, "whole 16-byte loads");
  // 16-byte loads (candidate_stride is a multiple of 8 keys: aligned); a vector that starts past the
  // candidates may lie past the row's workspace, so it is not read.
  constexpr int kPerVector = 16 / static_cast<int>(sizeof(Key));
#pragma unroll
  for (int v = 0; v < kItems / kPerVector; ++v)
    reinterpret_cast<uint4*>(key)[v] = first + v * kPerVector < candidates
                                           ? __ldcg(reinterpret_cast<const uint4*>(keys_row + first) + v)
                                           : make_uint4(0, 0, 0, 0);
  int is_less[kItems], is_tie[kItems];
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const int t = first + i;
    is_less[i] = t < candidates && (state.take_all || static_cast<uint32_t>(key[i]) < state.threshold);
    is_tie[i] = t < candidates && !state.take_all && static_cast<uint32_t>(key[i]) == state.threshold;
  }
  using Scan = cub::BlockScan<int, kThreads>;
  int tie_rank[kItems];
  Scan(storage).ExclusiveSum(is_tie, tie_rank);
  __syncthreads();
  int selected[kItems], position[kItems], count = 0;
#pragma unroll
  for (int i = 0; i < kItems; ++i) selected[i] = is_less[i] || (is_tie[i] && tie_rank[i] >= ties - taken);
  Scan(storage).ExclusiveSum(selected, position, count);
  int32_t* list = a.list_out + static_cast<size_t>(unit) * a.capacity;
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    if (!selected[i]) continue;
    local[position[i]] = first + i;
    if (part == 0 && offset + position[i] < a.capacity) list[offset + position[i]] = first + i;
  }
  if (chunk == ceil_div(candidates, kListChunk) - 1) {  // the row's last chunk attends the current token too
    if (tid == 0) local[count] = n - 1;
    ++count;
  }
  __syncthreads();
  return count;
}

template <typename T, int D, int HEADS, int kMatrixBytes, bool kFused = false>
__global__ __launch_bounds__(kThreads) void decode_attention_kernel(AttentionArgs a) {
  using S = Tile<T, D, HEADS, kMatrixBytes>;
  extern __shared__ __align__(16) uint8_t shared[];
  uint8_t* stages = shared;                                               // [kStages][K|V][kTile][kPitch]
  float* q_shared = reinterpret_cast<float*>(shared + kStages * S::kStageBytes);  // [HEADS][D/32][kQPitch]
  float* probs = q_shared + HEADS * D / 32 * S::kQPitch;                  // [HEADS][kTile]
  __shared__ float head_max[HEADS], head_sum[HEADS], head_correction[HEADS];

  grid_dependency_trigger();
  // Under programmatic launch everything below may be written by the kernel before (the lists,
  // counts and dense flags by selection; q, K and V in the decoder): wait first.
  grid_dependency_wait();
  trace_mark(a, 0);
  const int unit = blockIdx.y, split = blockIdx.x, tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int seq = unit / a.units_per_seq, u = unit % a.units_per_seq;
  const int kv_head = a.per_query_head ? u / a.group_size : u;
  const int first_head = a.per_query_head ? u : u * a.group_size;
  const int n = a.seq_lens[seq];
  const bool dense = kFused ? a.dense[seq] != 0 : (a.indices == nullptr || a.dense[seq]);
  int length = dense ? n : (kFused ? 0 : a.counts[unit]);
  int parts = a.splits, part = split;  // this block's share of the `length` positions
  int32_t* local_list = reinterpret_cast<int32_t*>(probs + HEADS * S::kTile);  // kFused: [kListChunk + 1]
  if constexpr (kFused) {
    __shared__ typename cub::BlockScan<int, kThreads>::TempStorage scan_storage;
    if (!dense) {
      const int chunk = split / a.fused_parts;
      parts = a.fused_parts;
      part = split % a.fused_parts;
      if (chunk < ceil_div(n - 1, kListChunk)) {
        length = a.score_keys
                     ? compact_chunk(a, a.score_keys + static_cast<size_t>(unit) * a.candidate_stride, unit, chunk, part, n,
                                     local_list, scan_storage)
                     : compact_chunk(a, a.distances + static_cast<size_t>(unit) * a.candidate_stride, unit, chunk, part, n,
                                     local_list, scan_storage);
      }
    }
  }
  const int per_split = ceil_div(ceil_div(length, parts), S::kTile) * S::kTile;
  const int begin = min(length, part * per_split), end = min(length, begin + per_split);
  const int tiles = ceil_div(end - begin, S::kTile);
  const int32_t* list = dense || kFused ? nullptr : a.indices + static_cast<size_t>(unit) * a.capacity;
  const int32_t* page_row = a.page_table + static_cast<size_t>(seq) * a.max_pages_per_seq;

  stage_query<S, D, HEADS>(a, q_shared, seq, first_head);
  if (tid < HEADS) {
    head_max[tid] = -INFINITY;
    head_sum[tid] = 0.0f;
  }

  auto load_tile = [&](int tile, int stage) {
    copy_tile<S>(a, stages + stage * S::kStageBytes, begin + tile * S::kTile, end, page_row, kv_head, [&](int index) {
      if constexpr (kFused) return dense ? index : local_list[index];
      else return list ? __ldg(list + index) : index;
    });
  };
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < tiles) load_tile(s, s);
    copy_commit();
  }

  float2 acc[HEADS];
#pragma unroll
  for (int h = 0; h < HEADS; ++h) acc[h] = make_float2(0.0f, 0.0f);
  const int qk_token = tid / S::kThreadsPerToken, qk_part = tid % S::kThreadsPerToken;
  const int pv_dim = 2 * (tid % S::kPairs), pv_group = tid / S::kPairs;

  for (int tile = 0; tile < tiles; ++tile) {
    copy_wait<kStages - 2>();
    __syncthreads();  // tile `tile` is in shared memory; everyone is done with tile - 1
    if (tile + kStages - 1 < tiles) load_tile(tile + kStages - 1, (tile + kStages - 1) % kStages);
    copy_commit();
    const uint8_t* k_tile = stages + (tile % kStages) * S::kStageBytes;
    const uint8_t* v_tile = k_tile + S::kTile * S::kPitch;
    const int valid_tokens = min(S::kTile, end - begin - tile * S::kTile);

    // q.k: thread covers kDimsPerThread dims of token qk_token; one accumulator per piece.
    {
      float dot[HEADS][S::kPieces];
      const uint8_t* row = k_tile + qk_token * S::kPitch + qk_part * S::kDimsPerThread * sizeof(T);
#pragma unroll
      for (int i = 0; i < S::kPieces; ++i) {
        const int piece = (i + qk_part) % S::kPieces;  // rotated: neighbours read different banks
        float k[S::kElemsPerPiece];
        widen_piece<T>(*reinterpret_cast<const uint4*>(row + piece * 16), k);
        const int d0 = qk_part * S::kDimsPerThread + piece * S::kElemsPerPiece;
#pragma unroll
        for (int h = 0; h < HEADS; ++h) {
          const float* qh = q_shared + (h * (D / 32) + d0 / 32) * S::kQPitch + d0 % 32;
          float sum = 0.0f;
#pragma unroll
          for (int e = 0; e < S::kElemsPerPiece; ++e) sum = fmaf(qh[e], k[e], sum);
          dot[h][i] = sum;
        }
      }
#pragma unroll
      for (int h = 0; h < HEADS; ++h) {
        float total = 0.0f;
#pragma unroll
        for (int i = 0; i < S::kPieces; ++i) total += dot[h][i];
#pragma unroll
        for (int width = S::kThreadsPerToken / 2; width > 0; width /= 2)
          total += __shfl_xor_sync(0xffffffffu, total, width);
        if (qk_part == 0) probs[h * S::kTile + qk_token] = qk_token < valid_tokens ? total : -INFINITY;
      }
    }
    __syncthreads();
    // Online softmax, warp h for head h.
    if (warp < HEADS) {
      const int h = warp;
      float tile_max = -INFINITY;
      for (int t = lane; t < S::kTile; t += 32) tile_max = fmaxf(tile_max, probs[h * S::kTile + t]);
#pragma unroll
      for (int width = 16; width > 0; width /= 2) tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, width));
      const float old_max = head_max[h], new_max = fmaxf(old_max, tile_max);
      float sum = 0.0f;
      for (int t = lane; t < S::kTile; t += 32) {
        const float p = exp2f(probs[h * S::kTile + t] - new_max);  // exp2(-inf) = 0 for padding
        probs[h * S::kTile + t] = p;
        sum += p;
      }
#pragma unroll
      for (int width = 16; width > 0; width /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, width);
      __syncwarp();  // every lane has read head_max[h] before lane 0 overwrites it
      if (lane == 0) {
        const float correction = exp2f(old_max - new_max);  // 0 on the first tile (old_max = -inf)
        head_correction[h] = correction;
        head_sum[h] = head_sum[h] * correction + sum;
        head_max[h] = new_max;
      }
    }
    __syncthreads();
    // P.V: two dims of every kTokenGroups-th token.
#pragma unroll
    for (int h = 0; h < HEADS; ++h) {
      const float correction = head_correction[h];
      acc[h].x *= correction;
      acc[h].y *= correction;
    }
#pragma unroll 4
    for (int t = pv_group; t < valid_tokens; t += S::kTokenGroups) {
      const float2 v = load_pair<T>(v_tile + t * S::kPitch + pv_dim * sizeof(T));
#pragma unroll
      for (int h = 0; h < HEADS; ++h) {
        const float p = probs[h * S::kTile + t];
        acc[h].x = fmaf(p, v.x, acc[h].x);
        acc[h].y = fmaf(p, v.y, acc[h].y);
      }
    }
  }
  copy_wait<0>();
  __syncthreads();  // stages are free; head_sum/head_max final (also when this split had no tile)

  // The token groups meet in shared memory (reusing the stages).
  float* partial = reinterpret_cast<float*>(stages);  // [kTokenGroups][HEADS][D]
#pragma unroll
  for (int h = 0; h < HEADS; ++h) {
    partial[(pv_group * HEADS + h) * D + pv_dim] = acc[h].x;
    partial[(pv_group * HEADS + h) * D + pv_dim + 1] = acc[h].y;
  }
  __syncthreads();
  finish_split<D, HEADS>(a, unit, split, seq, first_head, head_sum, head_max, [&](int h, int dim) {
    float out = 0.0f;
#pragma unroll
    for (int g = 0; g < S::kTokenGroups; ++g) out += partial[(g * HEADS + h) * D + dim];
    return out;
  });
}

// The part of the context a dense block walks (blockIdx.y: the unit, a (sequence, KV head) with its
// query heads; blockIdx.x: the split) and its tile copies, kStages deep: shared by the dense kernels.
template <typename S>
struct DenseSplit {
  int unit, split, seq, kv_head, first_head, begin, end, tiles;
  const int32_t* page_row;
  uint8_t* stages;  // [kStages][K|V][kTile][kPitch]

  __device__ __forceinline__ DenseSplit(const AttentionArgs& a, uint8_t* stage_memory) : stages(stage_memory) {
    unit = blockIdx.y;
    split = blockIdx.x;
    seq = unit / a.units_per_seq;
    const int u = unit % a.units_per_seq;
    kv_head = a.per_query_head ? u / a.group_size : u;
    first_head = a.per_query_head ? u : u * a.group_size;
    const int n = a.seq_lens[seq];
    const int per_split = ceil_div(ceil_div(n, a.splits), S::kTile) * S::kTile;
    begin = min(n, split * per_split);
    end = min(n, begin + per_split);
    tiles = ceil_div(end - begin, S::kTile);
    page_row = a.page_table + static_cast<size_t>(seq) * a.max_pages_per_seq;
  }
  // The first kStages - 1 tiles' copies, a commit group each, and the page ids of the next tile's
  // rows.
  __device__ __forceinline__ void prefetch(const AttentionArgs& a) {
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
      if (s < tiles) copy_tile<S>(a, stages + s * S::kStageBytes, begin + s * S::kTile, end, page_row, kv_head, [](int p) { return p; });
      copy_commit();
    }
    read_pages(a, kStages - 1);
  }
  // Tile `tile`'s stage once it has arrived (a block barrier: every warp is also done with tile -
  // 1's stage, which the copies of tile + kStages - 1 now refill); `valid`: its tokens. The refill's
  // page ids were read an iteration earlier, so no warp waits on a page-table load here; the next
  // tile's are read now and used at the next call.
  __device__ __forceinline__ const uint8_t* next_tile(const AttentionArgs& a, int tile, int& valid) {
    copy_wait<kStages - 2>();
    __syncthreads();
    const int refill = tile + kStages - 1;
    if (refill < tiles)
      copy_tile_rows<S>(a, stages + (refill % kStages) * S::kStageBytes, begin + refill * S::kTile, end,
                        [&](int i, int position) { return paged_row(a, pages_ahead[i], kv_head, position); });
    copy_commit();
    read_pages(a, refill + 1);
    valid = min(S::kTile, end - begin - tile * S::kTile);
    return stages + (tile % kStages) * S::kStageBytes;
  }

 private:
  int pages_ahead[S::kCopiesPerThread];  // page ids of this thread's rows in the next tile to copy

  __device__ __forceinline__ void read_pages(const AttentionArgs& a, int tile) {
    if (tile >= tiles) return;
#pragma unroll
    for (int i = 0; i < S::kCopiesPerThread; ++i) {
      const int position = begin + tile * S::kTile + copy_row_of_thread<S>(i);
      pages_ahead[i] = position < end ? __ldg(page_row + a.pages.page(position)) : 0;
    }
  }
};

// Each warp's online-softmax state at the end of a split, in the freed stages: maxima and sums
// [warp][head], unnormalized outputs [warp][head][D].
struct WarpStates {
  float *max, *sum, *acc;
};
template <int kWarps, int HEADS>
__device__ __forceinline__ WarpStates warp_states(uint8_t* stages) {
  float* max = reinterpret_cast<float*>(stages);
  return {max, max + kWarps * HEADS, max + 2 * kWarps * HEADS};
}

// The warps' states (written by each warp, read after a barrier here) merged per head, then the
// split's end (finish_split). Called by every thread.
template <int D, int HEADS, int kWarps>
__device__ __forceinline__ void finish_warp_states(const AttentionArgs& a, int unit, int split, int seq, int first_head,
                                                   const WarpStates& states) {
  __shared__ float head_max[HEADS], head_sum[HEADS];
  const int tid = threadIdx.x;
  __syncthreads();
  if (tid < HEADS) {
    float m = -INFINITY;
    for (int w = 0; w < kWarps; ++w) m = fmaxf(m, states.max[w * HEADS + tid]);
    float sum = 0.0f;
    for (int w = 0; w < kWarps; ++w)
      if (states.max[w * HEADS + tid] != -INFINITY) sum += states.sum[w * HEADS + tid] * exp2f(states.max[w * HEADS + tid] - m);
    head_max[tid] = m;
    head_sum[tid] = sum;
  }
  __syncthreads();
  finish_split<D, HEADS>(a, unit, split, seq, first_head, head_sum, head_max, [&](int h, int dim) {
    float out = 0.0f;
    for (int w = 0; w < kWarps; ++w) {
      const float m = states.max[w * HEADS + h];
      if (m != -INFINITY) out += states.acc[(w * HEADS + h) * D + dim] * exp2f(m - head_max[h]);
    }
    return out;
  });
}

// Dense attention with the tile's tokens split between the warps (DenseVariant::kWarpSplit): warp
// w owns tokens [w, w + 1) x kTokensPerWarp of every tile and keeps its own online softmax (max,
// sum per head) and output accumulators (D / 32 dims per lane and head), so a tile needs one
// barrier (the stage it reads has arrived and the one it refills is free) instead of three, and no
// warp waits for another's softmax. q.k: kLanesPerToken lanes per token, 16 B pieces of the row in
// a rotated order as in decode_attention_kernel; P.V: every lane its D / 32 dims of each of the
// warp's tokens, the probability from the token's lanes by a shuffle. The warps' states meet once,
// at the end of the split. Same copies (cp.async, kStages deep, 16 KiB of K and of V per tile).
template <typename T, int D, int HEADS>
__global__ __launch_bounds__(kThreads, 2) void dense_warp_split_kernel(AttentionArgs a) {
  using S = Tile<T, D, HEADS, 16384>;
  constexpr int kWarps = kThreads / 32;
  constexpr int kTokensPerWarp = S::kTile / kWarps;
  constexpr int kLanesPerToken = 32 / kTokensPerWarp;
  constexpr int kDimsPerLane = D / kLanesPerToken;  // q.k
  constexpr int kElems = 16 / static_cast<int>(sizeof(T));
  constexpr int kPieces = kDimsPerLane / kElems;
  constexpr int kPvDims = D / 32;  // P.V
  static_assert(kTokensPerWarp * kWarps == S::kTile && kLanesPerToken * kTokensPerWarp == 32 && kPieces >= 1 &&
                    kPieces * kElems == kDimsPerLane && kElems <= 32,
                "warp-split tile shape");
  static_assert(sizeof(float) * kWarps * HEADS * (D + 2) <= kStages * S::kStageBytes, "the warps' states reuse the stages");
  extern __shared__ __align__(16) uint8_t shared[];
  uint8_t* stages = shared;                                                       // [kStages][K|V][kTile][kPitch]
  float* q_shared = reinterpret_cast<float*>(shared + kStages * S::kStageBytes);  // [HEADS][D/32][kQPitch]

  grid_dependency_trigger();
  grid_dependency_wait();
  trace_mark(a, 0);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  DenseSplit<S> walk(a, stages);
  walk.prefetch(a);  // before q: the first tiles' copies need not wait for q's load
  stage_query<S, D, HEADS>(a, q_shared, walk.seq, walk.first_head);

  float running_max[HEADS], running_sum[HEADS], acc[HEADS][kPvDims];
#pragma unroll
  for (int h = 0; h < HEADS; ++h) {
    running_max[h] = -INFINITY;
    running_sum[h] = 0.0f;
#pragma unroll
    for (int j = 0; j < kPvDims; ++j) acc[h][j] = 0.0f;
  }
  const int my_token = warp * kTokensPerWarp + lane / kLanesPerToken, part = lane % kLanesPerToken;
  // The order in which a lane visits the kPieces 16-byte pieces of its part of the row (i-th
  // visit). A 16-byte shared load is served a quarter warp (8 lanes) at a time; rows are kPitch
  // (= 17 x 16 B at d 128 fp16/bf16) apart. With 4 lanes and 4 pieces per token, rotating by
  // `part` put two of a quarter's 8 pieces in the same banks (ncu at 32K: 56% excess shared
  // wavefronts, bench/results/2026-11-29-s12); rotating by part & 2 puts them in 8 distinct
  // bank groups for every visit. Other shapes keep the rotation by part.
  constexpr bool kPairRotation = kPieces == 4 && kLanesPerToken == 4 && S::kPitch % 128 == 16;
  auto piece_at = [&](int i) { return (i + (kPairRotation ? (part & 2) : part)) % kPieces; };
  // A lane's q.k dims are the same in every tile: with one or two heads its q values stay in
  // registers (in the rotated piece order of the loop below), not re-read from shared memory.
  constexpr bool kQInRegisters = HEADS * kDimsPerLane <= 64;
  float q_lane[kQInRegisters ? HEADS : 1][kQInRegisters ? kDimsPerLane : 1];
  if constexpr (kQInRegisters) {
    __syncthreads();  // q_shared written
#pragma unroll
    for (int i = 0; i < kPieces; ++i) {
      const int d0 = part * kDimsPerLane + piece_at(i) * kElems;
#pragma unroll
      for (int h = 0; h < HEADS; ++h)
#pragma unroll
        for (int e = 0; e < kElems; ++e) q_lane[h][i * kElems + e] = q_shared[(h * (D / 32) + d0 / 32) * S::kQPitch + d0 % 32 + e];
    }
  }
  for (int tile = 0; tile < walk.tiles; ++tile) {
    int valid_tokens;
    const uint8_t* k_tile = walk.next_tile(a, tile, valid_tokens);
    const uint8_t* v_tile = k_tile + S::kTile * S::kPitch;
    if (warp * kTokensPerWarp >= valid_tokens) continue;  // uniform: the warp has no token in this tile

    float dot[HEADS];
#pragma unroll
    for (int h = 0; h < HEADS; ++h) dot[h] = 0.0f;
    const uint8_t* row = k_tile + my_token * S::kPitch + part * kDimsPerLane * sizeof(T);
#pragma unroll
    for (int i = 0; i < kPieces; ++i) {
      const int piece = piece_at(i);  // rotated: the quarter warp's lanes read different banks
      float k[kElems];
      widen_piece<T>(*reinterpret_cast<const uint4*>(row + piece * 16), k);
      const int d0 = part * kDimsPerLane + piece * kElems;
#pragma unroll
      for (int h = 0; h < HEADS; ++h) {
        if constexpr (kQInRegisters) {
#pragma unroll
          for (int e = 0; e < kElems; ++e) dot[h] = fmaf(q_lane[h][i * kElems + e], k[e], dot[h]);
        } else {
          const float* qh = q_shared + (h * (D / 32) + d0 / 32) * S::kQPitch + d0 % 32;
#pragma unroll
          for (int e = 0; e < kElems; ++e) dot[h] = fmaf(qh[e], k[e], dot[h]);
        }
      }
    }
    float prob[HEADS];  // of this lane's token
#pragma unroll
    for (int h = 0; h < HEADS; ++h) {
#pragma unroll
      for (int width = kLanesPerToken / 2; width > 0; width /= 2) dot[h] += __shfl_xor_sync(0xffffffffu, dot[h], width);
      if (my_token >= valid_tokens) dot[h] = -INFINITY;
      float tile_max = dot[h];  // over the warp's tokens: lanes apart by multiples of kLanesPerToken
#pragma unroll
      for (int width = kLanesPerToken; width < 32; width *= 2)
        tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, width));
      const float new_max = fmaxf(running_max[h], tile_max);  // finite: the warp has a valid token
      prob[h] = exp2f(dot[h] - new_max);
      float sum = prob[h];
#pragma unroll
      for (int width = kLanesPerToken; width < 32; width *= 2) sum += __shfl_xor_sync(0xffffffffu, sum, width);
      const float correction = exp2f(running_max[h] - new_max);  // 0 on the warp's first tile
      running_sum[h] = running_sum[h] * correction + sum;
      running_max[h] = new_max;
#pragma unroll
      for (int j = 0; j < kPvDims; ++j) acc[h][j] *= correction;
    }
#pragma unroll
    for (int t = 0; t < kTokensPerWarp; ++t) {
      const int token = warp * kTokensPerWarp + t;
      if (token >= valid_tokens) break;
      float v[kPvDims];
      load_row_slice<T, kPvDims>(v_tile + token * S::kPitch + lane * kPvDims * sizeof(T), v);
#pragma unroll
      for (int h = 0; h < HEADS; ++h) {
        const float p = __shfl_sync(0xffffffffu, prob[h], t * kLanesPerToken);
#pragma unroll
        for (int j = 0; j < kPvDims; ++j) acc[h][j] = fmaf(p, v[j], acc[h][j]);
      }
    }
  }
  copy_wait<0>();
  __syncthreads();  // the stages are free

  // The warps' states meet: [warp][head] maxima and sums, [warp][head][D] accumulators.
  const WarpStates states = warp_states<kWarps, HEADS>(stages);
#pragma unroll
  for (int h = 0; h < HEADS; ++h) {
    if (lane == 0) {
      states.max[warp * HEADS + h] = running_max[h];
      states.sum[warp * HEADS + h] = running_sum[h];
    }
#pragma unroll
    for (int j = 0; j < kPvDims; ++j) states.acc[(warp * HEADS + h) * D + lane * kPvDims + j] = acc[h][j];
  }
  finish_warp_states<D, HEADS, kWarps>(a, walk.unit, walk.split, walk.seq, walk.first_head, states);
}

// One m16n8k16 tensor-core product, fp32 accumulators: d += a * b, a 16 x 16 (row-major fragment:
// a[0], a[2] rows lane / 4, a[1], a[3] rows lane / 4 + 8; columns 2 (lane % 4) + {0, 1} and + 8),
// b 16 x 8 (b[0] rows 2 (lane % 4) + {0, 1}, b[1] those + 8; column lane / 4), d 16 x 8 (d[0], d[1]
// row lane / 4, columns 2 (lane % 4) + {0, 1}; d[2], d[3] row lane / 4 + 8). Two elements per
// register, the lower index in the lower half.
template <typename T>
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (std::is_same_v<T, __half>) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// x as hi + lo, both of the cache type T: hi = T(x), lo = T(x - hi). Against T's own values the
// two products are exact in fp32, so q.k and p.v keep about fp32's precision (2^-16 relative for
// bf16 instead of 2^-8). Packed in pairs (x0 in the lower half).
template <typename T>
__device__ __forceinline__ void split_pair(float x0, float x1, uint32_t& hi, uint32_t& lo) {
  const T h0 = Elem<T>::from_float(x0), h1 = Elem<T>::from_float(x1);
  const T l0 = Elem<T>::from_float(x0 - Elem<T>::to_float(h0)), l1 = Elem<T>::from_float(x1 - Elem<T>::to_float(h1));
  hi = static_cast<uint32_t>(reinterpret_cast<const uint16_t&>(h0)) | (static_cast<uint32_t>(reinterpret_cast<const uint16_t&>(h1)) << 16);
  lo = static_cast<uint32_t>(reinterpret_cast<const uint16_t&>(l0)) | (static_cast<uint32_t>(reinterpret_cast<const uint16_t&>(l1)) << 16);
}

// Four 8 x 8 tiles of 16-bit values from shared memory, transposed (ldmatrix .trans): lanes 8i ..
// 8i + 7 give the row addresses of tile i; r[i] holds, for lane L, tile i's elements at rows
// 2 (L % 4) + {0, 1} of column L / 4.
__device__ __forceinline__ void load_tiles_transposed(const uint8_t* row_address, uint32_t (&r)[4]) {
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(row_address));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address));
}

// Dense attention on the tensor cores (DenseVariant::kMma): fp16/bf16 K/V, d 64 or 128, 2 to 8
// query heads per KV head (dense_mma_serves; other shapes take the warp split). The warp split's
// tiles, copies and warp-private online softmax, with each warp's kTokensPerWarp tokens of a tile
// (8 at d 128, 16 at d 64) in two products:
//   S = Q K^T as M = 16 rows, N = 8 tokens, K = 16 dims a step: rows 0-7 are the heads' q rounded
//   to the cache type (hi), rows 8-15 what that rounding lost (lo), so a head's score is row h
//   plus row h + 8, both in the same lane: lane L holds them for head L / 4 at tokens
//   2 (L % 4) + {0, 1};
//   O += P V as M = the heads, K = 16 token slots, N = 8 dims a step; S's accumulator layout is
//   P's A-fragment layout, so P never leaves the registers; V's fragments come from the tile by
//   ldmatrix .trans. At d 128 a warp has 8 tokens: slots 0-7 take p's hi, slots 8-15 its lo,
//   against the same 8 rows of V. At d 64 the 16 tokens fill the slots and lo takes a second
//   product.
// hi + lo keeps about fp32's precision in q and p, and packing them into the rows and slots a
// product would otherwise spend on zeros makes that free at d 128.
template <typename T, int D, int HEADS>
__global__ __launch_bounds__(kThreads, 2) void dense_mma_kernel(AttentionArgs a) {
  using S = Tile<T, D, HEADS, 16384>;
  constexpr int kWarps = kThreads / 32;
  constexpr int kTokensPerWarp = S::kTile / kWarps;
  constexpr int kTokenTiles = kTokensPerWarp / 8;  // S's n-tiles of 8 tokens: 1 or 2
  constexpr int kDimSteps = D / 16;                // q.k k-steps
  constexpr int kDimTiles = D / 8;                 // P.V n-tiles
  static_assert(sizeof(T) == 2 && HEADS >= 1 && HEADS <= 8 && (kTokensPerWarp == 8 || kTokensPerWarp == 16) &&
                    kDimTiles % 4 == 0,
                "tensor-core tile shape");
  static_assert(sizeof(float) * kWarps * HEADS * (D + 2) <= kStages * S::kStageBytes, "the warps' states reuse the stages");
  extern __shared__ __align__(16) uint8_t shared[];
  uint8_t* stages = shared;                                                       // [kStages][K|V][kTile][kPitch]
  float* q_shared = reinterpret_cast<float*>(shared + kStages * S::kStageBytes);  // [HEADS][D/32][kQPitch]
  // Q's A fragments per k-step and lane: {a[0], a[1], a[2], a[3]} = {hi, lo, hi, lo} of the
  // lane's head and dims. In shared memory, not registers: at d 128 the 64 accumulators and 32 q
  // registers did not fit the 128 that two blocks per SM leave (136 bytes spilled).
  __shared__ uint4 q_fragments[kDimSteps * 32];

  grid_dependency_trigger();
  grid_dependency_wait();
  trace_mark(a, 0);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int group = lane >> 2, quad = lane & 3;  // the fragments' row (head) and column pair
  DenseSplit<S> walk(a, stages);
  walk.prefetch(a);  // before q: the first tiles' copies need not wait for q's load
  stage_query<S, D, HEADS>(a, q_shared, walk.seq, walk.first_head);

  // Q's A fragments (head `group` of the lane; zero for group >= HEADS), hi and lo.
  __syncthreads();  // q_shared written
  for (int index = tid; index < kDimSteps * 32; index += kThreads) {
    const int k = index / 32, fragment_lane = index % 32, head = fragment_lane >> 2;
    uint32_t hi[2], lo[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int d0 = 16 * k + 8 * half + 2 * (fragment_lane & 3);
      const float* qh = q_shared + (head * (D / 32) + d0 / 32) * S::kQPitch + d0 % 32;
      const bool real = head < HEADS;
      split_pair<T>(real ? qh[0] : 0.0f, real ? qh[1] : 0.0f, hi[half], lo[half]);
    }
    q_fragments[index] = make_uint4(hi[0], lo[0], hi[1], lo[1]);
  }
  __syncthreads();

  float running_max = -INFINITY, running_sum = 0.0f;  // of head `group`
  float acc[kDimTiles][4];
#pragma unroll
  for (int j = 0; j < kDimTiles; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
  for (int tile = 0; tile < walk.tiles; ++tile) {
    int valid_tokens;
    const uint8_t* k_tile = walk.next_tile(a, tile, valid_tokens);
    const uint8_t* v_tile = k_tile + S::kTile * S::kPitch;
    const int first_token = warp * kTokensPerWarp;
    if (first_token >= valid_tokens) continue;  // uniform: the warp has no token in this tile

    // S = Q K^T: K's B fragment is two consecutive dims of token `group` (32-bit shared loads; rows
    // kPitch = 68 words apart put the 8 rows x 4 columns of a load in 32 distinct banks). At d 128,
    // even and odd k-steps accumulate apart: two chains of 4 dependent products, not one of 8.
    constexpr int kChains = kTokenTiles == 1 ? 2 : 1;
    float score[kTokenTiles][2];
#pragma unroll
    for (int nt = 0; nt < kTokenTiles; ++nt) {
      float chain[kChains][4];
#pragma unroll
      for (int c = 0; c < kChains; ++c) chain[c][0] = chain[c][1] = chain[c][2] = chain[c][3] = 0.0f;
      const uint8_t* key_row = k_tile + (first_token + 8 * nt + group) * S::kPitch + 4 * quad;
#pragma unroll
      for (int k = 0; k < kDimSteps; ++k) {
        const uint32_t b0 = *reinterpret_cast<const uint32_t*>(key_row + 32 * k);
        const uint32_t b1 = *reinterpret_cast<const uint32_t*>(key_row + 32 * k + 16);
        const uint4 q = q_fragments[k * 32 + lane];
        const uint32_t q_rows[4] = {q.x, q.y, q.z, q.w};
        mma_16816<T>(chain[k % kChains], q_rows, b0, b1);
      }
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        float total = 0.0f;  // row `group` (hi) plus row `group` + 8 (lo)
#pragma unroll
        for (int c = 0; c < kChains; ++c) total += chain[c][j] + chain[c][j + 2];
        score[nt][j] = total;
      }
    }
    // Online softmax of head `group` over the warp's tokens: the lanes of a group hold its 2 x
    // kTokenTiles scores each (xor 1, 2 reach them); tokens past the tile's end are -inf.
    float tile_max = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < kTokenTiles; ++nt)
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        if (first_token + 8 * nt + 2 * quad + j >= valid_tokens) score[nt][j] = -INFINITY;
        tile_max = fmaxf(tile_max, score[nt][j]);
      }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
    const float new_max = fmaxf(running_max, tile_max);  // finite: the warp has a valid token
    float prob[kTokenTiles][2], sum = 0.0f;
#pragma unroll
    for (int nt = 0; nt < kTokenTiles; ++nt)
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        prob[nt][j] = exp2f(score[nt][j] - new_max);
        sum += prob[nt][j];
      }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const float correction = exp2f(running_max - new_max);  // 0 on the warp's first tile
    running_sum = running_sum * correction + sum;
    running_max = new_max;
    // P's A fragments (rows 8-15 zero). d 128: p's hi in slots 0-7 (a[0]), its lo in slots 8-15
    // (a[2]), one product against V's 8 rows given twice. d 64: tokens 0-7 in a[0], 8-15 in a[2],
    // hi and lo in two products.
    uint32_t p_hi[4] = {0u, 0u, 0u, 0u}, p_lo[4] = {0u, 0u, 0u, 0u};
    if constexpr (kTokenTiles == 1) {
      split_pair<T>(prob[0][0], prob[0][1], p_hi[0], p_hi[2]);
    } else {
#pragma unroll
      for (int nt = 0; nt < kTokenTiles; ++nt) split_pair<T>(prob[nt][0], prob[nt][1], p_hi[2 * nt], p_lo[2 * nt]);
    }

    // O += P V: V's B fragments by ldmatrix .trans, four dim tiles (32 dims) a load per 8 tokens.
    const int row_in_tile = lane & 7, tile_of_lane = lane >> 3;
#pragma unroll
    for (int q4 = 0; q4 < kDimTiles / 4; ++q4) {
      uint32_t low[4], high[4];  // tokens 0-7, 8-15
      load_tiles_transposed(v_tile + (first_token + row_in_tile) * S::kPitch + (32 * q4 + 8 * tile_of_lane) * 2, low);
      if constexpr (kTokenTiles == 2)
        load_tiles_transposed(v_tile + (first_token + 8 + row_in_tile) * S::kPitch + (32 * q4 + 8 * tile_of_lane) * 2, high);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        float (&o)[4] = acc[4 * q4 + i];
        o[0] *= correction;
        o[1] *= correction;
        if constexpr (kTokenTiles == 1) {
          mma_16816<T>(o, p_hi, low[i], low[i]);
        } else {
          mma_16816<T>(o, p_hi, low[i], high[i]);
          mma_16816<T>(o, p_lo, low[i], high[i]);
        }
      }
    }
  }
  copy_wait<0>();
  __syncthreads();  // the stages are free

  // Lane (group, quad) holds head `group`'s output at dims 8 j + 2 quad + {0, 1}.
  const WarpStates states = warp_states<kWarps, HEADS>(stages);
  if (group < HEADS) {
    if (quad == 0) {
      states.max[warp * HEADS + group] = running_max;
      states.sum[warp * HEADS + group] = running_sum;
    }
#pragma unroll
    for (int j = 0; j < kDimTiles; ++j) {
      states.acc[(warp * HEADS + group) * D + 8 * j + 2 * quad] = acc[j][0];
      states.acc[(warp * HEADS + group) * D + 8 * j + 2 * quad + 1] = acc[j][1];
    }
  }
  finish_warp_states<D, HEADS, kWarps>(a, walk.unit, walk.split, walk.seq, walk.first_head, states);
}

// dense_mma_serves (decode_attention.cuh) for a kernel instantiation.
template <typename T, int D, int HEADS>
constexpr bool dense_mma_serves() {
  return adamas::cuda::dense_mma_serves(sizeof(T) == 4 ? DType::kF32 : DType::kF16, D, HEADS);
}

// A kernel of `bytes` dynamic shared memory (above the default 48 KiB: the attribute is set once
// per kernel).
template <auto kKernel>
void launch_with_shared(size_t bytes, const AttentionArgs& a, dim3 grid, bool programmatic, cudaStream_t stream) {
  static const bool configured = [bytes] {
    ADAMAS_CUDA_CHECK(cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
    return true;
  }();
  (void)configured;
  launch_with_dependency(kKernel, grid, dim3(kThreads), bytes, stream, programmatic, a);
}

template <typename T, int D, int HEADS, int kMatrixBytes, bool kFused = false>
void launch_tiles(const AttentionArgs& a, dim3 grid, bool programmatic, cudaStream_t stream) {
  // Fused: the chunk's compacted positions after the probabilities (kListChunk + 1 ints).
  constexpr size_t bytes = Tile<T, D, HEADS, kMatrixBytes>::kSharedBytes + (kFused ? (kListChunk + 1) * sizeof(int32_t) : 0);
  launch_with_shared<decode_attention_kernel<T, D, HEADS, kMatrixBytes, kFused>>(bytes, a, grid, programmatic, stream);
}

template <typename T, int D, int HEADS>
void launch_kernel(const AttentionArgs& a, dim3 grid, DenseVariant dense, bool programmatic, cudaStream_t stream) {
  constexpr size_t dense_bytes = Tile<T, D, HEADS, 16384>::kSharedBytes;  // the warp split's and the mma kernel's
  if (a.fused) {
    launch_tiles<T, D, HEADS, 8192, true>(a, grid, programmatic, stream);
  } else if (a.indices == nullptr && dense == DenseVariant::kMma && dense_mma_serves<T, D, HEADS>()) {
    if constexpr (dense_mma_serves<T, D, HEADS>())
      launch_with_shared<dense_mma_kernel<T, D, HEADS>>(dense_bytes, a, grid, programmatic, stream);
  } else if (a.indices == nullptr && (dense == DenseVariant::kWarpSplit || dense == DenseVariant::kMma)) {
    launch_with_shared<dense_warp_split_kernel<T, D, HEADS>>(dense_bytes, a, grid, programmatic, stream);
  } else if (a.indices == nullptr && dense == DenseVariant::kTile32K) {
    launch_tiles<T, D, HEADS, 16384>(a, grid, programmatic, stream);
  } else {
    launch_tiles<T, D, HEADS, 8192>(a, grid, programmatic, stream);
  }
}

template <typename T, int D>
void launch_heads(const AttentionArgs& a, dim3 grid, DenseVariant dense, bool programmatic, cudaStream_t stream) {
  switch (a.heads_per_unit) {
    case 1: launch_kernel<T, D, 1>(a, grid, dense, programmatic, stream); break;
    case 2: launch_kernel<T, D, 2>(a, grid, dense, programmatic, stream); break;
    case 3: launch_kernel<T, D, 3>(a, grid, dense, programmatic, stream); break;
    case 4: launch_kernel<T, D, 4>(a, grid, dense, programmatic, stream); break;
    case 5: launch_kernel<T, D, 5>(a, grid, dense, programmatic, stream); break;
    case 6: launch_kernel<T, D, 6>(a, grid, dense, programmatic, stream); break;
    case 7: launch_kernel<T, D, 7>(a, grid, dense, programmatic, stream); break;
    case 8: launch_kernel<T, D, 8>(a, grid, dense, programmatic, stream); break;
    default: throw Error(detail::concat("CUDA attention: ", a.heads_per_unit, " query heads per KV head not supported (1..8)"));
  }
}

template <typename T>
void launch_dims(const AttentionArgs& a, dim3 grid, DenseVariant dense, bool programmatic, cudaStream_t stream) {
  switch (a.head_dim) {
    case 64: launch_heads<T, 64>(a, grid, dense, programmatic, stream); break;
    case 128: launch_heads<T, 128>(a, grid, dense, programmatic, stream); break;
    case 256: launch_heads<T, 256>(a, grid, dense, programmatic, stream); break;
    default: throw Error(detail::concat("CUDA attention: head_dim ", a.head_dim, " not supported (64, 128, 256)"));
  }
}

}  // namespace

namespace {

void launch_any(const AttentionArgs& args, dim3 grid, DenseVariant dense, bool programmatic, cudaStream_t stream) {
  switch (args.dtype) {
    case DType::kF32: launch_dims<float>(args, grid, dense, programmatic, stream); break;
    case DType::kF16: launch_dims<__half>(args, grid, dense, programmatic, stream); break;
    default: launch_dims<__nv_bfloat16>(args, grid, dense, programmatic, stream); break;
  }
  ADAMAS_CUDA_CHECK_LAUNCH();
}

// ADAMAS_DENSE_TRACE=1 (KernelVariants::dense_trace): each eager launch runs once more with phase stamps, and the
// blocks' times are printed (us from the first block's start: median, 90th percentile, maximum).
void trace_launch(const AttentionArgs& args, dim3 grid, DenseVariant dense, cudaStream_t stream) {
  const size_t blocks = static_cast<size_t>(grid.x) * grid.y;
  const std::vector<unsigned long long> stamps =
      collect_block_stamps(blocks, kAttentionTracePoints, stream, [&](unsigned long long* trace) {
        AttentionArgs traced = args;
        traced.trace = trace;
        launch_any(traced, grid, dense, false, stream);
      });
  std::fprintf(stderr, "attention trace (grid %u x %u, us from the first block's start): point median p90 max\n", grid.x, grid.y);
  const char* names[] = {"start", "tiles done", "ticket", "merged"};
  print_stamp_points(stamps, kAttentionTracePoints, names, kAttentionTracePoints - 1);
}

}  // namespace

void launch_decode_attention(const AttentionArgs& args, int batch, cudaStream_t stream, DenseVariant dense,
                             bool programmatic, bool traced) {
  const dim3 grid(args.splits, batch * args.units_per_seq);
  launch_any(args, grid, dense, programmatic, stream);
  if (trace_now(traced, stream)) trace_launch(args, grid, dense, stream);
}

}  // namespace adamas::cuda
