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

#include "adamas/error.h"
#include "adamas/hadamard.h"
#include "cuda/adamas_step.cuh"
#include "cuda/block_stamps.cuh"
#include "cuda/code_scan.cuh"
#include "cuda/launch.cuh"
#include "cuda/step_dispatch.cuh"
#include "cuda/step_phases.cuh"

namespace adamas::cuda {

namespace {

namespace cg = cooperative_groups;
using step::step_span;

constexpr int kThreads = kFusedThreads;
using step::kTracePoints;
// Distance slots: whole compaction tiles of every warp, so the tiles' 16-byte reads stay inside.
constexpr int kDistanceSlots = step::distance_slots(kStepMaxSpan);
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

// MIN_BLOCKS per multiprocessor: 2 (128 registers), or 3 (80 registers, some spilled) with one or
// two heads a row, as the bounded estimate, for more code loads in flight per multiprocessor
// (ADAMAS_STEP_BLOCKS, launch_adamas_step).
template <typename T, int D, int HEADS, int MIN_BLOCKS>
__global__ __launch_bounds__(kThreads, MIN_BLOCKS) void adamas_step_kernel(StepArgs a, float hadamard_scale,
                                                                                 int flags) {
  const int probe = flags & step::kProbeMask;
  const bool late_wait = (flags & step::kLateWait) != 0;  // step::wait_then_load_queries
  using S = FusedShape<D>;
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
  __shared__ step::BlockShare block_cut;  // warp 0's row cut and share (phase 2)
  __shared__ int block_threshold;
  __shared__ typename ChunkScan::TempStorage scan_storage;
  __shared__ int32_t local_list[kStepMaxList + 1];
  __shared__ int warp_less[kWarps], warp_ties[kWarps];
  __shared__ float warp_max[kWarps][HEADS], warp_sum[kWarps][HEADS];

  const cg::cluster_group cluster = cg::this_cluster();
  const int rank = static_cast<int>(cluster.block_rank()), blocks = static_cast<int>(cluster.num_blocks());
  // ADAMAS_STEP_TRACE (diagnostics, launch_step): phase stamps, a.trace[row][rank][kTracePoints].
  const step::PhaseStamps phases{a.trace};
  phases.mark(0);
  grid_dependency_trigger();
  if (!late_wait) grid_dependency_wait();  // under programmatic launch: q and the cache are the previous kernels'
  const int row = blockIdx.y, seq = row / a.rows_per_seq, r = row % a.rows_per_seq;
  const int tid = threadIdx.x;
  const int32_t* page_row = a.page_table + static_cast<size_t>(seq) * a.max_pages_per_seq;
  const int n = a.seq_lens[seq];
  const int candidates = row_candidates(a, n);
  const bool dense = candidates == 0;  // adamas: n <= budget (else n - 1 >= budget >= 1 candidates)
  const int total = dense ? n : candidates;
  const int kv_head = row_kv_head_dev(a, r), first_head = row_first_q_head_dev(a, r);
  step::RowQueries<D, HEADS> queries;  // requested first (RowQueries)
  if (!late_wait) queries.load(a, seq, first_head);
  const int span = step_span(total, blocks);
  const int span_start = min(total, rank * span), span_end = min(total, span_start + span);
  const int keep = row_keep(a);
  if (rank == 0 && tid == 0) {
    if (r == 0) a.dense[seq] = dense ? 1 : 0;
    if (dense) a.counts[row] = 0;
  }

  phases.mark(1);
  // Phase 1 (SpanScan): the first page ids fly with q staged and the query codes built (stage_row);
  // the first codes are requested once both are done.
  const bool scans = !dense && span_start < span_end;  // block-uniform
  step::SpanScan<D> scan{a, page_row, kv_head, span_start, span_end};
  if (scans) scan.begin();
  if (late_wait) step::wait_then_load_queries(scans, scan, queries, a, seq, first_head);
  step::stage_row<D, HEADS>(queries, a.scale_log2, scans, dense, scan, hadamard_scale, a.thresholds, q_raw, q_scaled,
                            query_code, histogram, bound, !late_wait);
  phases.mark(2);
  if (scans) scan.template run<HEADS>(query_code, distance, histogram, keep, scan_storage, bound);
  if (!dense) cumulate_histogram<D>(histogram, keep, scan_storage, bound);  // bin b: this block's distances <= b
  phases.mark(3);
  if (probe == 1) return;  // benchmarks only (ADAMAS_STEP_PROBE): no cluster barrier has been passed
  cluster.sync();  // every block's cumulative histogram is complete and visible to the cluster
  phases.mark(4);

  // Phase 2. Warp 0: the row's threshold T and, in lane c, block c's count below and at T
  // (row_cut); the ties the blocks take, latest blocks first; this block's offset in the row's
  // list, passed on at a block barrier. Then the block's selected positions, ascending, by a
  // ballot compaction over the distances.
  int length;  // positions this block attends
  if (dense) {
    length = span_end - span_start;
  } else {
    const bool take_all = keep >= candidates;
    auto through = [&](int c, int bin) { return cluster.map_shared_rank(histogram, c)[bin]; };
    auto bound_of = [&](int c) { return *cluster.map_shared_rank(&bound, c); };
    // By warp 0 alone (step::cut_in_warp0): MHA 8K 16.48-16.54 against 17.22-17.28 us with every
    // warp cutting (bench/results/2026-12-02-s34, call 4).
    step::cut_in_warp0(
        [&] {
          const step::LaneCut cut = step::row_cut<D, kStepMaxCluster>(through, bound_of, blocks, keep, take_all, bound);
          phases.mark(5);
          return cut;
        },
        [&](const step::LaneCut& cut) { return step::block_share(cut, rank, blocks, keep, take_all); }, block_cut,
        block_threshold);
    const int threshold = block_threshold;
    const step::BlockShare share = block_cut;
    phases.mark(6);
    int32_t* list = a.indices + static_cast<size_t>(row) * a.capacity;
    step::compact_block<HEADS == 1>(distance, span_start, span_end - span_start, threshold, share.first_taken_tie, share.offset,
                        list, a.capacity, local_list, kStepMaxList, warp_less, warp_ties);
    const int count = step::close_list(share.kept, share.less + share.taken, rank, blocks, share.fewest, n, list,
                                       a.capacity, a.counts + row, local_list, kStepMaxList);
    length = min(count, kStepMaxList + 1);
  }
  length = min(length, kStepMaxList + 1);  // dense: n <= budget <= kStepMaxList
  phases.mark(7);
  if (probe == 2) {  // benchmarks only: no block may leave while another reads its histogram
    cluster.sync();
    return;
  }
  __syncthreads();  // the list is complete; the distances are no longer read (warp_out reuses them)

  // Phase 3. Attention over this block's positions, their cache rows first.
  const step::CurrentRow current = step::current_row<D>(a, seq, kv_head, n);
  step::positions_to_cache_rows<T, D>(a, page_row, kv_head, dense, span_start, local_list, length, current.position,
                                        (flags & step::kGatherPrefetch) != 0);
  __syncthreads();
  step::attend_rows<T, D, HEADS, MIN_BLOCKS>(
      a.keys, a.values, local_list, length, current.key, current.value, q_scaled, warp_out, warp_max, warp_sum);
  __syncthreads();
  phases.mark(8);
  if (probe == 3) {  // benchmarks only, as probe 2
    cluster.sync();
    return;
  }
  // The warps' partials into the block's, stored into rank 0's inbox.
  float* their_inbox = cluster.map_shared_rank(inbox, 0);
  float* inbox_max = inbox + blocks * HEADS * D;
  float* inbox_sum = inbox_max + blocks * HEADS;
  step::merge_warps<D, HEADS>(warp_out, warp_max, warp_sum, their_inbox + rank * HEADS * D,
                              their_inbox + blocks * HEADS * D + rank * HEADS,
                              their_inbox + blocks * HEADS * (D + 1) + rank * HEADS);
  // Every partial is in rank 0's inbox, and every block is past its remote reads: the others may
  // leave; rank 0 merges from its own shared memory.
  cluster.sync();
  phases.mark(9);
  if (rank != 0) return;
  step::merge_partials<D, HEADS>(blocks, [](const float* p) { return *p; }, inbox, inbox_max, inbox_sum,
                                 a.out + (static_cast<size_t>(seq) * a.num_q_heads + first_head) * D);
  phases.mark(10);
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
  const bool programmatic = variants.step_pdl == StepPdl::kOn;  // auto: plain (KernelVariants::step_pdl)
  attributes[1].val.programmaticStreamSerializationAllowed = programmatic ? 1 : 0;
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(static_cast<unsigned>(cluster), static_cast<unsigned>(batch * args.rows_per_seq));
  config.blockDim = dim3(kThreads);
  config.dynamicSmemBytes = dynamic_bytes<HEADS, D>(cluster);
  config.stream = stream;
  config.attrs = attributes;
  config.numAttrs = 3;
  // Diagnostics: ADAMAS_STEP_VERBOSE (clusters resident at most), ADAMAS_STEP_TRACE (phase stamps
  // of an extra eager launch).
  if (variants.step_verbose) {  // how many clusters the device holds at once
    int clusters = 0;
    ADAMAS_CUDA_CHECK(cudaOccupancyMaxActiveClusters(&clusters, adamas_step_kernel<T, D, HEADS, MIN_BLOCKS>, &config));
    std::fprintf(stderr, "adamas step: d %d, %d heads a row, %d blocks/SM, clusters of %d: %d active at most, grid %u x %u\n",
                 D, HEADS, MIN_BLOCKS, cluster, clusters, config.gridDim.x, config.gridDim.y);
  }
  // ADAMAS_STEP_PROBE=1..3 (benchmarks only: the step is left unfinished) ends every block after
  // the scan, after the lists, after its attention; differences of the timings place the time.
  const int flags = variants.step_probe | step::variant_flags(variants, programmatic);
  ADAMAS_CUDA_CHECK(
      cudaLaunchKernelEx(&config, adamas_step_kernel<T, D, HEADS, MIN_BLOCKS>, args, hadamard_scale(D), flags));
  if (trace_now(variants.step_trace, stream)) {
    // Once more with phase stamps; prints each phase's median and maximum over the blocks (us).
    const size_t blocks = static_cast<size_t>(config.gridDim.x) * config.gridDim.y;
    const std::vector<unsigned long long> stamps =
        collect_block_stamps(blocks, kTracePoints, stream, [&](unsigned long long* trace) {
          StepArgs traced = args;
          traced.trace = trace;
          ADAMAS_CUDA_CHECK(
              cudaLaunchKernelEx(&config, adamas_step_kernel<T, D, HEADS, MIN_BLOCKS>, traced, hadamard_scale(D), flags));
        });
    std::fprintf(stderr, "adamas step trace (grid %u x %u, us from the first block's start): point median p90 max\n",
                 config.gridDim.x, config.gridDim.y);
    print_stamp_points(stamps, kTracePoints, step::kTraceNames, kTracePoints - 1);
    print_phase_by_sharing(stamps, kTracePoints, kTracePoints - 1, 2, 3, "scan");
  }
}

}  // namespace

int adamas_step_cluster(DType dtype, int head_dim, int heads_per_row, int capacity, int max_context, int rows,
                        int sm_count, const KernelVariants& variants) {
  if (!step::shape_supported(dtype, head_dim, heads_per_row) || capacity > kStepMaxList) return 0;
  auto span_of = [&](int cluster) { return step::span_for(max_context, cluster); };
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
  ADAMAS_CHECK(step::span_for(max_context, cluster) <= kStepMaxSpan, "CUDA adamas step: clusters of ", cluster,
               " leave more than ", kStepMaxSpan, " candidates per block at a context of ", max_context);
  const int rows = batch * args.rows_per_seq;
  step::with_kernel("CUDA adamas step", args.dtype, args.head_dim, args.heads_per_row, [&](auto type, auto dim, auto heads) {
    using T = typename decltype(type)::type;
    constexpr int D = decltype(dim)::value, H = decltype(heads)::value;
    if constexpr (H <= 2) {
      // Two blocks per SM where some cluster size fits every row in one wave: the SMs then hold
      // at most two of the step's blocks each (a third one slows a block's scan by 20-60%,
      // bench/results/2026-11-29-s8/trace_sm.txt); else three, with clusters of the plan's size.
      int two_block_cluster = blocks_choice == 2 ? cluster : 0;
      if (blocks_choice == 0) {
        const bool forced = variants.step_cluster != 0;
        for (int size = cluster; size >= std::max(2, forced ? cluster : cluster - 2); --size)
          if (step::span_for(max_context, size) <= kStepMaxSpan && active_clusters<T, D, H, 2>(size) >= rows) {
            two_block_cluster = size;
            break;
          }
      }
      if (two_block_cluster == 0) return launch_step<T, D, H, 3>(args, batch, cluster, variants, stream);
      return launch_step<T, D, H, 2>(args, batch, two_block_cluster, variants, stream);
    }
    launch_step<T, D, H, 2>(args, batch, cluster, variants, stream);
  });
  ADAMAS_CUDA_CHECK_LAUNCH();
}

}  // namespace adamas::cuda
