// Fused Adamas selection (estimate + top-k + index lists in one launch).
//
// Grid (chunks of kFusedTokens candidates, rows). Phase 1, every block:
//  - query codes of the row's heads, warp h computing head h (warp_hadamard.cuh: the butterfly in
//    registers and shuffles, in the exact order and rounding of hadamard.h, so the codes equal the
//    CPU's bit for bit);
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
#include "cuda/launch.cuh"
#include "cuda/code_scan.cuh"

namespace adamas::cuda {

namespace {

// Phase 2, by the row's last block once every chunk's histogram is stored: the threshold T (the
// smallest distance whose inclusive count reaches keep) from the row histogram, each chunk's count
// below and at T from its own histogram, then the chunk offsets (select_common.cuh), the closing
// index and the row's count. Only the bins <= T of the histograms need be exact.
template <int D>
__device__ void finish_row(const SelectArgs& a, int row, int n, int candidates, int chunks,
                           typename ChunkScan::TempStorage& scan_storage, RowSelectState& row_state) {
  using S = FusedShape<D>;
  using Scan = ChunkScan;
  const int tid = threadIdx.x;
  int32_t* row_histogram = a.histogram + static_cast<size_t>(row) * kHistStride;
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
  // Phase 2b. Per chunk: below T and at T, from its histogram, a warp per chunk. Every lane issues
  // all of its bins' loads before adding any (one L2 round trip per 8 chunks: a loop that adds
  // each load before the next waited on every one, ~5 us at 32K measured with early returns).
  const uint32_t threshold = state.take_all ? static_cast<uint32_t>(S::kBins) : state.threshold;
  const size_t row_chunks = static_cast<size_t>(row) * a.max_chunks;
  constexpr int kBinsPerLane = (S::kBins + 31) / 32;
  const int lane = tid & 31;
  for (int c = tid / 32; c < chunks; c += kFusedThreads / 32) {
    const int32_t* h = a.chunk_histogram + (row_chunks + c) * kHistStride;
    int counts[kBinsPerLane];
#pragma unroll
    for (int i = 0; i < kBinsPerLane; ++i) {
      const int b = lane + 32 * i;
      counts[i] = b < S::kBins && b <= static_cast<int>(threshold) ? __ldcg(h + b) : 0;
    }
    int less = 0, tie = 0;
#pragma unroll
    for (int i = 0; i < kBinsPerLane; ++i) {
      const int b = lane + 32 * i;
      if (b < static_cast<int>(threshold)) less += counts[i];
      else if (b == static_cast<int>(threshold)) tie = counts[i];
    }
#pragma unroll
    for (int width = 16; width > 0; width /= 2) {
      less += __shfl_xor_sync(0xffffffffu, less, width);
      tie += __shfl_xor_sync(0xffffffffu, tie, width);
    }
    if (lane == 0) {
      a.chunk_less[row_chunks + c] = less;
      a.chunk_tie[row_chunks + c] = tie;
    }
  }
  __syncthreads();
  const int kept = assign_chunk_offsets(a, row, chunks, state.ties_needed, scan_storage);
  if (tid == 0) {
    list[kept] = n - 1;  // the current token closes the list
    a.counts[row] = kept + 1;
  }
}

// The bounded kernels' end of phase 1: the block histogram to the chunk's (every bin: stale counts
// of an earlier step must not survive) and its bins <= `bound` into the row's; then the row's
// ticket. Returns whether this block is the row's last (it then runs finish_row). Every thread
// calls it after a barrier; `is_last` is the block's shared flag.
template <int D>
__device__ __forceinline__ bool publish_chunk(const SelectArgs& a, int row, int chunks, const int* histogram, int bound,
                                              bool& is_last) {
  using S = FusedShape<D>;
  int32_t* row_histogram = a.histogram + static_cast<size_t>(row) * kHistStride;
  int32_t* chunk_histogram = a.chunk_histogram + (static_cast<size_t>(row) * a.max_chunks + blockIdx.x) * kHistStride;
  for (int b = threadIdx.x; b < S::kBins; b += kFusedThreads) {
    const int count = histogram[b];
    chunk_histogram[b] = count;
    if (count && b <= bound) atomicAdd(&row_histogram[b], count);
  }
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) is_last = atomicAdd(&a.row_counter[row], 1u) == static_cast<unsigned>(chunks - 1);
  __syncthreads();
  if (!is_last) return false;
  __threadfence();
  return true;
}

template <int D, int HEADS>
__global__ __launch_bounds__(kFusedThreads, 2) void adamas_fused_kernel(SelectArgs a, float hadamard_scale) {
  using S = FusedShape<D>;
  __shared__ __align__(16) uint8_t query_code[kMaxGroup][D / 4];
  __shared__ int histogram[kWarps * S::kBins];
  __shared__ bool is_last;
  __shared__ typename ChunkScan::TempStorage scan_storage;
  __shared__ RowSelectState row_state;

  grid_dependency_trigger();  // lets a programmatically launched compact kernel be scheduled early
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
    const int page = __ldg(page_row + a.pages.page(t));
    return reinterpret_cast<const uint4*>(a.key_codes + paged_row(a, page, kv_head, t) * (D / 4));
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
  code_row_queries<D>(a, seq, first_head, heads, warp, hadamard_scale, query_code);
  __syncthreads();
  int* warp_histogram = histogram + warp * S::kBins;  // per warp: no contention between warps
  // Query words in registers when they fit (MHA, small groups), else broadcast shared reads.
  constexpr bool kQueryInRegisters = HEADS * (D / 32) <= 16;
  QueryRegisters<D, HEADS, kQueryInRegisters> query;
  query.load(query_code);
  uint16_t* distance_row = a.distances + static_cast<size_t>(row) * a.candidate_stride;
  for (int round = 0; round < S::kRounds; ++round) {
    if (chunk_start + round * S::kTokensPerRound >= candidates) break;
    uint4 next[S::kSlots][S::kVectors];
    load_round(round + 1, next);
#pragma unroll
    for (int j = 0; j < S::kSlots; ++j) {
      const int t = round_token(round, j);
      const int best = query.min_l1(reinterpret_cast<const uint64_t*>(codes[j]), query_code);
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

  finish_row<D>(a, row, n, candidates, chunks, scan_storage, row_state);
}

// v5, "bounded": the same result with fewer registers (3 blocks per multiprocessor) and far fewer
// histogram updates.
//  - 80 registers (3 blocks per SM; 2 with 4 or 8 heads per row) instead of 128 (2 blocks).
//  - A round scores kSlots tokens per lane: the page-table reads, then all kSlots * d/64 16-byte
//    code loads are issued before any arithmetic; the next round's loads are issued as soon as the
//    current codes are scored (before the histogram updates and the barrier), so the loads of a
//    round fly while the block histograms and synchronizes. No second register set of codes.
//  - One block histogram, updated only for distances <= `bound`: the keep-th smallest distance the
//    block has scored so far, recomputed after each round. The row's threshold T is at most any
//    subset's keep-th smallest, so every distance <= T is still counted and the bins <= T of the
//    chunk and row histograms stay exact, which is all finish_row reads. With keep = 255 of 4096
//    candidates per block, three quarters of the updates after the first round are skipped.
// 3 blocks per SM (80 registers) spill with 4 and 8 heads per row (ptxas): 2 there, and with 5 to
// 7 (HEADS = 1..8 are instantiated: any group size up to kMaxGroup). 3 heads keep 3 blocks.
template <int HEADS>
constexpr int kBoundedMinBlocks = HEADS >= 4 ? 2 : 3;

template <int D, int HEADS>
__global__ __launch_bounds__(kFusedThreads, kBoundedMinBlocks<HEADS>) void adamas_bounded_kernel(SelectArgs a,
                                                                                                  float hadamard_scale) {
  using S = FusedShape<D>;
  __shared__ __align__(16) uint8_t query_code[HEADS][D / 4];
  __shared__ int histogram[S::kBins];
  __shared__ int bound;  // distances above it cannot be among the row's kept candidates
  __shared__ bool is_last;
  __shared__ typename ChunkScan::TempStorage scan_storage;
  __shared__ RowSelectState row_state;

  grid_dependency_trigger();  // lets a programmatically launched compact kernel be scheduled early
  const int row = blockIdx.y, seq = row / a.rows_per_seq, r = row % a.rows_per_seq;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int n = a.seq_lens[seq];
  const int candidates = row_candidates(a, n);
  if (!begin_row(a, row, seq, r, candidates)) return;
  const int chunks = ceil_div(candidates, kFusedTokens);
  if (static_cast<int>(blockIdx.x) >= chunks) return;
  const int kv_head = row_kv_head_dev(a, r), first_head = row_first_q_head_dev(a, r);
  const int keep = row_keep(a);
  const int32_t* page_row = a.page_table + static_cast<size_t>(seq) * a.max_pages_per_seq;
  const int chunk_start = blockIdx.x * kFusedTokens;

  // Token of slot j in a round: lane l takes token l of 32 consecutive ones, as in v4.
  auto round_token = [&](int round, int j) {
    return chunk_start + round * S::kTokensPerRound + (warp * S::kSlots + j) * 32 + lane;
  };
  // Page ids one round ahead of the code loads that need them (as adamas_step.cu), so a round's
  // loads never wait on a page-table trip.
  auto load_pages = [&](int round, int (&page)[S::kSlots]) {
#pragma unroll
    for (int j = 0; j < S::kSlots; ++j) {
      const int t = round_token(round, j);
      page[j] = round < S::kRounds && t < candidates ? __ldg(page_row + a.pages.page(t)) : -1;
    }
  };
  auto load_codes = [&](int round, const int (&page)[S::kSlots], uint4 (&codes)[S::kSlots][S::kVectors]) {
    int token[S::kSlots];
#pragma unroll
    for (int j = 0; j < S::kSlots; ++j) token[j] = round_token(round, j);
    load_slot_codes<D>(a, kv_head, token, page, codes);
  };

  uint4 codes[S::kSlots][S::kVectors];
  int page[S::kSlots];
  load_pages(0, page);  // in flight while the query codes are built
  load_codes(0, page, codes);
  load_pages(1, page);
  for (int b = tid; b < S::kBins; b += kFusedThreads) histogram[b] = 0;
  if (tid == 0) bound = S::kBins;  // no bound until the block has scored keep candidates
  code_row_queries<D>(a, seq, first_head, HEADS, warp, hadamard_scale, query_code);
  __syncthreads();
  constexpr bool kQueryInRegisters = kBoundedQueryInRegisters<D, HEADS>;
  QueryRegisters<D, HEADS, kQueryInRegisters> query;
  query.load(query_code);
  uint16_t* distance_row = a.distances + static_cast<size_t>(row) * a.candidate_stride;
  const int chunk_end = min(candidates, chunk_start + kFusedTokens);

  for (int round = 0; round < S::kRounds; ++round) {
    if (chunk_start + round * S::kTokensPerRound >= chunk_end) break;  // block-uniform
    int best[S::kSlots];
#pragma unroll
    for (int j = 0; j < S::kSlots; ++j) {
      const uint64_t* key = reinterpret_cast<const uint64_t*>(codes[j]);
      best[j] = query.min_l1(key, query_code);
    }
    const bool more = round + 1 < S::kRounds && chunk_start + (round + 1) * S::kTokensPerRound < chunk_end;
    if (more) {
      load_codes(round + 1, page, codes);
      load_pages(round + 2, page);
    }
    const int bound_now = bound;
#pragma unroll
    for (int j = 0; j < S::kSlots; ++j) {
      const int t = round_token(round, j);
      if (t < chunk_end) {
        distance_row[t] = static_cast<uint16_t>(best[j]);
        if (best[j] <= bound_now) atomicAdd(&histogram[best[j]], 1);
      }
    }
    if (!more) break;
    // New bound: the smallest bin whose inclusive count reaches keep (counts <= the old bound are
    // exact, and the new bound is never above the old one).
    update_bound<D>(histogram, keep, scan_storage, bound);
  }
  __syncthreads();
  if (!publish_chunk<D>(a, row, chunks, histogram, bound, is_last)) return;

  finish_row<D>(a, row, n, candidates, chunks, scan_storage, row_state);
}

// v6, "bulk": the bounded kernel's selection (same histogram, bound and tail) with the codes
// brought into shared memory by the copy engine instead of by per-lane loads. A key head's codes
// of one page are contiguous (page_size * d/4 bytes: 512 B at d 128, page 16), so a stage of
// kBulkStageBytes (32 KiB = 1024 tokens at d 128) is one cp.async.bulk per page, issued by one
// thread each, completing on the stage's mbarrier. Two stages in flight per block, 64 KiB of
// shared memory: up to 3 blocks (192 KiB in flight) per multiprocessor. Why: ncu showed v5 at 32K
// with 0.4 instructions issued per cycle and 60% of cycles with no eligible warp: each token cost
// a page-table read, an address computation and two 16-byte loads in registers, and only one
// round of loads was in flight per warp. Here the page-table reads of the whole chunk are issued
// at once before the first copy, and a token costs two shared loads.
constexpr int kBulkStageBytes = 32768;

template <int D>
struct BulkShape {
  static constexpr int kCodeBytes = D / 4;
  static constexpr int kStageTokens = kBulkStageBytes / kCodeBytes;  // 2048, 1024, 512 at d 64, 128, 256
  static constexpr int kTokensPerThread = kStageTokens / kFusedThreads;
};

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void mbarrier_init(uint64_t* barrier, uint32_t arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(shared_address(barrier)), "r"(arrivals) : "memory");
}
// One arrival that also announces `bytes` of copies completing on this phase.
__device__ __forceinline__ void mbarrier_arrive_expect(uint64_t* barrier, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(shared_address(barrier)), "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void mbarrier_wait(uint64_t* barrier, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n .reg .pred ready;\n mbarrier.try_wait.parity.shared::cta.b64 ready, [%1], %2;\n selp.u32 %0, 1, 0, ready;\n}"
        : "=r"(done)
        : "r"(shared_address(barrier)), "r"(parity)
        : "memory");
  } while (!done);
}
__device__ __forceinline__ void bulk_copy_to_shared(void* destination, const void* source, uint32_t bytes,
                                                    uint64_t* barrier) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
                   shared_address(destination)),
               "l"(source), "r"(bytes), "r"(shared_address(barrier))
               : "memory");
}

