// The whole Adamas decode step in one launch (adamas_step.cuh). Grid (cluster, rows): a cluster of
// C blocks per selection row; block c owns candidates [c * span, (c + 1) * span), span = the row's
// candidates / C rounded up to 64.
//  1. Scan, as the bounded estimate (adamas_fused.cu, code_scan.cuh): the row's query codes, the
//     minimum L1 over its query heads of every key code of the span, the distances kept in shared
//     memory, a block histogram of the distances at or below the block's running bound.
//  2. Each block makes its histogram cumulative. Cluster barrier. Every warp, on its own, finds
//     the row threshold T (the keep-th smallest distance) and each block's count below and at T
//     from a window of the blocks' cumulative histograms (distributed shared memory, cluster_cut),
//     the ties each block takes (the latest blocks' first: top_k.h's tie-break, as
//     assign_chunk_offsets) and its offset in the row's list. The block writes its selected
//     positions there in ascending order (a ballot compaction over its distances) and keeps them
//     in shared memory; the last block closes the list with the current token.
//  3. Each block attends over its own positions: the page-table reads of all of them at once, then
//     warp w takes positions w, w + 8, ... in batches whose K/V loads fly together, with an online
//     softmax per warp and head; the warps merge in shared memory and the block stores its partial
//     result (max, sum, output per head) into rank 0's inbox (distributed shared memory). Cluster
//     barrier (after it no block reads another's memory, so the others leave); rank 0 merges the
//     partials from its own shared memory and writes the output.
// Sequences with n <= budget (dense) run phase 3 only, over positions [c * span, (c + 1) * span).
// Why: the split path (estimate, compaction, attention: three launches with a global ticket and
// the row's closing block in between) spent 25-30 us of fixed latency per step at 32K on the H200
// against 8 us of code bytes (bench/results/2026-11-29, estimate probes).
#include <cooperative_groups.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>
#include <type_traits>

#include "adamas/error.h"
#include "adamas/hadamard.h"
#include "cuda/adamas_step.cuh"
#include "cuda/code_scan.cuh"
#include "cuda/launch.cuh"

