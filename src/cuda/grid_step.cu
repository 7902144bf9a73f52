// The grid step (grid_step.cuh). Grid (blocks, rows) of 256-thread blocks, 4 per multiprocessor with
// one head a row (3 with two, 2 with more), launched cooperatively; block c of a row owns candidates
// [c * span, (c + 1) * span), span = the row's candidates / blocks rounded up to 64
// (step_phases.cuh). The phases are the cluster step's (adamas_step.cu); only the meeting differs:
//  1. The scan (SpanScan): each candidate's minimum L1 over the row's query heads into the block's
//     distances (shared memory), and into its histogram when at or below the running bound.
//  2. The histogram made cumulative and published (global memory); warp 0 finds the threshold and
//     its block's share from the row's published histograms (row_cut), polling words that are not
//     written yet (step::kUnwritten) rather than meeting at a barrier, and passes them to the
//     block's other warps at a block barrier; the block lists its selected positions.
//  3. Attention over the block's positions; the block's partial result to global memory; the row's
//     last block to take a ticket merges the partials, writes the output, and resets the counters
//     and the histograms (back to unwritten) for the next launch.
// Why: clusters are placed within a GPC, so the cluster step's clusters of 8 put three of its
// blocks on some multiprocessors and one on others, and the scan waits for the most loaded
// (bench/results/2026-11-29-s8: 30 us for a block alone on its SM, 42-55 us with two others, at
// 128K). Blocks without clusters spread evenly: at most 4 per multiprocessor, and every row gets
// as many blocks as fit at once.
// Tried (bench/results/2026-11-29-s13): one block per SM (and then 3) with the codes copied by
// cp.async into a ring per warp scanned 134 MB at MHA 128K in 79-82 us, against 62 us for the
// cluster step's register loads.
#include <algorithm>
#include <cstdio>
#include <type_traits>
#include <vector>

#include "adamas/error.h"
#include "adamas/hadamard.h"
#include "cuda/block_stamps.cuh"
#include "cuda/grid_step.cuh"
#include "cuda/launch.cuh"
#include "cuda/step_dispatch.cuh"
#include "cuda/step_phases.cuh"

