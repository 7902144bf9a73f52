// The pieces of the one-launch Adamas step that do not depend on how a row's blocks meet: the
// cluster step (adamas_step.cu) meets through distributed shared memory, the grid step
// (grid_step.cu) through global memory. Both split a row's candidates into equal spans, find the
// row threshold from the blocks' cumulative histograms, list each block's selected positions with a
// ballot compaction, attend over them, and merge the blocks' partial results.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "cuda/adamas_step.cuh"
#include "cuda/block_stamps.cuh"
#include "cuda/code_scan.cuh"
#include "cuda/pair_compare.h"

namespace adamas::cuda::step {

constexpr int kSpanAlign = 64;
// Candidates (or dense positions) per block: `total` over `blocks`, rounded up to kSpanAlign.
__host__ __device__ inline int step_span(int total, int blocks) {
  return ceil_div(ceil_div(total, blocks), kSpanAlign) * kSpanAlign;
}
constexpr int kCompactTile = 256;  // candidates a warp compacts at a time: 8 consecutive ones a lane
// Distance slots for spans of up to `max_span`: whole compaction tiles of every warp, so the
// tiles' 16-byte reads stay inside.
constexpr int distance_slots(int max_span) {
  return (max_span + kWarps * kCompactTile - 1) / (kWarps * kCompactTile) * kWarps * kCompactTile;
}

// ADAMAS_STEP_TRACE (diagnostics, both steps): thread 0 of each block stamps the global timer at
// the phase boundaries 0..10 into its kTracePoints slots (10: the block that merges the row) and
// its multiprocessor's id into the last one (stamp_block). Not traced: trace == nullptr.
constexpr int kTracePoints = 12;
inline constexpr const char* kTraceNames[kTracePoints - 1] = {
    "start", "row known", "scan starts", "scan ends", "row met", "threshold", "share",
    "lists", "attended", "partials in", "merged"};
// Both steps' grids are (blocks a row, rows) with the block's rank blockIdx.x, so its slot is worked
// out at each mark rather than held: a pointer held across the phases cost the grid step's scan two
// spilled registers once its attention sharing was added (twentieth session).
struct PhaseStamps {
  unsigned long long* trace;  // [rows][blocks][kTracePoints], or nullptr
  __device__ __forceinline__ void mark(int point) const {
    stamp_block(trace, static_cast<size_t>(blockIdx.y) * gridDim.x + blockIdx.x, kTracePoints, point);
  }
};

// Words that another block of the grid step writes once a launch and this block polls, without a
// barrier or flag between (grid_step.cu, the row's histograms): they hold kUnwritten (all ones)
// between launches, which no count (>= 0) can be. Each 32-bit word is valid on its own, so the
// reader needs no fence: a relaxed store, a relaxed load that retries.
constexpr unsigned kUnwritten = 0xffffffffu;
__device__ __forceinline__ int load_relaxed(const int* p) {
  int value;
  asm volatile("ld.relaxed.gpu.global.s32 %0, [%1];" : "=r"(value) : "l"(p));
  return value;
}
__device__ __forceinline__ void store_relaxed(int* p, int value) {
  asm volatile("st.relaxed.gpu.global.s32 [%0], %1;" ::"l"(p), "r"(value) : "memory");
}

// One lane's E consecutive elements of a K or V row: loaded as one vector, widened when used.
template <typename T, int E>
struct LaneSlice {
  static constexpr int kBytes = E * static_cast<int>(sizeof(T));
  static_assert(kBytes == 4 || kBytes == 8 || kBytes == 16, "one vector load per lane");
  using Vector = std::conditional_t<kBytes == 16, uint4, std::conditional_t<kBytes == 8, uint2, unsigned int>>;
  static __device__ __forceinline__ Vector load(const T* p) { return __ldg(reinterpret_cast<const Vector*>(p)); }
  static __device__ __forceinline__ Vector zero() { return Vector{}; }
  // E fp32 values rounded to T, as the cache append stores them.
  static __device__ __forceinline__ Vector round(const float* p) {
    Vector packed;
    T* x = reinterpret_cast<T*>(&packed);
#pragma unroll
    for (int e = 0; e < E; ++e) x[e] = Elem<T>::from_float(__ldg(p + e));
    return packed;
  }
  static __device__ __forceinline__ void widen(const Vector& raw, float (&out)[E]) {
    const T* x = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int e = 0; e < E; ++e) out[e] = Elem<T>::to_float(x[e]);
  }
};

// Phase 1 of both steps, as the bounded estimate (adamas_fused.cu): lane l of warp w scores token l
// of each 32-token group, kSlots groups a round, over the block's span [span_start, span_end) of a
// row (KV head kv_head, page table row page_row). The page ids of a round are read one round ahead
// of its code loads, so the loads of a round never wait on a page-table trip. Use: begin() before
// the set-up (the first page ids fly with it), then stage_row (which calls request_first() before
// its last barrier, once the query codes are built: the page ids fly meanwhile), then run().
// kDouble (kernels of 128 registers): two rounds of codes in registers, and a round's successor
// requested before the round is scored, so a warp keeps a round of loads in flight all the time
// (single: the next round's loads are requested after the round is scored and fly only while its
// distances are recorded).
template <int D, bool kDouble = false>
struct SpanScan {
  using S = FusedShape<D>;
  static constexpr int kBuffers = kDouble ? 2 : 1;
  const SelectArgs& a;
  const int32_t* page_row;
  int kv_head, span_start, span_end;
  uint4 codes[kBuffers][S::kSlots][S::kVectors];
  int page[S::kSlots];