namespace adamas::cuda {

namespace {

namespace cg = cooperative_groups;

constexpr int kThreads = kFusedThreads;
constexpr int kSpanAlign = 64;
// Candidates (or dense positions) per block: `total` over `blocks`, rounded up to kSpanAlign.
__host__ __device__ inline int step_span(int total, int blocks) {
  return ceil_div(ceil_div(total, blocks), kSpanAlign) * kSpanAlign;
}
constexpr int kTracePoints = 12;  // phase stamps 0..10, then the block's multiprocessor
constexpr int kCompactTile = 256;  // candidates a warp compacts at a time: 8 consecutive ones a lane
// Distance slots: whole compaction tiles of every warp, so the tiles' 16-byte reads stay inside.
constexpr int kDistanceSlots = (kStepMaxSpan + kWarps * kCompactTile - 1) / (kWarps * kCompactTile) * kWarps * kCompactTile;
constexpr int kDistanceBytes = kDistanceSlots * static_cast<int>(sizeof(uint16_t));
// Floats of rank 0's inbox (adamas_step_kernel) for a cluster of `blocks`.
template <int HEADS, int D>
constexpr int inbox_floats(int blocks) {
  return blocks * HEADS * (D + 2);
}
template <int HEADS, int D>
constexpr int dynamic_bytes(int blocks) {
  return kDistanceBytes + inbox_floats<HEADS, D>(blocks) * static_cast<int>(sizeof(float));
}

// One lane's E consecutive elements of a K or V row: loaded as one vector, widened when used.
template <typename T, int E>
struct LaneSlice {
  static constexpr int kBytes = E * static_cast<int>(sizeof(T));
  static_assert(kBytes == 4 || kBytes == 8 || kBytes == 16, "one vector load per lane");
  using Vector = std::conditional_t<kBytes == 16, uint4, std::conditional_t<kBytes == 8, uint2, unsigned int>>;
  static __device__ __forceinline__ Vector load(const T* p) { return __ldg(reinterpret_cast<const Vector*>(p)); }
  static __device__ __forceinline__ void widen(const Vector& raw, float (&out)[E]) {
    const T* x = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int e = 0; e < E; ++e) out[e] = Elem<T>::to_float(x[e]);
  }
};

// The row's threshold T and one block's counts below and at T, as a warp sees them: lane c < blocks
// holds block c's (0 in the other lanes), every lane holds T.
struct LaneCut {
  int threshold, less, tie;
};

// T = the smallest distance whose count over the cluster reaches keep, from the blocks' cumulative
// histograms (distributed shared memory), by one warp with no block barrier: 32 bins a probe, the
// window first ending at this block's running bound `bound` (T <= bound: the bound's count alone
// reaches keep), else a coarse probe of every ceil(bins / 32)-th bin below it and a window ending
// at the first that reaches keep. Three rounds of remote loads at most, one in the common case.
// Bins above a block's bound may be undercounted (it stopped counting them), but such a bin's
// count already reaches keep, so "reaches keep" is exact for every bin and T with it; the bins
// <= T are exact, so are the counts below and at T.
template <int D>
__device__ __forceinline__ LaneCut cluster_cut(const cg::cluster_group& cluster, int* histogram, int blocks, int keep,
                                               bool take_all, int bound) {
  using S = FusedShape<D>;
  const int lane = threadIdx.x & 31;
  if (take_all) {  // every candidate: each block's count through the last bin
    const int all = lane < blocks ? cluster.map_shared_rank(histogram, lane)[S::kBins - 1] : 0;
    return LaneCut{S::kBins, all, 0};
  }
  int top = min(bound, S::kBins - 1), stride = 1;  // lane l probes bin top - (31 - l) * stride
  for (;;) {
    const int bin = top - (31 - lane) * stride;
    int through[kStepMaxCluster], total = 0;
#pragma unroll
    for (int c = 0; c < kStepMaxCluster; ++c)
      through[c] = c < blocks && bin >= 0 ? cluster.map_shared_rank(histogram, c)[bin] : 0;
#pragma unroll
    for (int c = 0; c < kStepMaxCluster; ++c) total += through[c];
    const unsigned reached = __ballot_sync(0xffffffffu, bin >= 0 && total >= keep);  // lane 31 always
    const int lowest = top - 31 * stride;
    if (stride == 1 && (reached & 1u) != 0 && lowest > 0) {  // T is below the window: probe coarsely
      top = lowest;
      stride = ceil_div(top + 1, 32);
      continue;
    }
    const int at = __ffs(reached) - 1;
    if (stride > 1) {  // T in (the bin before, the first bin reaching keep]: a window ending there
      top -= (31 - at) * stride;
      stride = 1;
      continue;
    }
    LaneCut cut{top - 31 + at, 0, 0};
#pragma unroll
    for (int c = 0; c < kStepMaxCluster; ++c) {
      const int upto = __shfl_sync(0xffffffffu, through[c], at);
      const int below = __shfl_sync(0xffffffffu, through[c], max(at - 1, 0));
      if (lane == c) {
        cut.less = at > 0 ? below : 0;
        cut.tie = upto - cut.less;
      }
    }
    return cut;
  }
}

// MIN_BLOCKS per multiprocessor: 2 (128 registers), or 3 (80 registers, some spilled) with one or
// two heads a row, as the bounded estimate, for more code loads in flight per multiprocessor
// (ADAMAS_STEP_BLOCKS, launch_adamas_step).
template <typename T, int D, int HEADS, int MIN_BLOCKS>
__global__ __launch_bounds__(kThreads, MIN_BLOCKS) void adamas_step_kernel(StepArgs a, float hadamard_scale,
                                                                                 int probe) {
  using S = FusedShape<D>;
  constexpr int E = D / 32;                                             // K/V elements per lane
  using Slice = LaneSlice<T, E>;
  constexpr int kBatch = Slice::kBytes <= 8 ? 8 : 4;                    // positions per warp in flight
  extern __shared__ __align__(16) uint8_t dynamic_shared[];
  uint16_t* distance = reinterpret_cast<uint16_t*>(dynamic_shared);  // [kDistanceSlots]: phase 1-2
  float* warp_out = reinterpret_cast<float*>(dynamic_shared);        // [kWarps][HEADS][D]: phase 3
  // Rank 0's inbox of the blocks' partial results: [blocks][HEADS][D] outputs, then [blocks][HEADS]
  // maxima and sums (inbox_floats<HEADS, D>(blocks) in all).
  float* inbox = reinterpret_cast<float*>(dynamic_shared + kDistanceBytes);
  static_assert(sizeof(float) * kWarps * HEADS * D <= kDistanceBytes, "warp partials reuse the distances");
  __shared__ __align__(16) uint8_t query_code[HEADS][D / 4];
  __shared__ __align__(16) float q_raw[HEADS][D];     // the row's queries (fp32, post-RoPE)
  __shared__ __align__(16) float q_scaled[HEADS][D];  // q * softmax scale * log2(e)
  __shared__ int histogram[S::kBins];
  __shared__ int bound;
  __shared__ typename ChunkScan::TempStorage scan_storage;
  __shared__ int32_t local_list[kStepMaxList + 1];
  __shared__ int warp_less[kWarps], warp_ties[kWarps];
  __shared__ float warp_max[kWarps][HEADS], warp_sum[kWarps][HEADS];

  const cg::cluster_group cluster = cg::this_cluster();
  const int rank = static_cast<int>(cluster.block_rank()), blocks = static_cast<int>(cluster.num_blocks());
  // ADAMAS_STEP_TRACE (diagnostics, launch_adamas_step): thread 0 of each block stamps the global
  // timer at the phase boundaries 0..10 (10: rank 0 only) into a.trace[row][rank][kTracePoints].
  auto mark = [&](int point) {
    if (a.trace != nullptr && threadIdx.x == 0) {
      unsigned long long now;
      asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
      a.trace[(static_cast<size_t>(blockIdx.y) * blocks + rank) * kTracePoints + point] = now;
    }
  };
  mark(0);
  if (a.trace != nullptr && threadIdx.x == 0) {
    unsigned sm;
    asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
    a.trace[(static_cast<size_t>(blockIdx.y) * blocks + rank) * kTracePoints + 11] = sm;
  }
  grid_dependency_trigger();
  grid_dependency_wait();  // under programmatic launch: q and the cache are the previous kernels'
  const int row = blockIdx.y, seq = row / a.rows_per_seq, r = row % a.rows_per_seq;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int n = a.seq_lens[seq];
  const int candidates = row_candidates(a, n);
  const bool dense = candidates == 0;  // adamas: n <= budget (else n - 1 >= budget >= 1 candidates)
  const int total = dense ? n : candidates;
  const int kv_head = row_kv_head_dev(a, r), first_head = row_first_q_head_dev(a, r);
  // q is requested first: its loads fly while the span and the first page ids are worked out.
  constexpr int kQPerThread = (HEADS * D + kThreads - 1) / kThreads;
  float q_value[kQPerThread];
#pragma unroll
  for (int i = 0; i < kQPerThread; ++i) {
    const int index = tid + i * kThreads;
    q_value[i] = index < HEADS * D ? a.q[(static_cast<size_t>(seq) * a.num_q_heads + first_head) * D + index] : 0.0f;
  }
  const int span = step_span(total, blocks);
  const int span_start = min(total, rank * span), span_end = min(total, span_start + span);
  const int keep = row_keep(a);
  const int32_t* page_row = a.page_table + static_cast<size_t>(seq) * a.max_pages_per_seq;
  if (rank == 0 && tid == 0) {
    if (r == 0) a.dense[seq] = dense ? 1 : 0;
    if (dense) a.counts[row] = 0;
  }

  mark(1);
  // Phase 1. Lane l of warp w scores token l of each 32-token group, as adamas_bounded_kernel.
  auto round_token = [&](int base, int j) { return base + (warp * S::kSlots + j) * 32 + lane; };
  // The page ids of a round are read one round ahead of its code loads, so the loads of a round
  // never wait on a page-table trip.
  auto load_pages = [&](int base, int (&page)[S::kSlots]) {
#pragma unroll
    for (int j = 0; j < S::kSlots; ++j) {
      const int t = round_token(base, j);
      page[j] = t < span_end ? __ldg(page_row + t / a.page_size) : -1;
    }
  };
  auto load_codes = [&](int base, const int (&page)[S::kSlots], uint4 (&codes)[S::kSlots][S::kVectors]) {
    int token[S::kSlots];
#pragma unroll
    for (int j = 0; j < S::kSlots; ++j) token[j] = round_token(base, j);
    load_slot_codes<D>(a, kv_head, token, page, codes);
  };
  const bool scans = !dense && span_start < span_end;  // block-uniform
  // The first page ids fly with q; the first codes are requested once the page ids are in, and
  // fly while the query codes are built (from q staged in shared memory).
  uint4 codes[S::kSlots][S::kVectors];
  int page[S::kSlots];
  if (scans) load_pages(span_start, page);
  for (int b = tid; b < S::kBins; b += kThreads) histogram[b] = 0;
  if (tid == 0) bound = S::kBins;
#pragma unroll
  for (int i = 0; i < kQPerThread; ++i) {
    const int index = tid + i * kThreads;
    if (index < HEADS * D) {
      q_raw[index / D][index % D] = q_value[i];
      q_scaled[index / D][index % D] = q_value[i] * a.scale_log2;
    }
  }
  if (scans) {
    load_codes(span_start, page, codes);
    load_pages(span_start + S::kTokensPerRound, page);
  }
  __syncthreads();  // q staged
  if (!dense && warp < HEADS) warp_query_code<D>(q_raw[warp], hadamard_scale, a.thresholds, query_code[warp]);
  __syncthreads();
  mark(2);
  if (scans) {
    constexpr bool kQueryInRegisters = kBoundedQueryInRegisters<D, HEADS>;
    uint64_t query_words[kQueryInRegisters ? HEADS * (D / 32) : 1];
    query_words_to_registers<D, HEADS, kQueryInRegisters>(query_code, query_words);
    for (int base = span_start, round = 0; base < span_end; base += S::kTokensPerRound, ++round) {
      int best[S::kSlots];
#pragma unroll
      for (int j = 0; j < S::kSlots; ++j)
        best[j] = min_l1_over_heads<D, HEADS, kQueryInRegisters>(reinterpret_cast<const uint64_t*>(codes[j]), query_words,
                                                                 query_code);
      const bool more = base + S::kTokensPerRound < span_end;  // block-uniform
      if (more) {
        load_codes(base + S::kTokensPerRound, page, codes);
        load_pages(base + 2 * S::kTokensPerRound, page);
      }
      const int bound_now = bound;
#pragma unroll
      for (int j = 0; j < S::kSlots; ++j) {
        const int t = round_token(base, j);
        if (t < span_end) {
          distance[t - span_start] = static_cast<uint16_t>(best[j]);
          if (best[j] <= bound_now) atomicAdd(&histogram[best[j]], 1);
        }
      }
      if (!more) break;
      // The bound after rounds 0, 1, 3, 7, ...: each update costs two barriers, and the first ones
      // prune most of the histogram updates (a stale bound only counts more).
      if ((round & (round + 1)) == 0) update_bound<D>(histogram, keep, scan_storage, bound);
    }
  }
  if (!dense) cumulate_histogram<D>(histogram, keep, scan_storage, bound);  // bin b: this block's distances <= b
  mark(3);
  if (probe == 1) return;  // benchmarks only (ADAMAS_STEP_PROBE): no cluster barrier has been passed
  cluster.sync();  // every block's cumulative histogram is complete and visible to the cluster
  mark(4);

  // Phase 2. Every warp on its own (no block barrier): the row's threshold T and, in lane c, block
  // c's count below and at T (cluster_cut); the ties the blocks take, latest blocks first; this
  // block's offset in the row's list. Then the block's selected positions, ascending, by a
  // ballot compaction over the distances.
  int length;  // positions this block attends
  if (dense) {
    length = span_end - span_start;
  } else {
    const bool take_all = keep >= candidates;
    const LaneCut cut = cluster_cut<D>(cluster, histogram, blocks, keep, take_all, bound);
    mark(5);
    const int threshold = cut.threshold;  // kBins under take_all: every distance is below
    const int less_total = __reduce_add_sync(0xffffffffu, cut.less);
    const int ties_needed = take_all ? 0 : keep - less_total;
    int tie_total;
    const int ties_before = warp_exclusive_sum(cut.tie, tie_total);
    const int taken = min(cut.tie, max(0, ties_needed - (tie_total - ties_before - cut.tie)));
    int kept;
    const int offset_of_lane = warp_exclusive_sum(cut.less + taken, kept);
    const int offset = __shfl_sync(0xffffffffu, offset_of_lane, rank);
    const int my_less = __shfl_sync(0xffffffffu, cut.less, rank), my_taken = __shfl_sync(0xffffffffu, taken, rank);
    const int first_taken_tie = __shfl_sync(0xffffffffu, cut.tie, rank) - my_taken;  // this block takes its last ties
    mark(6);
    int32_t* list = a.indices + static_cast<size_t>(row) * a.capacity;
    // Warp w takes a contiguous range of the span, kCompactTile candidates (8 a lane) at a time:
    // first its counts below and at T, then, with the counts of the warps before it, its writes.
    const int span_length = span_end - span_start;
    const int per_warp = ceil_div(span_length, kWarps * kCompactTile) * kCompactTile;
    const int warp_begin = min(span_length, warp * per_warp), warp_end = min(span_length, warp_begin + per_warp);
    auto tile_masks = [&](int base, unsigned& less_mask, unsigned& tie_mask) {
      const int first = base + lane * 8;
      const uint4 raw = *reinterpret_cast<const uint4*>(distance + first);  // inside kDistanceSlots
      const uint16_t* d = reinterpret_cast<const uint16_t*>(&raw);
      less_mask = tie_mask = 0;
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const bool valid = first + i < warp_end;
        less_mask |= static_cast<unsigned>(valid && d[i] < threshold) << i;
        tie_mask |= static_cast<unsigned>(valid && d[i] == threshold) << i;
      }
    };
    int warp_less_count = 0, warp_tie_count = 0;
    for (int base = warp_begin; base < warp_end; base += kCompactTile) {
      unsigned less_mask, tie_mask;
      tile_masks(base, less_mask, tie_mask);
      warp_less_count += __popc(less_mask);
      warp_tie_count += __popc(tie_mask);
    }
    warp_less_count = __reduce_add_sync(0xffffffffu, warp_less_count);
    warp_tie_count = __reduce_add_sync(0xffffffffu, warp_tie_count);
    if (lane == 0) {
      warp_less[warp] = warp_less_count;
      warp_ties[warp] = warp_tie_count;
    }
    __syncthreads();
    int write_at = 0, tie_rank = 0;  // this warp's first slot in the block's list; its first tie's rank in the block
    for (int w = 0; w < warp; ++w) {
      const int ties = warp_ties[w];
      write_at += warp_less[w] + min(ties, max(0, tie_rank + ties - max(first_taken_tie, tie_rank)));
      tie_rank += ties;
    }
    for (int base = warp_begin; base < warp_end; base += kCompactTile) {
      unsigned less_mask, tie_mask;
      tile_masks(base, less_mask, tie_mask);
      if (__ballot_sync(0xffffffffu, (less_mask | tie_mask) != 0) == 0) continue;  // most tiles at long contexts
      int tile_ties, tile_count;
      const int lane_tie_rank = tie_rank + warp_exclusive_sum(__popc(tie_mask), tile_ties);
      unsigned selected = less_mask;
      int k = 0;
      for (unsigned m = tie_mask; m != 0; m &= m - 1, ++k)  // the lane's ties in ascending order
        if (lane_tie_rank + k >= first_taken_tie) selected |= m & (~m + 1);
      const int lane_at = write_at + warp_exclusive_sum(__popc(selected), tile_count);
      k = 0;
      for (unsigned m = selected; m != 0; m &= m - 1, ++k) {
        const int at = lane_at + k, position = span_start + base + lane * 8 + __ffs(m) - 1;
        if (at < kStepMaxList) local_list[at] = position;
        if (offset + at < a.capacity) list[offset + at] = position;
      }
      write_at += tile_count;
      tie_rank += tile_ties;
    }
    int count = my_less + my_taken;
    if (rank == blocks - 1) {  // the current token closes the list
      if (tid == 0) {
        local_list[min(count, kStepMaxList)] = n - 1;
        if (kept < a.capacity) list[kept] = n - 1;
        a.counts[row] = kept + 1;
      }
      ++count;
    }
    length = min(count, kStepMaxList + 1);
  }
  length = min(length, kStepMaxList + 1);  // dense: n <= budget <= kStepMaxList
  mark(7);
  if (probe == 2) {  // benchmarks only: no block may leave while another reads its histogram
    cluster.sync();
    return;
  }
  __syncthreads();  // the list is complete; the distances are no longer read (warp_out reuses them)