namespace adamas::cuda {

namespace {

constexpr int kThreads = kFusedThreads;
constexpr int kGridCutBlocksSmall = 8;  // row_cut's unrolled width where a row has at most 8 blocks
constexpr int kDistanceBytes = step::distance_slots(kGridMaxSpan) * static_cast<int>(sizeof(uint16_t));

// Blocks per multiprocessor the kernel is compiled for: 4 (64 registers) or 2 (128) with one head a
// row, 3 (80) with two, else 2 (128 registers). At 128 registers the scan keeps two rounds of codes
// (SpanScan's kDouble).
template <int HEADS>
constexpr int kMinBlocks = HEADS == 1 ? 4 : HEADS == 2 ? 3 : 2;

__device__ __forceinline__ int load_acquire(const int* p) {
  int value;
  asm volatile("ld.acquire.gpu.global.s32 %0, [%1];" : "=r"(value) : "l"(p) : "memory");
  return value;
}

// A release add: the block's stores (ordered before it by the __syncthreads that precedes every
// call) are visible at gpu scope before the count rises. One fence instead of __threadfence's
// sequentially consistent one on each side.
__device__ __forceinline__ void add_release(int* p, int value) {
  asm volatile("red.release.gpu.global.add.s32 [%0], %1;" ::"l"(p), "r"(value) : "memory");
}

__device__ __forceinline__ void store_release(int* p, int value) {
  asm volatile("st.release.gpu.global.s32 [%0], %1;" ::"l"(p), "r"(value) : "memory");
}

// A ticket: release (this block's stores before it) and acquire (the other blocks' stores, released
// by their tickets, visible after it) in one atomic.
__device__ __forceinline__ int fetch_add_acq_rel(int* p, int value) {
  int old;
  asm volatile("atom.acq_rel.gpu.global.add.s32 %0, [%1], %2;" : "=r"(old) : "l"(p), "r"(value) : "memory");
  return old;
}

// Every block of the row has arrived (after its stores): the pattern of a grid barrier, per row
// (the spread's, attend_slice; the row's last block resets the count).
__device__ __forceinline__ void row_barrier(int* arrivals, int until) {
  __syncthreads();
  if (threadIdx.x == 0) {
    add_release(arrivals, 1);
    while (load_acquire(arrivals) < until) {
    }
  }
  __syncthreads();
}

// The end of phase 2: the row's attention shared out. The selection often gathers in one or two
// blocks' spans (end to end, LongChat-7B at 32K: the last block's, where the recent tokens are, and
// one other; their attention took 4.6-5.6 us, the other blocks' 0.6: bench/results/2026-11-30-s20,
// call 3), so a block attends at most cap = max(ceil(all / blocks), kRound) positions, its first
// ones (kRound: one round of attend_rows' loads, so an even row shares nothing). The rest of a
// block's part of the row's list, its overflow, goes in list order to the blocks below cap, in rank
// order. An owner of overflow publishes that its part of the list is written (a.listed, a release
// store); a taker acquires the flags of the blocks it takes from and reads their entries through
// L2. Owners take nothing, so no block waits on a block that waits. The current token (list slot
// kept, which the list may not hold) is n - 1. Returns the block's count of positions in
// local_list; every thread calls it, after compact_block.
// `counts` and `offsets`: every block's kept count and first list slot (block_share's, in shared
// memory rather than registers, which the scan needs).
template <int kRound>
__device__ __forceinline__ int share_attention(const GridStepArgs& a, const int* counts, const int* offsets, int kept,
                                               int row, int rank, int blocks, int count, int n, const int32_t* list,
                                               int32_t* local_list) {
  const int lane = threadIdx.x & 31;
  const int all = kept + 1;
  const int cap = max(ceil_div(all, blocks), kRound);
  const int lane_total = lane < blocks ? counts[lane] + (lane == blocks - 1 ? 1 : 0) : 0;
  const int lane_over = max(0, lane_total - cap), lane_room = lane < blocks ? max(0, cap - lane_total) : 0;
  int over_total, room_total;
  const int over_before = warp_exclusive_sum(lane_over, over_total);
  const int room_before = warp_exclusive_sum(lane_room, room_total);
  const int own = min(count, cap);
  if (over_total == 0) return count;  // block-uniform, as every branch below
  int* listed = a.listed + static_cast<size_t>(row) * blocks;
  if (count > cap) {
    __syncthreads();  // every thread's list stores
    if (threadIdx.x == 0) {
      store_release(listed + rank, 1);
    }
    return own;
  }
  const int first = __shfl_sync(0xffffffffu, room_before, rank);  // this block's overflow slots [first, last)
  const int last = min(first + __shfl_sync(0xffffffffu, lane_room, rank), over_total);
  if (first >= last) return own;
  const int from = max(first, over_before), to = min(last, over_before + lane_over);  // block `lane`'s part of them
  if (threadIdx.x < 32 && lane < blocks && from < to)
    while (load_acquire(listed + lane) == 0) {
    }
  __syncthreads();
  for (int c = 0; c < blocks; ++c) {
    const int c_from = __shfl_sync(0xffffffffu, from, c), c_to = __shfl_sync(0xffffffffu, to, c);
    if (c_from >= c_to) continue;
    const int list_at = offsets[c] + cap + (c_from - __shfl_sync(0xffffffffu, over_before, c));
    for (int i = threadIdx.x; i < c_to - c_from; i += kThreads) {
      const int at = list_at + i;
      local_list[own + (c_from - first) + i] = at == kept ? n - 1 : __ldcg(list + at);
    }
  }
  return own + (last - first);
}

// Where the first or the last block of a row (the sink's span, the recent tokens') keeps more than
// kSkewedCount positions and more than twice an even share, the kernels of 2 blocks per SM spread the
// row's attention over its blocks (attend_slice). One multiprocessor draws K/V at about 30 GB/s, so
// the last block's 256 positions end to end (128 KB at d = 128, fp16) took 4.7 us whether 64 or 128
// of them flew at once; the second barrier costs about 1 us (bench/results/2026-11-30-s22). Only the
// two ends are looked at: with the maximum over every block the scan lost its uniform registers.
constexpr int kSkewedCount = 64;

// The unshared kernel's way out of a skewed row (grid_step_kernel): after a second row barrier, block
// `rank` attends the rank-th of `blocks` even slices of the row's list (kept positions, then the
// current token n - 1 at slot kept, which the list may not hold), read through L2 into local_list.
// Returns the slice's length. Every thread calls it, after every block wrote its part of the list.
__device__ __forceinline__ int attend_slice(int* arrivals, int rank, int blocks, int kept, int n, const int32_t* list,
                                            int32_t* local_list) {
  row_barrier(arrivals, blocks);
  const int all = kept + 1, per = ceil_div(all, blocks);
  const int from = min(all, rank * per), length = min(all, from + per) - from;
  for (int i = threadIdx.x; i < length; i += kThreads) {
    const int at = from + i;
    local_list[i] = at == kept ? n - 1 : __ldcg(list + at);
  }
  return length;
}

// SHARE: the row's attention shared out by share_attention (ADAMAS_GRID_SHARE=1), else each block
// attends its own part of the list (the default; KernelVariants::grid_share says why).
template <typename T, int D, int HEADS, int MIN_BLOCKS, bool SHARE>
__global__ __launch_bounds__(kThreads, MIN_BLOCKS) void grid_step_kernel(GridStepArgs a, float hadamard_scale, int flags) {
  const int probe = flags & step::kProbeMask;
  const bool late_wait = (flags & step::kLateWait) != 0;  // step::wait_then_load_queries
  using S = FusedShape<D>;
  extern __shared__ __align__(16) uint8_t dynamic_shared[];
  uint16_t* distance = reinterpret_cast<uint16_t*>(dynamic_shared);  // [distance_slots]: phases 1-2
  float* warp_out = reinterpret_cast<float*>(dynamic_shared);        // [kWarps][HEADS][D]: phase 3
  static_assert(sizeof(float) * kWarps * HEADS * D <= kDistanceBytes, "warp partials reuse the distances");
  __shared__ __align__(16) uint8_t query_code[HEADS][D / 4];
  __shared__ __align__(16) float q_raw[HEADS][D];
  __shared__ __align__(16) float q_scaled[HEADS][D];
  __shared__ int histogram[S::kBins];
  __shared__ int bound;
  __shared__ bool last_block;
  __shared__ step::BlockShare block_cut;  // warp 0's row cut and share (phase 2)
  __shared__ int block_threshold;
  __shared__ typename ChunkScan::TempStorage scan_storage;
  __shared__ int32_t local_list[kStepMaxList + 1];
  __shared__ int warp_less[kWarps], warp_ties[kWarps];
  __shared__ float warp_max[kWarps][HEADS], warp_sum[kWarps][HEADS];
  __shared__ int row_counts[SHARE ? kGridMaxBlocksPerRow : 1], row_offsets[SHARE ? kGridMaxBlocksPerRow : 1];

  const int rank = blockIdx.x, blocks = gridDim.x, row = blockIdx.y;
  // ADAMAS_STEP_TRACE (diagnostics, launch_grid_step): phase stamps, a.trace[row][rank][kTracePoints].
  const step::PhaseStamps phases{a.trace};
  phases.mark(0);
  // The dependents launch at once, or (kTriggerAfterWait: a chained cache append follows, which
  // reads the q|k|v product's k and v) once the block has waited for the kernel before.
  const bool trigger_after_wait = (flags & step::kTriggerAfterWait) != 0;
  if (!trigger_after_wait) grid_dependency_trigger();
  if (!late_wait) grid_dependency_wait();  // under programmatic launch: q and the cache are the previous kernels'
  if (trigger_after_wait && !late_wait) grid_dependency_trigger();
  const int seq = row / a.rows_per_seq, r = row % a.rows_per_seq;
  const int tid = threadIdx.x;
  const int first_head = row_first_q_head_dev(a, r), kv_head = row_kv_head_dev(a, r);
  step::RowQueries<D, HEADS> queries;  // requested first (RowQueries)
  if (!late_wait) queries.load(a, seq, first_head);
  const int32_t* page_row = a.page_table + static_cast<size_t>(seq) * a.max_pages_per_seq;
  const int n = a.seq_lens[seq];
  const int candidates = row_candidates(a, n);
  const bool dense = candidates == 0;  // adamas: n <= budget (else n - 1 >= budget >= 1 candidates)
  const int total = dense ? n : candidates;
  const int span = step::step_span(total, blocks);
  const int span_start = min(total, rank * span), span_end = min(total, span_start + span);
  const int span_length = span_end - span_start;
  const int keep = row_keep(a);
  if (rank == 0 && tid == 0) {
    if (r == 0) a.dense[seq] = dense ? 1 : 0;
    if (dense) a.counts[row] = 0;
  }
  phases.mark(1);
  // Phase 1 (SpanScan): the first page ids fly with the set-up and the query codes (stage_row).
  const bool scans = !dense && span_length > 0;  // block-uniform
  step::SpanScan<D, MIN_BLOCKS <= 2> scan{a, page_row, kv_head, span_start, span_end};
  if (scans) scan.begin();
  if (late_wait) step::wait_then_load_queries(scans, scan, queries, a, seq, first_head);
  if (trigger_after_wait && late_wait) grid_dependency_trigger();
  step::stage_row<D, HEADS>(queries, a.scale_log2, scans, dense, scan, hadamard_scale, a.thresholds, q_raw, q_scaled,
                            query_code, histogram, bound, !late_wait);
  phases.mark(2);
  if (scans) scan.template run<HEADS>(query_code, distance, histogram, keep, scan_storage, bound);
  // The block histogram made cumulative (exact at every bin up to the block's bound, which is its
  // keep-th distance) and published for the row's other blocks.
  // No row barrier: the row's other blocks poll these words (step::kUnwritten until written). The
  // probe (ADAMAS_STEP_PROBE=1, benchmarks only) publishes nothing, which no merge would reset.
  if (!dense && probe != 1) {
    cumulate_histogram<D>(histogram, keep, scan_storage, bound);
    __syncthreads();
    int* published = a.histograms + (static_cast<size_t>(row) * blocks + rank) * kGridHistStride;
    for (int b = tid; b < S::kBins; b += kThreads) step::store_relaxed(published + b, histogram[b]);
    if (tid == 0) step::store_relaxed(published + kHistStride, bound);
  }
  phases.mark(3);
  if (probe == 1) return;  // after the scan
  phases.mark(4);

  // Phase 2: the row's threshold, this block's share, its list.
  int length;  // positions this block attends
  int spread_kept = -1;  // the row's kept count where the row's attention is spread (attend_slice)
  if (dense) {
    length = min(span_length, kStepMaxList + 1);  // n <= budget <= kStepMaxList
  } else {
    const bool take_all = keep >= candidates;
    const int* row_histograms = a.histograms + static_cast<size_t>(row) * blocks * kGridHistStride;
    auto through = [&](int c, int bin) { return step::load_relaxed(row_histograms + c * kGridHistStride + bin); };
    // The blocks' bounds with one head a row only: with 4 heads attend_rows' loop spilled (4 STL / LDL).
    const bool window = HEADS == 1 && (flags & step::kSkewWindow) != 0;
    auto bound_of = [&](int c) {
      return window ? step::load_relaxed(row_histograms + c * kGridHistStride + kHistStride) : S::kBins;
    };
    // One head a row: the cut unrolled for the 8 blocks a row of the MHA shapes where they suffice.
    // Its code runs once a launch, fetched cold: 216 fewer instructions took 0.3-0.5 us off the MHA
    // step (bench/results/2026-12-02-s30, call 5).
    // By warp 0 alone (step::cut_in_warp0): 0.4-0.6 us off the step (bench/results/2026-12-02-s33,
    // call 6).
    step::cut_in_warp0(
        [&] {
          const step::LaneCut cut =
              HEADS == 1 && blocks <= kGridCutBlocksSmall
                  ? step::row_cut<D, kGridCutBlocksSmall, true>(through, bound_of, blocks, keep, take_all, bound)
                  : step::row_cut<D, kGridMaxBlocksPerRow, true>(through, bound_of, blocks, keep, take_all, bound);
          phases.mark(5);
          return cut;
        },
        [&](const step::LaneCut& cut) {
          return SHARE ? step::block_share(cut, rank, blocks, keep, take_all, row_counts, row_offsets)
                       : step::block_share(cut, rank, blocks, keep, take_all);
        },
        block_cut, block_threshold);
    const step::BlockShare share = block_cut;
    const int threshold = block_threshold;
    phases.mark(6);
    int32_t* list = a.indices + static_cast<size_t>(row) * a.capacity;
    step::compact_block<HEADS == 1>(distance, span_start, span_length, threshold, share.first_taken_tie, share.offset, list,
                        a.capacity, local_list, kStepMaxList, warp_less, warp_ties);
    // The current token: share_attention counts it in the last block's part of the list.
    const int current_rank = SHARE || (flags & step::kSkewWindow) == 0 ? blocks - 1 : share.fewest;
    int count = step::close_list(share.kept, share.less + share.taken, rank, blocks, current_rank, n, list, a.capacity,
                                 a.counts + row, local_list, kStepMaxList);
    if constexpr (SHARE) {
      count = share_attention<step::kAttendRound<T, D, HEADS>>(a, row_counts, row_offsets, share.kept, row, rank, blocks,
                                                         count, n, list, local_list);
    } else {
      const bool skewed = share.ends > kSkewedCount && share.ends * blocks > 2 * (share.kept + blocks);  // row-uniform
      spread_kept = MIN_BLOCKS <= 2 && (flags & step::kSkewSpread) != 0 && skewed ? share.kept : -1;
    }
    length = min(count, kStepMaxList + 1);
  }
  if (spread_kept >= 0) {
    const int32_t* list = a.indices + static_cast<size_t>(row) * a.capacity;
    length = attend_slice(a.sync + 2 * row, rank, blocks, spread_kept, n, list, local_list);
  }
  __syncthreads();  // the list is complete; the distances are no longer read (warp_out reuses them)
  phases.mark(7);

  // Phase 3. Attention over the block's positions, their cache rows first.
  const step::CurrentRow current = step::current_row<D>(a, seq, kv_head, n);
  step::positions_to_cache_rows<T, D>(a, page_row, kv_head, dense, span_start, local_list, length, current.position,
                                        (flags & step::kGatherPrefetch) != 0);
  __syncthreads();
  step::attend_rows<T, D, HEADS, MIN_BLOCKS>(
      a.keys, a.values, local_list, length, current.key, current.value, q_scaled, warp_out, warp_max, warp_sum);
  __syncthreads();
  phases.mark(8);
  float* partials = a.partials + static_cast<size_t>(row) * blocks * HEADS * (D + 2);
  float* partial_max = partials + blocks * HEADS * D;
  float* partial_sum = partial_max + blocks * HEADS;
  step::merge_warps<D, HEADS>(warp_out, warp_max, warp_sum, partials + rank * HEADS * D, partial_max + rank * HEADS,
                              partial_sum + rank * HEADS);
  __syncthreads();
  if (tid == 0) {
    last_block = fetch_add_acq_rel(a.sync + 2 * row + 1, 1) == blocks - 1;
  }
  __syncthreads();
  phases.mark(9);
  if (!last_block) return;
  step::merge_partials<D, HEADS>(blocks, [](const float* p) { return __ldcg(p); }, partials, partial_max, partial_sum,
                                 a.out + (static_cast<size_t>(seq) * a.num_q_heads + first_head) * D);
  // Every block of the row has its ticket, taken after its last read of the row's histograms and of
  // the spread's counter: they go back to unwritten and zero for the next launch. Only the words
  // written, 16 bytes a store, in a rolled loop: it runs once a launch, on the way out (resetting
  // every word of the stride one at a time made the merge 0.4 us longer, session 31 call 2).
  if (!dense) {
    constexpr int kBinVectors = (S::kBins + 3) / 4, kSlotVectors = kBinVectors + 1;  // the bins, then the bound's
    uint4* row_histograms = reinterpret_cast<uint4*>(a.histograms + static_cast<size_t>(row) * blocks * kGridHistStride);
    const uint4 unwritten{step::kUnwritten, step::kUnwritten, step::kUnwritten, step::kUnwritten};
#pragma unroll 1
    for (int i = tid; i < blocks * kSlotVectors; i += kThreads) {
      const int c = i / kSlotVectors, k = i % kSlotVectors;
      row_histograms[c * (kGridHistStride / 4) + (k < kBinVectors ? k : kHistStride / 4)] = unwritten;
    }
  }
  if (tid == 0) {
    a.sync[2 * row] = 0;
    a.sync[2 * row + 1] = 0;
  }
  if constexpr (SHARE)
    for (int c = tid; c < blocks; c += kThreads) a.listed[static_cast<size_t>(row) * blocks + c] = 0;
  phases.mark(10);
}

template <typename T, int D, int HEADS, int MIN_BLOCKS>
auto* grid_kernel(bool share) {
  return share ? grid_step_kernel<T, D, HEADS, MIN_BLOCKS, true> : grid_step_kernel<T, D, HEADS, MIN_BLOCKS, false>;
}

template <typename T, int D, int HEADS, int MIN_BLOCKS>
int configure_grid_step() {
  static const int per_sm = [] {
    int blocks = kGridMaxBlocksPerSm;  // the workspaces hold that many
    for (bool share : {false, true}) {
      auto* kernel = grid_kernel<T, D, HEADS, MIN_BLOCKS>(share);
      ADAMAS_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kDistanceBytes));
      ADAMAS_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                             cudaSharedmemCarveoutMaxShared));
      int resident = 0;
      ADAMAS_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&resident, kernel, kThreads, kDistanceBytes));
      blocks = std::min(blocks, resident);
    }
    return blocks;
  }();
  return per_sm;
}