  __device__ __forceinline__ int token(int base, int j) const {
    return base + ((threadIdx.x >> 5) * S::kSlots + j) * 32 + (threadIdx.x & 31);
  }
  __device__ __forceinline__ void load_pages(int base) {
#pragma unroll
    for (int j = 0; j < S::kSlots; ++j) {
      const int t = token(base, j);
      page[j] = t < span_end ? __ldg(page_row + a.pages.page(t)) : -1;
    }
  }
  template <int kBuffer>
  __device__ __forceinline__ void load_codes(int base) {
    int tokens[S::kSlots];
#pragma unroll
    for (int j = 0; j < S::kSlots; ++j) tokens[j] = token(base, j);
    load_slot_codes<D>(a, kv_head, tokens, page, codes[kBuffer]);
  }
  __device__ __forceinline__ void begin() { load_pages(span_start); }
  __device__ __forceinline__ void request_first() {
    load_codes<0>(span_start);
    load_pages(span_start + S::kTokensPerRound);
  }
  // Each candidate's minimum L1 over the row's HEADS query codes into distance[t - span_start], and
  // into the block histogram when at or below the running bound, which is updated after rounds 0,
  // 1, 3, 7, ...: each update costs two barriers, and the first ones prune most of the histogram
  // updates (a stale bound only counts more). Every thread calls it. (Reloading each half of a
  // round's slots as soon as it was scored, with the same registers, was slower: +7 us at MHA 128K
  // in the cluster step, bench/results/2026-11-29-s13.)
  template <int HEADS>
  __device__ __forceinline__ void run(const uint8_t (*query_code)[D / 4], uint16_t* distance, int* histogram, int keep,
                                      typename ChunkScan::TempStorage& scan_storage, int& bound) {
    constexpr bool kQueryInRegisters = kBoundedQueryInRegisters<D, HEADS>;
    QueryRegisters<D, HEADS, kQueryInRegisters> query;
    query.load(query_code);
    int base = span_start, round = 0;
    if constexpr (kDouble) {
      while (scan_round<0>(query, query_code, base, round, distance, histogram, keep, scan_storage, bound) &&
             scan_round<1>(query, query_code, base, round, distance, histogram, keep, scan_storage, bound)) {
      }
    } else {
      while (scan_round<0>(query, query_code, base, round, distance, histogram, keep, scan_storage, bound)) {
      }
    }
  }

 private:
  // One round over buffer kBuffer's codes; false after the span's last round. With kDouble the next
  // round's codes go to the other buffer before this round is scored, else to this one after.
  template <int kBuffer, typename Query>
  __device__ __forceinline__ bool scan_round(const Query& query, const uint8_t (*query_code)[D / 4], int& base, int& round,
                                             uint16_t* distance, int* histogram, int keep,
                                             typename ChunkScan::TempStorage& scan_storage, int& bound) {
    const bool more = base + S::kTokensPerRound < span_end;  // block-uniform
    if (kDouble && more) {
      load_codes<kBuffer ^ 1>(base + S::kTokensPerRound);
      load_pages(base + 2 * S::kTokensPerRound);
    }
    int best[S::kSlots];
#pragma unroll
    for (int j = 0; j < S::kSlots; ++j)
      best[j] = query.min_l1(reinterpret_cast<const uint64_t*>(codes[kBuffer][j]), query_code);
    if (!kDouble && more) {
      load_codes<kBuffer>(base + S::kTokensPerRound);
      load_pages(base + 2 * S::kTokensPerRound);
    }
    const int bound_now = bound;
#pragma unroll
    for (int j = 0; j < S::kSlots; ++j) {
      const int t = token(base, j);
      if (t < span_end) {
        distance[t - span_start] = static_cast<uint16_t>(best[j]);
        if (best[j] <= bound_now) atomicAdd(&histogram[best[j]], 1);
      }
    }
    if (!more) return false;
    if ((round & (round + 1)) == 0) update_bound<D>(histogram, keep, scan_storage, bound);
    base += S::kTokensPerRound;
    ++round;
    return true;
  }
};

// A row's HEADS queries (fp32 [HEADS][D], post-RoPE) as the block's threads hold them until they are
// staged: element tid + i * kFusedThreads. Requested first in both steps, so the loads fly while
// the span and the first page ids are worked out.
template <int D, int HEADS>
struct RowQueries {
  static constexpr int kPerThread = (HEADS * D + kFusedThreads - 1) / kFusedThreads;
  float value[kPerThread];
  __device__ __forceinline__ void load(const SelectArgs& a, int seq, int first_head) {
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      const int index = threadIdx.x + i * kFusedThreads;
      value[i] = index < HEADS * D ? a.q[(static_cast<size_t>(seq) * a.num_q_heads + first_head) * D + index] : 0.0f;
    }
  }
  // The row's q lines asked of L2 (one thread per 128 bytes). Safe before the previous kernel has
  // written them: L2 is where global writes land, so it never holds a stale line.
  __device__ __forceinline__ void prefetch_l2(const SelectArgs& a, int seq, int first_head) const {
    const int index = threadIdx.x * 32;
    if (index < HEADS * D)
      asm volatile("prefetch.global.L2 [%0];" ::"l"(a.q + (static_cast<size_t>(seq) * a.num_q_heads + first_head) * D + index));
  }
};

// Both steps' kernel flags beside the probe number (ADAMAS_STEP_PROBE, flags & kProbeMask).
constexpr int kProbeMask = 15;
constexpr int kLateWait = 16;  // launched programmatically: wait for the previous kernel after the set-up
constexpr int kGatherPrefetch = 32;  // positions_to_cache_rows asks L2 for each row's K and V (ADAMAS_STEP_GATHER)
constexpr int kSkewWindow = 64;     // the grid step's GridSkew::kWindow (and kSpread)
constexpr int kSkewSpread = 128;    // the grid step's GridSkew::kSpread
constexpr int kTriggerAfterWait = 256;  // the grid step's dependents launch after its wait (KernelVariants::append_chain)