  // Phase 3. Attention over this block's positions.
  float head_max[HEADS], head_sum[HEADS], acc[HEADS][E];
#pragma unroll
  for (int h = 0; h < HEADS; ++h) {
    head_max[h] = -INFINITY;
    head_sum[h] = 0.0f;
#pragma unroll
    for (int e = 0; e < E; ++e) acc[h][e] = 0.0f;
  }
  // The cache rows of this block's positions, every page-table read in flight at once (rows are
  // K/V rows of the paged layout, < 2^32).
  for (int i = tid; i < length; i += kThreads) {
    const int position = dense ? span_start + i : local_list[i];
    const int page = __ldg(page_row + position / a.page_size);
    local_list[i] = static_cast<int32_t>(
        static_cast<uint32_t>((static_cast<size_t>(page) * a.num_kv_heads + kv_head) * a.page_size + position % a.page_size));
  }
  __syncthreads();
  const T* keys = static_cast<const T*>(a.keys) + lane * E;
  const T* values = static_cast<const T*>(a.values) + lane * E;
  for (int base = warp * kBatch; base < length; base += kWarps * kBatch) {  // warp-uniform
    typename Slice::Vector k[kBatch], v[kBatch];
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      if (base + j >= length) break;
      const size_t element = static_cast<size_t>(static_cast<uint32_t>(local_list[base + j])) * D;
      k[j] = Slice::load(keys + element);
      v[j] = Slice::load(values + element);
    }
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      if (base + j >= length) break;
      float key[E], value[E];
      Slice::widen(k[j], key);
      Slice::widen(v[j], value);
#pragma unroll
      for (int h = 0; h < HEADS; ++h) {
        float score = 0.0f;
#pragma unroll
        for (int e = 0; e < E; ++e) score = fmaf(q_scaled[h][lane * E + e], key[e], score);
#pragma unroll
        for (int width = 16; width > 0; width /= 2) score += __shfl_xor_sync(0xffffffffu, score, width);
        const float new_max = fmaxf(head_max[h], score);
        const float correction = exp2f(head_max[h] - new_max);  // 0 at the first position (-inf)
        const float p = exp2f(score - new_max);
        head_sum[h] = fmaf(head_sum[h], correction, p);
#pragma unroll
        for (int e = 0; e < E; ++e) acc[h][e] = fmaf(acc[h][e], correction, p * value[e]);
        head_max[h] = new_max;
      }
    }
  }