// Whether one head a row runs the kernel of 2 blocks per SM (128 registers, two rounds of codes in
// flight) rather than 4 (64 registers): ADAMAS_GRID_PER_SM=2 or 4, else where `rows` x `blocks`
// fit at 2 per SM (blocks == 0, the automatic count: where 8 or more blocks a row do, the count then
// filling the SMs at 2 each). Measured (bench/results/2026-11-30-s18, call 2, MHA 32/32 batch 1, 8
// blocks a row): 27.1 / 38.1 / 58.5 us at 32K / 64K / 128K against 28.3 / 39.8 / 60.4 with the
// 4-per-SM kernel.
bool two_per_sm(int heads_per_row, int rows, int blocks, int sm_count, const KernelVariants& variants) {
  if (heads_per_row != 1 || variants.grid_per_sm == 4) return false;
  if (variants.grid_per_sm == 2) return true;
  if (blocks == 0) return 2 * sm_count / rows >= 8;
  return static_cast<long>(rows) * blocks <= 2L * sm_count;
}

// Blocks per SM the automatic count fills: with one head a row 2 (two_per_sm) or 4; with more, one
// (GQA 32/8 at batch 1, call 2: 16 blocks a row took 25.7 / 45.3 us at 32K / 128K against 28.7 /
// 47.8 with 32 at 2 per SM). The kernel's own occupancy bounds any count.
int auto_per_sm(int heads_per_row, bool two, int occupancy) {
  if (heads_per_row == 1) return two ? 2 : occupancy;
  return 1;
}