// The flags `variants` set, the same for both steps (each adds its probe number); `programmatic`: the
// launch is programmatic (each step resolves ADAMAS_STEP_PDL its own way).
inline int variant_flags(const KernelVariants& variants, bool programmatic) {
  return (programmatic ? kLateWait : 0) | (variants.step_gather_prefetch ? kGatherPrefetch : 0) |
         (variants.grid_skew != GridSkew::kOff ? kSkewWindow : 0) | (variants.grid_skew == GridSkew::kSpread ? kSkewSpread : 0) |
         (variants.append_chain ? kTriggerAfterWait : 0);
}

// Under programmatic launch (kLateWait, ADAMAS_STEP_PDL=1) both steps wait for the previous kernel
// only once the row's set-up is done and its first page ids and codes are requested (the cache,
// page table and lengths are no output of the kernel before: the q|k|v product), then load q,
// which is; q's lines are asked of L2 first, so that where no kernel runs before q is not one more
// DRAM trip after the page ids. Without it, q is requested first, before the wait at the kernel's
// start. The caller then passes stage_row request_first = false. Measured (bench/results/
// 2026-11-30-s19, calls 7-8): LongChat-7B at 32K 4.920 -> 4.877 ms a token, but Llama-3-8B 5.055 ->
// 5.186 and 5.772 -> 6.350 ms at 32K / 128K (likely: its step of one block per SM becomes resident beside
// the product before it and waits there), and the isolated step 0.1-0.8 us slower.
template <int D, int HEADS, typename Scan>
__device__ __forceinline__ void wait_then_load_queries(bool scans, Scan& scan, RowQueries<D, HEADS>& queries,
                                                       const SelectArgs& a, int seq, int first_head) {
  queries.prefetch_l2(a, seq, first_head);
  if (scans) scan.request_first();
  grid_dependency_wait();
  queries.load(a, seq, first_head);
}

// Both steps' set-up between the scan's first page ids (scan.begin(), by the caller) and the scan:
// the block histogram zeroed and its bound reset, q staged (raw, and x scale_log2 for the attention),
// the query codes built by warps < HEADS (not for dense rows), then the first codes requested (when
// the block scans). q arrives with the sequence length, a trip before the page ids that the code
// loads wait on, so the query codes are built while the page ids fly. (Requesting the codes first put
// the page ids, the q staging and the query codes in series: 0.45 us slower at MHA 32K, 0.9 at GQA
// 32/8, bench/results/2026-12-02-s35 call 3.) Two block barriers.
template <int D, int HEADS, typename Scan>
__device__ __forceinline__ void stage_row(const RowQueries<D, HEADS>& queries, float scale_log2, bool scans, bool dense,
                                          Scan& scan, float hadamard_scale, const Thresholds& thresholds,
                                          float (*q_raw)[D], float (*q_scaled)[D], uint8_t (*query_code)[D / 4],
                                          int* histogram, int& bound, bool request_first = true) {
  using S = FusedShape<D>;
  for (int b = threadIdx.x; b < S::kBins; b += kFusedThreads) histogram[b] = 0;
  if (threadIdx.x == 0) bound = S::kBins;
#pragma unroll
  for (int i = 0; i < RowQueries<D, HEADS>::kPerThread; ++i) {
    const int index = threadIdx.x + i * kFusedThreads;
    if (index < HEADS * D) {
      q_raw[index / D][index % D] = queries.value[i];
      q_scaled[index / D][index % D] = queries.value[i] * scale_log2;
    }
  }
  __syncthreads();  // q staged
  const int warp = threadIdx.x >> 5;
  if (!dense && warp < HEADS) warp_query_code<D>(q_raw[warp], hadamard_scale, thresholds, query_code[warp]);
  if (scans && request_first) scan.request_first();  // waits for the page ids, which flew meanwhile
  __syncthreads();
}

// The row's threshold T and one block's counts below and at T, as a warp sees them: lane c < blocks
// holds block c's (0 in the other lanes), every lane holds T.
struct LaneCut {
  int threshold, less, tie;
};