template <int D, int HEADS>
__global__ __launch_bounds__(kFusedThreads, kBoundedMinBlocks<HEADS>) void adamas_bulk_kernel(SelectArgs a, float hadamard_scale,
                                                                                               int probe) {
  using S = FusedShape<D>;
  using B = BulkShape<D>;
  extern __shared__ __align__(128) uint8_t stage_codes[];  // [2][kBulkStageBytes]
  __shared__ __align__(16) uint8_t query_code[HEADS][D / 4];
  __shared__ int histogram[S::kBins];
  __shared__ int chunk_pages[kFusedTokens / 16];  // page ids of the chunk (page_size >= 16)
  static_assert(kFusedTokens / 16 <= kFusedThreads, "a thread reads each page id of a chunk");
  __shared__ __align__(8) uint64_t stage_ready[2];
  __shared__ int bound;
  __shared__ bool is_last;
  __shared__ typename ChunkScan::TempStorage scan_storage;
  __shared__ RowSelectState row_state;

  grid_dependency_trigger();
  const int row = blockIdx.y, seq = row / a.rows_per_seq, r = row % a.rows_per_seq;
  const int tid = threadIdx.x, warp = tid >> 5;
  // The chunk's page ids are read before the sequence length is known (they do not depend on it;
  // entries past the sequence's pages are read but never used), so the two reads overlap.
  const int table_first = blockIdx.x * (kFusedTokens / a.page_size);
  const int table_count = min(kFusedTokens / a.page_size, a.max_pages_per_seq - table_first);
  const int32_t* page_row = a.page_table + static_cast<size_t>(seq) * a.max_pages_per_seq + table_first;
  const int my_page = tid < table_count ? __ldg(page_row + tid) : 0;  // kFusedThreads >= pages a chunk
  const int n = a.seq_lens[seq];
  const int candidates = row_candidates(a, n);
  if (!begin_row(a, row, seq, r, candidates)) return;
  const int chunks = ceil_div(candidates, kFusedTokens);
  if (static_cast<int>(blockIdx.x) >= chunks || probe == 1) return;
  const int kv_head = row_kv_head_dev(a, r), first_head = row_first_q_head_dev(a, r);
  const int keep = row_keep(a);
  const int chunk_start = blockIdx.x * kFusedTokens;
  const int chunk_end = min(candidates, chunk_start + kFusedTokens);
  const int page_size = a.page_size;  // a power of two in [16, kStageTokens] (checked at launch)
  const int page_bytes = page_size * B::kCodeBytes;
  const int pages_per_stage = B::kStageTokens / page_size;
  const int chunk_page_count = ceil_div(chunk_end - chunk_start, page_size);
  const int stage_count = ceil_div(chunk_end - chunk_start, B::kStageTokens);

  if (tid < chunk_page_count) chunk_pages[tid] = my_page;
  for (int b = tid; b < S::kBins; b += kFusedThreads) histogram[b] = 0;
  if (tid == 0) {
    bound = S::kBins;
    mbarrier_init(&stage_ready[0], 1);
    mbarrier_init(&stage_ready[1], 1);
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
  // Stage s into buffer s % 2: thread 0 announces the bytes, thread p copies page p of the stage.
  auto issue_stage = [&](int stage) {
    const int first_page = stage * pages_per_stage;
    const int pages = min(pages_per_stage, chunk_page_count - first_page);
    uint64_t* barrier = &stage_ready[stage & 1];
    if (tid == 0) mbarrier_arrive_expect(barrier, static_cast<uint32_t>(pages * page_bytes));
    for (int p = tid; p < pages; p += kFusedThreads) {
      const int page = chunk_pages[first_page + p];
      const uint8_t* source = a.key_codes + (static_cast<size_t>(page) * a.num_kv_heads + kv_head) * page_size * B::kCodeBytes;
      bulk_copy_to_shared(stage_codes + (stage & 1) * kBulkStageBytes + p * page_bytes, source, page_bytes, barrier);
    }
  };
  issue_stage(0);
  if (stage_count > 1) issue_stage(1);
  code_row_queries<D>(a, seq, first_head, HEADS, warp, hadamard_scale, query_code);
  __syncthreads();
  constexpr bool kQueryInRegisters = kBoundedQueryInRegisters<D, HEADS>;
  QueryRegisters<D, HEADS, kQueryInRegisters> query;
  query.load(query_code);
  uint16_t* distance_row = a.distances + static_cast<size_t>(row) * a.candidate_stride;

  for (int stage = 0; stage < stage_count; ++stage) {
    mbarrier_wait(&stage_ready[stage & 1], (stage >> 1) & 1);
    if (probe == 2) return;
    const uint8_t* codes = stage_codes + (stage & 1) * kBulkStageBytes;
    const int stage_start = chunk_start + stage * B::kStageTokens;
    int best[B::kTokensPerThread];
#pragma unroll
    for (int j = 0; j < B::kTokensPerThread; ++j) {
      // Consecutive threads read consecutive codes (16-byte shared loads).
      uint4 code[S::kVectors];
#pragma unroll
      for (int v = 0; v < S::kVectors; ++v)
        code[v] = reinterpret_cast<const uint4*>(codes + (j * kFusedThreads + tid) * B::kCodeBytes)[v];
      const uint64_t* key = reinterpret_cast<const uint64_t*>(code);
      best[j] = query.min_l1(key, query_code);
    }
    __syncthreads();  // every thread is done with this buffer: refill it with stage + 2
    if (stage + 2 < stage_count) issue_stage(stage + 2);
    const int bound_now = bound;
#pragma unroll
    for (int j = 0; j < B::kTokensPerThread; ++j) {
      const int t = stage_start + j * kFusedThreads + tid;
      if (t < chunk_end) {
        distance_row[t] = static_cast<uint16_t>(best[j]);
        if (best[j] <= bound_now) atomicAdd(&histogram[best[j]], 1);
      }
    }
    if (stage + 1 == stage_count) break;
    update_bound<D>(histogram, keep, scan_storage, bound);
  }
  __syncthreads();
  if (probe == 3) return;
  if (!publish_chunk<D>(a, row, chunks, histogram, bound, is_last) || probe == 4) return;

  finish_row<D>(a, row, n, candidates, chunks, scan_storage, row_state);
}

// The bulk kernel copies whole pages into stages: pages of 16 tokens or more (a copy is at least
// 16 bytes and the chunk's page ids fit its table), a power of two dividing a stage.
bool bulk_page_size_ok(int page_size, int stage_tokens) {
  return page_size >= 16 && page_size <= stage_tokens && (page_size & (page_size - 1)) == 0;
}

template <int D, int HEADS>
void launch_bulk(const SelectArgs& args, dim3 grid, float scale, int probe, cudaStream_t stream) {
  static const bool configured = [] {  // 64 KiB of stages: above the default 48 KiB
    ADAMAS_CUDA_CHECK(cudaFuncSetAttribute(adamas_bulk_kernel<D, HEADS>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           2 * kBulkStageBytes));
    return true;
  }();
  (void)configured;
  // probe (ADAMAS_ESTIMATE_PROBE=1..4, benchmarks only: the selection is left unfinished) ends every
  // block early: after the row checks, at the first stage's arrival, after the scan, before the
  // row's closing block; differences of the timings place the kernel's time.
  adamas_bulk_kernel<D, HEADS><<<grid, kFusedThreads, 2 * kBulkStageBytes, stream>>>(args, scale, probe);
}

}  // namespace