// f(type, dim, heads, min_blocks) with the kernel's compile-time shape.
template <typename F>
void with_grid_kernel(DType dtype, int head_dim, int heads_per_row, bool two, F&& f) {
  step::with_kernel("CUDA grid step", dtype, head_dim, heads_per_row, [&](auto type, auto dim, auto heads) {
    constexpr int H = decltype(heads)::value;
    if constexpr (H == 1) {
      if (two) {
        f(type, dim, heads, std::integral_constant<int, 2>{});
        return;
      }
    }
    f(type, dim, heads, std::integral_constant<int, kMinBlocks<H>>{});
  });
}

}  // namespace

int adamas_grid_step_blocks(DType dtype, int head_dim, int heads_per_row, int capacity, int max_context,
                            int rows, int sm_count, const KernelVariants& variants) {
  if (!step::shape_supported(dtype, head_dim, heads_per_row) || capacity > kStepMaxList || rows < 1) return 0;
  // A count asked for (ADAMAS_GRID_BLOCKS) that does not fit at 2 per SM takes the 4-per-SM kernel.
  const bool two = two_per_sm(heads_per_row, rows, variants.grid_blocks, sm_count, variants);
  int per_sm = 0;  // the kernel's occupancy
  with_grid_kernel(dtype, head_dim, heads_per_row, two, [&](auto type, auto dim, auto heads, auto min_blocks) {
    per_sm = configure_grid_step<typename decltype(type)::type, decltype(dim)::value, decltype(heads)::value,
                                 decltype(min_blocks)::value>();
  });
  const int blocks = variants.grid_blocks > 0
                         ? std::min({variants.grid_blocks, kGridMaxBlocksPerRow, per_sm * sm_count / rows})
                         : std::min(kGridMaxBlocksPerRow, auto_per_sm(heads_per_row, two, per_sm) * sm_count / rows);
  return blocks >= 1 && step::span_for(max_context, blocks) <= kGridMaxSpan ? blocks : 0;
}