#pragma unroll
  for (int h = 0; h < HEADS; ++h) {
#pragma unroll
    for (int e = 0; e < E; ++e) warp_out[(warp * HEADS + h) * D + lane * E + e] = acc[h][e];
    if (lane == 0) {
      warp_max[warp][h] = head_max[h];
      warp_sum[warp][h] = head_sum[h];
    }
  }
  __syncthreads();
  mark(8);
  if (probe == 3) {  // benchmarks only, as probe 2
    cluster.sync();
    return;
  }
  // The warps' partials into the block's (a warp without positions has max -inf and weight 0),
  // stored into rank 0's inbox.
  float* their_inbox = cluster.map_shared_rank(inbox, 0);
  float* inbox_max = inbox + blocks * HEADS * D;
  float* inbox_sum = inbox_max + blocks * HEADS;
  for (int i = tid; i < HEADS * D; i += kThreads) {
    const int h = i / D, dim = i % D;
    float top = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) top = fmaxf(top, warp_max[w][h]);
    float out = 0.0f, sum = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float weight = warp_max[w][h] == -INFINITY ? 0.0f : exp2f(warp_max[w][h] - top);
      out = fmaf(weight, warp_out[(w * HEADS + h) * D + dim], out);
      sum = fmaf(weight, warp_sum[w][h], sum);
    }
    their_inbox[(rank * HEADS + h) * D + dim] = out;
    if (dim == 0) {
      their_inbox[blocks * HEADS * D + rank * HEADS + h] = top;
      their_inbox[blocks * HEADS * (D + 1) + rank * HEADS + h] = sum;
    }
  }
  // Every partial is in rank 0's inbox, and every block is past its remote reads: the others may
  // leave; rank 0 merges from its own shared memory.
  cluster.sync();
  mark(9);
  if (rank != 0) return;
  for (int i = tid; i < HEADS * D; i += kThreads) {
    const int h = i / D, dim = i % D;
    float top = -INFINITY;
    for (int c = 0; c < blocks; ++c) top = fmaxf(top, inbox_max[c * HEADS + h]);
    float out = 0.0f, sum = 0.0f;
    for (int c = 0; c < blocks; ++c) {
      const float their_max = inbox_max[c * HEADS + h];
      const float weight = their_max == -INFINITY ? 0.0f : exp2f(their_max - top);
      out = fmaf(weight, inbox[(c * HEADS + h) * D + dim], out);
      sum = fmaf(weight, inbox_sum[c * HEADS + h], sum);
    }
    a.out[(static_cast<size_t>(seq) * a.num_q_heads + first_head + h) * D + dim] = out / sum;
  }
  mark(10);
}