void launch_adamas_fused_select(const SelectArgs& args, int batch, int max_candidates, EstimateVariant variant,
                                int probe, cudaStream_t stream) {
  const float scale = hadamard_scale(args.head_dim);
  const dim3 grid(std::max(1, ceil_div(max_candidates, kFusedTokens)), batch * args.rows_per_seq);
  auto launch = [&](auto dim) {
    constexpr int D = decltype(dim)::value;
    auto run = [&](auto heads) {
      constexpr int H = decltype(heads)::value;
      // d 256 with 5-8 heads a row spills at 2 blocks per SM (ptxas): the bounded kernel there.
      if (variant == EstimateVariant::kBulk && (D < 256 || H <= 4) &&
          bulk_page_size_ok(args.page_size, BulkShape<D>::kStageTokens)) {
        launch_bulk<D, H>(args, grid, scale, probe, stream);
      } else if (variant == EstimateVariant::kBounded || variant == EstimateVariant::kBulk)
        adamas_bounded_kernel<D, H><<<grid, kFusedThreads, 0, stream>>>(args, scale);
      else
        adamas_fused_kernel<D, H><<<grid, kFusedThreads, 0, stream>>>(args, scale);
    };
    switch (args.heads_per_row) {
      case 1: run(std::integral_constant<int, 1>{}); break;
      case 2: run(std::integral_constant<int, 2>{}); break;
      case 3: run(std::integral_constant<int, 3>{}); break;
      case 4: run(std::integral_constant<int, 4>{}); break;
      case 5: run(std::integral_constant<int, 5>{}); break;
      case 6: run(std::integral_constant<int, 6>{}); break;
      case 7: run(std::integral_constant<int, 7>{}); break;
      case 8: run(std::integral_constant<int, 8>{}); break;
      default: throw Error(detail::concat("CUDA adamas select: ", args.heads_per_row, " query heads per row not supported (1..8)"));
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