// T = the smallest distance whose count over the row's blocks reaches keep, from the blocks'
// cumulative histograms (`through(c, bin)`: block c's count of distances <= bin), by one warp with
// no block barrier: 32 bins a probe, the window first ending at this block's bound `bound` (T <=
// bound: the bound's count alone reaches keep). Below it, a window ending at the lowest of the
// row's bounds (`bound_of(c)`: block c's, requested with the first window), else a coarse probe of
// every ceil(bins / 32)-th bin and a window ending at the first that reaches keep. One round of
// loads in the common case; two where the selection gathers in a few blocks' spans, whose bounds
// are the low ones (end to end, the recent tokens'); four at most. Bins above a block's bound may
// be undercounted (it stopped counting them), but such a bin's count already reaches keep, so
// "reaches keep" is exact for every bin and T with it; the bins <= T are exact, so are the counts
// below and at T.
// kPoll (the grid step, no row barrier): a block's words may not be written yet, and read negative
// (kUnwritten) until they are; a round with any such word is loaded again, the bounds with it.
template <int D, int kMaxBlocks, bool kPoll = false, typename Through, typename Bound>
__device__ __forceinline__ LaneCut row_cut(Through&& through_of, Bound&& bound_of, int blocks, int keep, bool take_all,
                                           int bound) {
  using S = FusedShape<D>;
  static_assert(kMaxBlocks <= 32, "a lane per block");
  const int lane = threadIdx.x & 31;
  if (take_all) {  // every candidate: each block's count through the last bin
    int all;
    do {
      all = lane < blocks ? through_of(lane, S::kBins - 1) : 0;
    } while (kPoll && __any_sync(0xffffffffu, all < 0));
    return LaneCut{S::kBins, all, 0};
  }
  int lane_bound = lane < blocks ? bound_of(lane) : S::kBins;
  bool lowered = false;  // the window has moved to the row's lowest bound
  int top = min(bound, S::kBins - 1), stride = 1;  // lane l probes bin top - (31 - l) * stride
  for (;;) {
    const int bin = top - (31 - lane) * stride;
    int through[kMaxBlocks], total = 0;
#pragma unroll
    for (int c = 0; c < kMaxBlocks; ++c) through[c] = c < blocks && bin >= 0 ? through_of(c, bin) : 0;
    if constexpr (kPoll) {  // the sign bits of every word at once: one vote a round
      int any = lane_bound;
#pragma unroll
      for (int c = 0; c < kMaxBlocks; ++c) any |= through[c];
      if (__any_sync(0xffffffffu, any < 0)) {
        if (lane_bound < 0) lane_bound = bound_of(lane);
        continue;
      }
    }
#pragma unroll
    for (int c = 0; c < kMaxBlocks; ++c) total += through[c];
    const unsigned reached = __ballot_sync(0xffffffffu, bin >= 0 && total >= keep);  // lane 31 always
    const int lowest = top - 31 * stride;
    if (stride == 1 && (reached & 1u) != 0 && lowest > 0) {  // T is below the window
      const int row_bound = __reduce_min_sync(0xffffffffu, static_cast<unsigned>(lane_bound));  // T <= it
      if (!lowered && row_bound < lowest) {
        lowered = true;
        top = row_bound;
        continue;
      }
      top = lowest;  // probe coarsely
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
    for (int c = 0; c < kMaxBlocks; ++c) {
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

// Block `rank`'s share of the row's list, from the cut (every lane of the warp): the ties the
// blocks take (the latest blocks' first: top_k.h's tie-break, as assign_chunk_offsets), its offset
// in the list, its counts, and the row's kept total.
struct BlockShare {
  int offset;           // this block's first slot in the row's list
  int less, taken;      // its candidates below T, and the ties at T it takes
  int first_taken_tie;  // the block takes its ties of rank >= this (its last ones)
  int kept;             // the row's candidates kept in all
  int fewest;           // the block with the fewest kept (the lowest rank of those)
  int ends;             // the larger count of the first and the last block (the sink's and the recent tokens' spans)
};
// With `counts` and `offsets` (shared memory, kMaxBlocks entries), warp 0 also stores every block's
// kept count and first slot there (the grid step's share_attention reads them after compact_block).
__device__ __forceinline__ BlockShare block_share(const LaneCut& cut, int rank, int blocks, int keep, bool take_all,
                                                  int* counts = nullptr, int* offsets = nullptr) {
  const int less_total = __reduce_add_sync(0xffffffffu, cut.less);
  const int ties_needed = take_all ? 0 : keep - less_total;
  int tie_total;
  const int ties_before = warp_exclusive_sum(cut.tie, tie_total);
  const int taken = min(cut.tie, max(0, ties_needed - (tie_total - ties_before - cut.tie)));
  BlockShare share;
  const int offset_of_lane = warp_exclusive_sum(cut.less + taken, share.kept);
  if (counts != nullptr && threadIdx.x < 32) {
    counts[threadIdx.x] = cut.less + taken;
    offsets[threadIdx.x] = offset_of_lane;
  }
  share.offset = __shfl_sync(0xffffffffu, offset_of_lane, rank);
  share.less = __shfl_sync(0xffffffffu, cut.less, rank);
  share.taken = __shfl_sync(0xffffffffu, taken, rank);
  share.first_taken_tie = __shfl_sync(0xffffffffu, cut.tie, rank) - share.taken;
  const int lane = threadIdx.x & 31;
  share.fewest = static_cast<int>(
      __reduce_min_sync(0xffffffffu, lane < blocks ? static_cast<unsigned>((cut.less + taken) << 5 | lane) : ~0u) & 31u);
  // The two ends by shuffles: the grid step's scan lost its uniform registers (the query code) with a
  // maximum over every block's count (bench/results/2026-11-30-s22).
  share.ends = max(__shfl_sync(0xffffffffu, cut.less + taken, 0), __shfl_sync(0xffffffffu, cut.less + taken, blocks - 1));
  return share;
}

// Both steps' phase 2 hand-over: warp 0 alone works out the row cut (`cut_row()`, a LaneCut) and
// the block's share (`share_of(cut)`), and thread 0 stores them in shared memory (`share`,
// `threshold`) for the block's other warps, which wait at the block barrier. With every warp cutting,
// the 8 warps issued the same instructions, two a scheduler: this code runs once a launch, bound by
// issue and instruction fetch rather than by its loads (bench/results/2026-12-02-s33, call 6: 0.4-0.6
// us off the grid step; 2026-12-02-s34, call 4: 0.7 us off the cluster step at MHA 8K). Every
// thread calls it.
template <typename CutRow, typename ShareOf>
__device__ __forceinline__ void cut_in_warp0(CutRow&& cut_row, ShareOf&& share_of, BlockShare& share, int& threshold) {
  if (threadIdx.x < 32) {
    const LaneCut cut = cut_row();
    const BlockShare warp_share = share_of(cut);
    if (threadIdx.x == 0) {
      share = warp_share;
      threshold = cut.threshold;  // kBins under take_all: every distance is below
    }
  }
  __syncthreads();
}

// The current token (position n - 1) closes the row's list: the last block writes it at slot
// `kept` (below capacity) and the row's count. The block `attending_rank` appends it to its own
// list and returns its count one higher. The steps pass the block with the fewest kept positions
// (BlockShare::fewest; the grid step the last block under ADAMAS_GRID_SHARE or ADAMAS_GRID_SKEW=off):
// end to end a row's selection often lands in the last block's span, the
// recent tokens' (bench/results/2026-11-30-s21, section 5), which one more position could cost one
// more round of attend_rows' loads. Called by every thread after compact_block.
__device__ __forceinline__ int close_list(int kept, int count, int rank, int blocks, int attending_rank, int n,
                                          int32_t* list, int capacity, int* row_count, int32_t* local_list,
                                          int local_capacity) {
  if (threadIdx.x == 0 && rank == blocks - 1) {
    if (kept < capacity) list[kept] = n - 1;
    *row_count = kept + 1;
  }
  if (rank != attending_rank) return count;
  if (threadIdx.x == 0) local_list[min(count, local_capacity)] = n - 1;
  return count + 1;
}

// The block's selected positions in ascending order: candidates span_start + i (i < span_length)
// with distance[i] < threshold, and its ties (== threshold) of rank >= first_taken_tie, into
// local_list (the first local_capacity) and the row's list at offset (below capacity). Warp w
// takes a contiguous range of the span, kCompactTile candidates (8 a lane) at a time: first its
// counts below and at T, then, with the counts of the warps before it, its writes. Every thread
// calls it; one block barrier.
// kPairs (the kernels of one head a row): the comparisons are pair_compare.h's subtractions, two
// distances a word. With a comparison and a select a distance, the MHA 128K step's compaction took
// 3.6 us (16 rounds of tiles a warp, 1466 instructions); with pairs the step is 1.5 us faster there
// (bench/results/2026-12-01-s28, call 5). The kernels of four heads a row keep the comparisons: with
// pairs their step was 0.9 us slower at 32K (1 tile a warp; their code around the scan moved).
// The span length passes through a shuffle so that none of this is computed before the scan: hoisted
// there, it moved the scan loops' registers (1175 against 1160 instructions, call 4).
template <bool kPairs>
__device__ __forceinline__ void compact_block(const uint16_t* distance, int span_start, int span_length, int threshold,
                                              int first_taken_tie, int offset, int32_t* list, int capacity,
                                              int32_t* local_list, int local_capacity, int* warp_less, int* warp_ties) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if constexpr (kPairs) span_length = __shfl_sync(0xffffffffu, span_length, 0);
  const int per_warp = ceil_div(span_length, kWarps * kCompactTile) * kCompactTile;
  const int warp_begin = min(span_length, warp * per_warp), warp_end = min(span_length, warp_begin + per_warp);
  auto tile_masks = [&](int base, unsigned& less_mask, unsigned& tie_mask) {
    const int first = base + lane * 8;
    const uint4 raw = *reinterpret_cast<const uint4*>(distance + first);  // inside distance_slots
    const uint16_t* d = reinterpret_cast<const uint16_t*>(&raw);
    less_mask = tie_mask = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const bool valid = first + i < warp_end;
      less_mask |= static_cast<unsigned>(valid && d[i] < threshold) << i;
      tie_mask |= static_cast<unsigned>(valid && d[i] == threshold) << i;
    }
  };
  auto below = [](const uint4& p, int bound) { return at_or_below_flags(p.x, p.y, p.z, p.w, bound); };
  // kPairs: the lane's distances of the tile at `base`. Only a warp's last tile can reach past
  // warp_end: its slots there are not the span's, and read as kPairPadding (above any threshold).
  auto tile_pairs = [&](int base) {
    const int first = base + lane * 8;
    uint4 pairs = *reinterpret_cast<const uint4*>(distance + first);  // inside distance_slots
    if (base + kCompactTile > warp_end) {  // warp-uniform
      unsigned* word = &pairs.x;
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        if (first + 2 * k >= warp_end) word[k] = (word[k] & 0xffff0000u) | kPairPadding;
        if (first + 2 * k + 1 >= warp_end) word[k] = (word[k] & 0xffffu) | kPairPadding << 16;
      }
    }
    return pairs;
  };
  int warp_less_count = 0, warp_tie_count = 0;
  for (int base = warp_begin; base < warp_end; base += kCompactTile) {
    if constexpr (kPairs) {
      const uint4 pairs = tile_pairs(base);
      const int less = __popc(below(pairs, threshold - 1));  // threshold 0: none
      warp_less_count += less;
      warp_tie_count += __popc(below(pairs, threshold)) - less;
    } else {
      unsigned less_mask, tie_mask;
      tile_masks(base, less_mask, tie_mask);
      warp_less_count += __popc(less_mask);
      warp_tie_count += __popc(tie_mask);
    }
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
    if constexpr (kPairs) {
      const uint4 pairs = tile_pairs(base);
      const unsigned at_or_below = pair_flags_mask(below(pairs, threshold));
      if (__ballot_sync(0xffffffffu, at_or_below != 0) == 0) continue;  // no candidate at or below T
      less_mask = pair_flags_mask(below(pairs, threshold - 1));
      tie_mask = at_or_below & ~less_mask;
    } else {
      tile_masks(base, less_mask, tie_mask);
      if (__ballot_sync(0xffffffffu, (less_mask | tie_mask) != 0) == 0) continue;  // most tiles at long contexts
    }
    int tile_ties, tile_count;
    unsigned selected = less_mask;
    if constexpr (kPairs) {
      // Warp-uniform: the ties from rank first_taken_tie on are taken, so a tile whose ties all lie
      // on one side of it needs no rank a tie (one prefix sum of shuffles less on the chain).
      tile_ties = __reduce_add_sync(0xffffffffu, __popc(tie_mask));
      if (tie_rank >= first_taken_tie) {
        selected |= tie_mask;
      } else if (tie_rank + tile_ties > first_taken_tie) {
        const int lane_tie_rank = tie_rank + warp_exclusive_sum(__popc(tie_mask), tile_ties);
        int k = 0;
        for (unsigned m = tie_mask; m != 0; m &= m - 1, ++k)  // the lane's ties in ascending order
          if (lane_tie_rank + k >= first_taken_tie) selected |= m & (~m + 1);
      }
    } else {
      const int lane_tie_rank = tie_rank + warp_exclusive_sum(__popc(tie_mask), tile_ties);
      int k = 0;
      for (unsigned m = tie_mask; m != 0; m &= m - 1, ++k)  // the lane's ties in ascending order
        if (lane_tie_rank + k >= first_taken_tie) selected |= m & (~m + 1);
    }
    const int lane_at = write_at + warp_exclusive_sum(__popc(selected), tile_count);
    int k = 0;
    for (unsigned m = selected; m != 0; m &= m - 1, ++k) {
      const int at = lane_at + k, position = span_start + base + lane * 8 + __ffs(m) - 1;
      if (at < local_capacity) local_list[at] = position;
      if (offset + at < capacity) list[offset + at] = position;
    }
    write_at += tile_count;
    tie_rank += tile_ties;
  }
}

// attend_rows' row for the current token when the step has its K/V (StepArgs::current_keys): no
// row of the paged layout, whose rows stay below 2^32 - 1 (a 2^32-row cache would be terabytes).
constexpr uint32_t kCurrentRow = 0xffffffffu;

// The row's current token as attend_rows takes it: position n - 1 and its fp32 K/V row
// (StepArgs::current_keys), or position -1 and no rows where the step reads it from the cache.
struct CurrentRow {
  int position;
  const float* key;
  const float* value;
};
template <int D>
__device__ __forceinline__ CurrentRow current_row(const StepArgs& a, int seq, int kv_head, int n) {
  if (a.current_keys == nullptr) return {-1, nullptr, nullptr};
  const size_t offset = (static_cast<size_t>(seq) * a.num_kv_heads + kv_head) * D;
  return {n - 1, a.current_keys + offset, a.current_values + offset};
}

// The block's `length` positions, in place in local_list, turned into the K/V rows attend_rows
// reads (rows of the paged layout, < 2^32 - 1) through the sequence's page-table row, every
// page-table read in flight at once; position `current` (n - 1, when the step has the current
// token's K/V; else -1) becomes kCurrentRow. Position i is local_list[i], or span_start + i for a
// dense row (whose list was never written). With `prefetch` (kGatherPrefetch) each row's K and V
// lines are asked of L2 as soon as the row is known, so that attend_rows' rounds after the first
// (kAttendRound rows each, one after the other) find them there (measured: 0.1-0.3 us off the
// isolated step, bench/results/2026-11-30-s21). Every thread calls it; the caller synchronizes after.
template <typename T, int D>
__device__ __forceinline__ void positions_to_cache_rows(const SelectArgs& a, const int32_t* page_row, int kv_head,
                                                        bool dense, int span_start, int32_t* local_list, int length,
                                                        int current, bool prefetch) {
  constexpr int kRowBytes = D * static_cast<int>(sizeof(T));
  for (int i = threadIdx.x; i < length; i += kFusedThreads) {
    const int position = dense ? span_start + i : local_list[i];
    if (position == current) {
      local_list[i] = static_cast<int32_t>(kCurrentRow);
      continue;
    }
    const int page = __ldg(page_row + a.pages.page(position));
    const size_t row = paged_row(a, page, kv_head, position);
    local_list[i] = static_cast<int32_t>(static_cast<uint32_t>(row));
    if (prefetch) {
      const char* key = static_cast<const char*>(a.keys) + row * kRowBytes;
      const char* value = static_cast<const char*>(a.values) + row * kRowBytes;
#pragma unroll
      for (int line = 0; line < kRowBytes; line += 128) {
        asm volatile("prefetch.global.L2 [%0];" ::"l"(key + line));
        asm volatile("prefetch.global.L2 [%0];" ::"l"(value + line));
      }
    }
  }
}

// Where attend_rows scores its batches side by side: kernels of 128 registers (2 blocks per SM or
// fewer) with up to 4 heads a row.
template <int HEADS, int MIN_BLOCKS>
constexpr bool kBatchedAttention = MIN_BLOCKS <= 2 && HEADS <= 4;

// attend_rows' positions per warp in flight, and per block at once (one round of its loads). Twice as
// many in the kernels of 128 registers with one head a row did not help: end to end the 256
// positions of a skewed row (below) took 4.7 us in one block either way, bounded by what one
// multiprocessor draws, about 30 GB/s (bench/results/2026-11-30-s22, call 1). With more than one
// head a row, 4: the batch's code (unrolled over positions and heads) runs about once a warp and is
// fetched cold (4 heads at d 128: the grid step's attention is 977 instructions against 1469 with
// 8). GQA 32/8 grid step: 22.50 / 41.34-41.44 us at 32K / 128K against 24.19-24.32 / 44.67-44.80
// with 8 (bench/results/2026-12-02-s32, call 4). One head a row keeps 8: no change in the grid
// step, 0.3 us slower in the cluster step at 8K (call 2).
template <typename T, int D, int HEADS = 1>
constexpr int kAttendBatch = LaneSlice<T, D / 32>::kBytes <= 8 && HEADS == 1 ? 8 : 4;
template <typename T, int D, int HEADS = 1>
constexpr int kAttendRound = kWarps * kAttendBatch<T, D, HEADS>;

// 2^x for the online softmax and the merges' weights, x <= 0 or -inf: MUFU.EX2 alone (exp2f adds a
// range check and two multiplies for results below 2^-126, which weigh nothing beside the maximum's
// 1). Shorter code matters here: the post-scan phases run about once a warp, their code fetched cold
// (bench/results/2026-11-30-s23: with the merges' weights so, GQA 32/8 26.9 -> 25.5 us at 32K).
__device__ __forceinline__ float softmax_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// One K/V row (this lane's E elements of each) into a warp's online softmax state, head by head.
template <int D, int HEADS, typename Slice>
__device__ __forceinline__ void attend_one(const typename Slice::Vector& k, const typename Slice::Vector& v,
                                           const float (*q_scaled)[D], float (&head_max)[HEADS], float (&head_sum)[HEADS],
                                           float (&acc)[HEADS][D / 32]) {
  constexpr int E = D / 32;
  const int lane = threadIdx.x & 31;
  float key[E], value[E];
  Slice::widen(k, key);
  Slice::widen(v, value);
#pragma unroll
  for (int h = 0; h < HEADS; ++h) {
    float score = 0.0f;
#pragma unroll
    for (int e = 0; e < E; ++e) score = fmaf(q_scaled[h][lane * E + e], key[e], score);
#pragma unroll
    for (int width = 16; width > 0; width /= 2) score += __shfl_xor_sync(0xffffffffu, score, width);
    const float new_max = fmaxf(head_max[h], score);
    const float correction = softmax_exp2(head_max[h] - new_max);  // 0 at the first position (-inf)
    const float p = softmax_exp2(score - new_max);
    head_sum[h] = fmaf(head_sum[h], correction, p);
#pragma unroll
    for (int e = 0; e < E; ++e) acc[h][e] = fmaf(acc[h][e], correction, p * value[e]);
    head_max[h] = new_max;
  }
}

// Attention of the block's HEADS query heads (q_scaled: q x softmax scale x log2 e) over `length`
// cache rows (rows[i]: a K/V row of the paged layout, or kCurrentRow: the fp32 current_key /
// current_value [D] rounded to T, which only the last entry can be: close_list appends the current
// token, and the spread and shared lists keep list order): warp w takes rows w * kBatch, ... in
// batches whose K/V loads fly together, with an online softmax per warp and head; the current
// token's row comes after the batches, in one warp. The warps' states end in warp_out
// [kWarps][HEADS][D], warp_max and warp_sum. kBatched (kBatchedAttention): a batch's scores side
// by side, then one softmax update per head; elsewhere the scores' registers spilled, so there each
// position updates in turn. The caller synchronizes after.
// Why the current token is not in a batch: its branch in every slot of the unrolled batch doubled
// the loop's code, and this code runs about once a warp, so its instruction fetches, not its
// loads, held the warps (ncu, isolated MHA step at 32K: half the attention phase's stall samples
// were "no instruction"; bench/results/2026-11-30-s23).
template <typename T, int D, int HEADS, int MIN_BLOCKS>
__device__ __forceinline__ void attend_rows(const void* keys_base, const void* values_base, const int32_t* rows,
                                            int length, const float* current_key, const float* current_value,
                                            const float (*q_scaled)[D], float* warp_out, float (*warp_max)[HEADS],
                                            float (*warp_sum)[HEADS]) {
  constexpr int E = D / 32;  // K/V elements per lane
  using Slice = LaneSlice<T, E>;
  constexpr bool kBatched = kBatchedAttention<HEADS, MIN_BLOCKS>;
  constexpr int kBatch = kAttendBatch<T, D, HEADS>;  // positions per warp in flight
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float head_max[HEADS], head_sum[HEADS], acc[HEADS][E];
#pragma unroll
  for (int h = 0; h < HEADS; ++h) {
    head_max[h] = -INFINITY;
    head_sum[h] = 0.0f;
#pragma unroll
    for (int e = 0; e < E; ++e) acc[h][e] = 0.0f;
  }
  const T* keys = static_cast<const T*>(keys_base) + lane * E;
  const T* values = static_cast<const T*>(values_base) + lane * E;
  const bool has_current = length > 0 && static_cast<uint32_t>(rows[length - 1]) == kCurrentRow;  // block-uniform
  if (has_current) --length;  // the batches' rows; the current token's after them
  for (int base = warp * kBatch; base < length; base += kWarps * kBatch) {  // warp-uniform
    typename Slice::Vector k[kBatch], v[kBatch];
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      if (base + j >= length) {  // scores -inf, weight 0: zeros, never garbage times 0
        k[j] = Slice::zero();
        v[j] = Slice::zero();
        continue;
      }
      const size_t element = static_cast<size_t>(static_cast<uint32_t>(rows[base + j])) * D;
      k[j] = Slice::load(keys + element);
      v[j] = Slice::load(values + element);
    }
    if constexpr (kBatched) {
      // The batch at once, per head: its kBatch dot products reduced side by side, then one softmax
      // update. Position by position, each update waited on its own five shuffles and the one before
      // it (the step was 0.5-2 us slower so, bench/results/2026-11-30-s21). Positions past `length`
      // score -inf and weigh 0.
#pragma unroll
      for (int h = 0; h < HEADS; ++h) {
        float score[kBatch];
#pragma unroll
        for (int j = 0; j < kBatch; ++j) {
          float key[E];
          Slice::widen(k[j], key);
          score[j] = 0.0f;
#pragma unroll
          for (int e = 0; e < E; ++e) score[j] = fmaf(q_scaled[h][lane * E + e], key[e], score[j]);
        }
#pragma unroll
        for (int width = 16; width > 0; width /= 2)
#pragma unroll
          for (int j = 0; j < kBatch; ++j) score[j] += __shfl_xor_sync(0xffffffffu, score[j], width);
        float new_max = head_max[h];
#pragma unroll
        for (int j = 0; j < kBatch; ++j) {
          if (base + j >= length) score[j] = -INFINITY;
          new_max = fmaxf(new_max, score[j]);
        }
        const float correction = softmax_exp2(head_max[h] - new_max);  // 0 at the first batch (-inf)
        float sum = head_sum[h] * correction;
#pragma unroll
        for (int e = 0; e < E; ++e) acc[h][e] *= correction;
#pragma unroll
        for (int j = 0; j < kBatch; ++j) {
          const float p = softmax_exp2(score[j] - new_max);
          float value[E];
          Slice::widen(v[j], value);
          sum += p;
#pragma unroll
          for (int e = 0; e < E; ++e) acc[h][e] = fmaf(p, value[e], acc[h][e]);
        }
        head_sum[h] = sum;
        head_max[h] = new_max;
      }
    } else {
#pragma unroll
      for (int j = 0; j < kBatch; ++j) {
        if (base + j >= length) break;
        attend_one<D, HEADS, Slice>(k[j], v[j], q_scaled, head_max, head_sum, acc);
      }
    }
  }
  // The current token, in the warp after the last batch's (that warp has no more rows than any other).
  if (has_current && warp == (length + kBatch - 1) / kBatch % kWarps)
    attend_one<D, HEADS, Slice>(Slice::round(current_key + lane * E), Slice::round(current_value + lane * E), q_scaled,
                                head_max, head_sum, acc);
#pragma unroll
  for (int h = 0; h < HEADS; ++h) {
#pragma unroll
    for (int e = 0; e < E; ++e) warp_out[(warp * HEADS + h) * D + lane * E + e] = acc[h][e];
    if (lane == 0) {
      warp_max[warp][h] = head_max[h];
      warp_sum[warp][h] = head_sum[h];
    }
  }
}