// The kernel's attributes (shared memory above 48 KB, clusters of 16), set once per instantiation.
template <typename T, int D, int HEADS, int MIN_BLOCKS>
void configure_step() {
  static const bool configured = [] {
    ADAMAS_CUDA_CHECK(cudaFuncSetAttribute(adamas_step_kernel<T, D, HEADS, MIN_BLOCKS>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           dynamic_bytes<HEADS, D>(kStepMaxCluster)));
    ADAMAS_CUDA_CHECK(
        cudaFuncSetAttribute(adamas_step_kernel<T, D, HEADS, MIN_BLOCKS>, cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
    return true;
  }();
  (void)configured;
}

// Clusters of `cluster` blocks the device holds at once (cudaOccupancyMaxActiveClusters: clusters are
// placed within a GPC, so fewer than SMs x blocks per SM / cluster), for every size, queried once.
template <typename T, int D, int HEADS, int MIN_BLOCKS>
int active_clusters(int cluster) {
  static const std::vector<int> counts = [] {
    configure_step<T, D, HEADS, MIN_BLOCKS>();
    std::vector<int> c(kStepMaxCluster + 1, 0);
    for (int size = 1; size <= kStepMaxCluster; ++size) {
      cudaLaunchAttribute attribute{};
      attribute.id = cudaLaunchAttributeClusterDimension;
      attribute.val.clusterDim.x = static_cast<unsigned>(size);
      attribute.val.clusterDim.y = 1;
      attribute.val.clusterDim.z = 1;
      cudaLaunchConfig_t config{};
      config.gridDim = dim3(static_cast<unsigned>(size), 1);
      config.blockDim = dim3(kThreads);
      config.dynamicSmemBytes = dynamic_bytes<HEADS, D>(size);
      config.attrs = &attribute;
      config.numAttrs = 1;
      ADAMAS_CUDA_CHECK(cudaOccupancyMaxActiveClusters(&c[size], adamas_step_kernel<T, D, HEADS, MIN_BLOCKS>, &config));
    }
    return c;
  }();
  return cluster >= 1 && cluster <= kStepMaxCluster ? counts[cluster] : 0;
}

template <typename T, int D, int HEADS, int MIN_BLOCKS>
void launch_step(const StepArgs& args, int batch, int cluster, const KernelVariants& variants, cudaStream_t stream) {
  configure_step<T, D, HEADS, MIN_BLOCKS>();
  // Diagnostics (KernelVariants): the cluster scheduling policy (ADAMAS_STEP_SCHEDULE).
  const cudaClusterSchedulingPolicy schedule =
      variants.step_balance ? cudaClusterSchedulingPolicyLoadBalancing : cudaClusterSchedulingPolicySpread;
  cudaLaunchAttribute attributes[3]{};
  attributes[2].id = cudaLaunchAttributeClusterSchedulingPolicyPreference;
  attributes[2].val.clusterSchedulingPolicyPreference = schedule;
  attributes[0].id = cudaLaunchAttributeClusterDimension;
  attributes[0].val.clusterDim.x = static_cast<unsigned>(cluster);
  attributes[0].val.clusterDim.y = 1;
  attributes[0].val.clusterDim.z = 1;
  attributes[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attributes[1].val.programmaticStreamSerializationAllowed = variants.programmatic_launch ? 1 : 0;
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(static_cast<unsigned>(cluster), static_cast<unsigned>(batch * args.rows_per_seq));
  config.blockDim = dim3(kThreads);
  config.dynamicSmemBytes = dynamic_bytes<HEADS, D>(cluster);
  config.stream = stream;
  config.attrs = attributes;
  config.numAttrs = 3;
  // Diagnostics: ADAMAS_STEP_VERBOSE (clusters resident at most), ADAMAS_STEP_TRACE (phase stamps
  // of an extra eager launch).
  const bool traced = variants.step_trace;
  if (variants.step_verbose) {  // how many clusters the device holds at once
    int clusters = 0;
    ADAMAS_CUDA_CHECK(cudaOccupancyMaxActiveClusters(&clusters, adamas_step_kernel<T, D, HEADS, MIN_BLOCKS>, &config));
    std::fprintf(stderr, "adamas step: d %d, %d heads a row, %d blocks/SM, clusters of %d: %d active at most, grid %u x %u\n",
                 D, HEADS, MIN_BLOCKS, cluster, clusters, config.gridDim.x, config.gridDim.y);
  }
  // ADAMAS_STEP_PROBE=1..3 (benchmarks only: the step is left unfinished) ends every block after
  // the scan, after the lists, after its attention; differences of the timings place the time.
  const int probe = variants.step_probe;
  ADAMAS_CUDA_CHECK(
      cudaLaunchKernelEx(&config, adamas_step_kernel<T, D, HEADS, MIN_BLOCKS>, args, hadamard_scale(D), probe));
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  if (traced) ADAMAS_CUDA_CHECK(cudaStreamIsCapturing(stream, &capture));
  if (traced && capture == cudaStreamCaptureStatusNone) {
    // Once more with phase stamps; prints each phase's median and maximum over the blocks (us).
    const size_t blocks = static_cast<size_t>(config.gridDim.x) * config.gridDim.y;
    unsigned long long* trace = nullptr;
    ADAMAS_CUDA_CHECK(cudaMalloc(&trace, blocks * kTracePoints * sizeof(unsigned long long)));
    ADAMAS_CUDA_CHECK(cudaMemset(trace, 0, blocks * kTracePoints * sizeof(unsigned long long)));
    StepArgs traced = args;
    traced.trace = trace;
    ADAMAS_CUDA_CHECK(
        cudaLaunchKernelEx(&config, adamas_step_kernel<T, D, HEADS, MIN_BLOCKS>, traced, hadamard_scale(D), probe));
    ADAMAS_CUDA_CHECK(cudaStreamSynchronize(stream));
    std::vector<unsigned long long> stamps(blocks * kTracePoints);
    ADAMAS_CUDA_CHECK(cudaMemcpy(stamps.data(), trace, stamps.size() * sizeof(unsigned long long), cudaMemcpyDeviceToHost));
    ADAMAS_CUDA_CHECK(cudaFree(trace));
    unsigned long long first = ~0ull;
    for (size_t b = 0; b < blocks; ++b) first = std::min(first, stamps[b * kTracePoints]);
    std::fprintf(stderr, "adamas step trace (grid %u x %u, us from the first block's start): point median max\n",
                 config.gridDim.x, config.gridDim.y);
    for (int point = 0; point < kTracePoints - 1; ++point) {
      std::vector<double> at;  // the blocks that stamp this point (10: rank 0 only; probes end early)
      for (size_t b = 0; b < blocks; ++b)
        if (stamps[b * kTracePoints + point] != 0) at.push_back((stamps[b * kTracePoints + point] - first) * 1e-3);
      if (at.empty()) continue;
      std::sort(at.begin(), at.end());
      std::fprintf(stderr, "  %2d %8.2f %8.2f  (%zu blocks)\n", point, at[at.size() / 2], at.back(), at.size());
    }
    // The scan (points 2 to 3) by the number of the step's blocks on the block's multiprocessor.
    std::vector<int> per_sm(1024, 0);
    for (size_t b = 0; b < blocks; ++b) ++per_sm[stamps[b * kTracePoints + 11] % 1024];
    for (int sharing = 1; sharing <= 4; ++sharing) {
      std::vector<double> scan;
      for (size_t b = 0; b < blocks; ++b)
        if (per_sm[stamps[b * kTracePoints + 11] % 1024] == sharing)
          scan.push_back((stamps[b * kTracePoints + 3] - stamps[b * kTracePoints + 2]) * 1e-3);
      if (scan.empty()) continue;
      std::sort(scan.begin(), scan.end());
      std::fprintf(stderr, "  scan with %d blocks on the SM: %zu blocks, median %.2f us, max %.2f us\n", sharing,
                   scan.size(), scan[scan.size() / 2], scan.back());
    }
  }
}

// The most candidates a block scans for a plan of max_context tokens.
int span_for(int max_context, int cluster) { return step_span(std::max(1, max_context - 1), cluster); }

constexpr bool heads_supported(int heads, int head_dim) {
  return (heads == 1 || heads == 2 || heads == 4 || heads == 8) && heads * head_dim <= 1024;
}

}  // namespace

int adamas_step_cluster(DType dtype, int head_dim, int heads_per_row, int capacity, int max_context, int rows,
                        int sm_count, const KernelVariants& variants) {
  const bool shape = (dtype == DType::kF16 || dtype == DType::kBF16) &&
                     (head_dim == 64 || head_dim == 128 || head_dim == 256) && heads_supported(heads_per_row, head_dim);
  if (!shape || capacity > kStepMaxList) return 0;
  auto span_of = [&](int cluster) { return span_for(max_context, cluster); };
  const int cluster = rows * 8 < sm_count || span_of(8) > kStepMaxSpan ? 16 : 8;
  if (span_of(cluster) > kStepMaxSpan) return 0;
  if (variants.step == StepVariant::kCluster) return cluster;
  // Auto: one wave of clusters (about 90% of the blocks the SMs hold: clusters are placed within
  // a GPC; 45 of 8 at 3 blocks per SM, 30 at 2, measured), and spans short enough per query head
  // (GQA 32/8 at 128K, 8192 candidates x 4 heads a block: 70.9 us against 54.1 split).
  const int per_sm = heads_per_row <= 2 && variants.step_blocks != 2 ? 3 : 2;
  const bool one_wave = 10L * rows * cluster <= 9L * per_sm * sm_count;
  return one_wave && static_cast<long>(span_of(cluster)) * heads_per_row <= kStepMaxSpan ? cluster : 0;
}

void launch_adamas_step(const StepArgs& args, int batch, int cluster, int max_context, const KernelVariants& variants,
                        cudaStream_t stream) {
  const int blocks_choice = variants.step_blocks;
  if (variants.step_cluster != 0) cluster = variants.step_cluster;
  ADAMAS_CHECK(span_for(max_context, cluster) <= kStepMaxSpan, "CUDA adamas step: clusters of ", cluster,
               " leave more than ", kStepMaxSpan, " candidates per block at a context of ", max_context);
  const int rows = batch * args.rows_per_seq;
  auto with_dim = [&](auto type, auto dim) {
    using T = typename decltype(type)::type;
    constexpr int D = decltype(dim)::value;
    auto with_heads = [&](auto heads) {
      constexpr int H = decltype(heads)::value;
      if constexpr (heads_supported(H, D)) {
        if constexpr (H <= 2) {
          // Two blocks per SM where some cluster size fits every row in one wave: the SMs then hold
          // at most two of the step's blocks each (a third one slows a block's scan by 20-60%,
          // bench/results/2026-11-29-s8/trace_sm.txt); else three, with clusters of the plan's size.
          int two_block_cluster = blocks_choice == 2 ? cluster : 0;
          if (blocks_choice == 0) {
            const bool forced = variants.step_cluster != 0;
            for (int size = cluster; size >= std::max(2, forced ? cluster : cluster - 2); --size)
              if (span_for(max_context, size) <= kStepMaxSpan && active_clusters<T, D, H, 2>(size) >= rows) {
                two_block_cluster = size;
                break;
              }
          }
          if (two_block_cluster == 0) return launch_step<T, D, H, 3>(args, batch, cluster, variants, stream);
          return launch_step<T, D, H, 2>(args, batch, two_block_cluster, variants, stream);
        }
        launch_step<T, D, H, 2>(args, batch, cluster, variants, stream);
      }
      else throw Error(detail::concat("CUDA adamas step: ", H, " heads per row at head_dim ", D, " not supported"));
    };
    switch (args.heads_per_row) {
      case 1: with_heads(std::integral_constant<int, 1>{}); break;
      case 2: with_heads(std::integral_constant<int, 2>{}); break;
      case 4: with_heads(std::integral_constant<int, 4>{}); break;
      case 8: with_heads(std::integral_constant<int, 8>{}); break;
      default: throw Error(detail::concat("CUDA adamas step: ", args.heads_per_row, " query heads per row not supported (1, 2, 4, 8)"));
    }
  };
  auto with_type = [&](auto type) {
    switch (args.head_dim) {
      case 64: with_dim(type, std::integral_constant<int, 64>{}); break;
      case 128: with_dim(type, std::integral_constant<int, 128>{}); break;
      case 256: with_dim(type, std::integral_constant<int, 256>{}); break;
      default: throw Error(detail::concat("CUDA adamas step: head_dim ", args.head_dim, " not supported (64, 128, 256)"));
    }
  };
  switch (args.dtype) {
    case DType::kF16: with_type(std::type_identity<__half>{}); break;
    case DType::kBF16: with_type(std::type_identity<__nv_bfloat16>{}); break;
    default: throw Error("CUDA adamas step: fp16 or bf16 K/V only");
  }
  ADAMAS_CUDA_CHECK_LAUNCH();
}

}  // namespace adamas::cuda