bool adamas_grid_step_auto(int heads_per_row, int max_context, int rows) {
  if (heads_per_row == 4) return rows <= 16 && max_context >= 8192;
  return heads_per_row == 1 && rows <= 64 && (rows > 32 ? max_context >= 49152 : max_context >= 32768);
}

void launch_grid_step(const GridStepArgs& args, int batch, int blocks, int sm_count, const KernelVariants& variants,
                      cudaStream_t stream) {
  ADAMAS_CHECK(blocks >= 1 && blocks <= kGridMaxBlocksPerRow, "CUDA grid step: ", blocks, " blocks per row (1..",
               kGridMaxBlocksPerRow, ")");
  const int rows = batch * args.rows_per_seq;
  const bool two = two_per_sm(args.heads_per_row, rows, blocks, sm_count, variants);
  with_grid_kernel(args.dtype, args.head_dim, args.heads_per_row, two, [&](auto type, auto dim, auto heads, auto min_blocks) {
    using T = typename decltype(type)::type;
    constexpr int D = decltype(dim)::value, H = decltype(heads)::value, M = decltype(min_blocks)::value;
    const int per_sm = configure_grid_step<T, D, H, M>();
    ADAMAS_CHECK(static_cast<long>(rows) * blocks <= static_cast<long>(per_sm) * sm_count, "CUDA grid step: ", rows,
                 " rows x ", blocks, " blocks do not fit on the device at once (", per_sm, " per multiprocessor, ",
                 sm_count, " multiprocessors)");
    cudaLaunchAttribute attributes[2]{};
    attributes[0].id = cudaLaunchAttributeCooperative;  // the row barrier needs every block resident
    attributes[0].val.cooperative = 1;
    attributes[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    // ADAMAS_STEP_PDL=auto (KernelVariants::step_pdl): one head a row, behind the product that wrote
    // the current token.
    const bool programmatic = variants.step_pdl == StepPdl::kOn ||
                              (variants.step_pdl == StepPdl::kAuto && H == 1 && args.current_keys != nullptr);
    attributes[1].val.programmaticStreamSerializationAllowed = programmatic ? 1 : 0;
    cudaLaunchConfig_t config{};
    config.gridDim = dim3(static_cast<unsigned>(blocks), static_cast<unsigned>(rows));
    config.blockDim = dim3(kThreads);
    config.dynamicSmemBytes = kDistanceBytes;
    config.stream = stream;
    config.attrs = attributes;
    config.numAttrs = 2;
    if (variants.step_verbose)
      std::fprintf(stderr, "adamas grid step: d %d, %d heads a row, %d blocks/SM, grid %d x %d, %d bytes of dynamic shared memory\n",
                   D, H, per_sm, blocks, rows, kDistanceBytes);
    // ADAMAS_STEP_PROBE=1 (benchmarks only: the step is left unfinished) ends every block after its scan.
    const int flags = (variants.step_probe == 1 ? 1 : 0) | step::variant_flags(variants, programmatic);
    auto* kernel = grid_kernel<T, D, H, M>(variants.grid_share);
    ADAMAS_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, args, hadamard_scale(D), flags));
    if (trace_now(variants.step_trace, stream)) {
      // ADAMAS_STEP_TRACE: once more with phase stamps (the counters are zero again after a launch).
      const std::vector<unsigned long long> stamps =
          collect_block_stamps(static_cast<size_t>(blocks) * rows, step::kTracePoints, stream, [&](unsigned long long* trace) {
            GridStepArgs traced = args;
            traced.trace = trace;
            ADAMAS_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, traced, hadamard_scale(D), flags));
          });
      std::fprintf(stderr, "adamas grid step trace (grid %d x %d, us from the first block's start): point median p90 max\n",
                   blocks, rows);
      print_stamp_points(stamps, step::kTracePoints, step::kTraceNames, step::kTracePoints - 1);
      print_phase_by_sharing(stamps, step::kTracePoints, step::kTracePoints - 1, 2, 3, "scan");
      print_phase_by_rank(stamps, step::kTracePoints, blocks, 7, 8, "attention");
      if (!variants.step_trace_file.empty()) {
        char label[160];
        std::snprintf(label, sizeof label, "grid step: d %d, %d heads a row, %d blocks/SM, grid %d x %d", D, H, per_sm,
                      blocks, rows);
        write_stamps_csv(variants.step_trace_file, label, stamps, step::kTracePoints, step::kTraceNames,
                         step::kTracePoints - 1, blocks);
      }
    }
  });
  ADAMAS_CUDA_CHECK_LAUNCH();
}

}  // namespace adamas::cuda