// The warps' states merged into the block's partial result per head: out[h * D + dim], and (by
// the thread of dim 0) out_max[h], out_sum[h]. A warp without positions has max -inf and weight 0.
// Every thread calls it, after a barrier over attend_rows' writes.
template <int D, int HEADS>
__device__ __forceinline__ void merge_warps(const float* warp_out, const float (*warp_max)[HEADS],
                                            const float (*warp_sum)[HEADS], float* out, float* out_max, float* out_sum) {
  for (int i = threadIdx.x; i < HEADS * D; i += blockDim.x) {
    const int h = i / D, dim = i % D;
    float top = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) top = fmaxf(top, warp_max[w][h]);
    float value = 0.0f, sum = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float weight = warp_max[w][h] == -INFINITY ? 0.0f : softmax_exp2(warp_max[w][h] - top);
      value = fmaf(weight, warp_out[(w * HEADS + h) * D + dim], value);
      sum = fmaf(weight, warp_sum[w][h], sum);
    }
    out[h * D + dim] = value;
    if (dim == 0) {
      out_max[h] = top;
      out_sum[h] = sum;
    }
  }
}

// The row's `parts` (<= 32) partial results merged into the output of its HEADS heads (out
// [HEADS][D], the row's first head's slot): partial c's value of head h and dim at load(outs + (c *
// HEADS + h) * D + dim), its max and sum at load(maxes + c * HEADS + h), load(sums + ...). A warp's
// outputs share a head: lane c loads partial c's max and sum, the maximum and the weights go round
// by shuffles, and each lane's values of 16 partials are requested at once, so an output takes
// about two round trips of `load` (through L2 in the grid step) instead of one a partial. The sums
// keep ascending partial order. Every thread calls it. (Requesting a thread's every output's loads
// at once, two outputs a thread with four heads at d 128, made the GQA 32/8 grid step slower in
// graph replays, 25.7 -> 32.5 us at 32K: bench/results/2026-11-30-s18, call 3.)
template <int D, int HEADS, typename Load>
__device__ __forceinline__ void merge_partials(int parts, Load&& load, const float* outs, const float* maxes,
                                               const float* sums, float* out) {
  static_assert(D % 32 == 0, "a warp's outputs share a head");
  constexpr int kGroup = 16;  // partials' values in flight a lane
  const int lane = threadIdx.x & 31;
  for (int i = threadIdx.x; i < HEADS * D; i += blockDim.x) {  // warp-uniform: HEADS * D and blockDim are multiples of 32
    const int h = i / D, dim = i % D;
    const float lane_max = lane < parts ? load(maxes + lane * HEADS + h) : -INFINITY;
    const float lane_sum = lane < parts ? load(sums + lane * HEADS + h) : 0.0f;
    float top = lane_max;
#pragma unroll
    for (int width = 16; width > 0; width /= 2) top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, width));
    float value = 0.0f, sum = 0.0f;
    for (int first = 0; first < parts; first += kGroup) {
      float values[kGroup];
#pragma unroll
      for (int j = 0; j < kGroup; ++j)
        values[j] = first + j < parts ? load(outs + ((first + j) * HEADS + h) * D + dim) : 0.0f;
#pragma unroll
      for (int j = 0; j < kGroup; ++j) {
        const float their_max = __shfl_sync(0xffffffffu, lane_max, first + j);
        const float their_sum = __shfl_sync(0xffffffffu, lane_sum, first + j);
        if (first + j < parts) {
          const float weight = their_max == -INFINITY ? 0.0f : softmax_exp2(their_max - top);
          value = fmaf(weight, values[j], value);
          sum = fmaf(weight, their_sum, sum);
        }
      }
    }
    out[h * D + dim] = value / sum;
  }
}

}  // namespace adamas::cuda::step
