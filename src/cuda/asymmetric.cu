// Asymmetric estimate: block = (4096 candidates, row), 256 threads, a few tokens per thread.
// Prologue per block: the row's queries rotated in shared memory with the butterfly of hadamard.h
// (spans 1, 2, 4, ..., __fadd_rn/__fsub_rn, then one __fmul_rn by 1/sqrt(d): the CPU's q'), then
// a pair table: for each pair of coordinates (2p, 2p+1) and each of the 16 level pairs n,
//   table[p][n] = q'_2p * c[n & 3] + q'_2p+1 * c[n >> 2]   (products rounded, then added)
// which is exactly the first half (or second half) of the CPU's per-byte sum
// s_b = (p_4b + p_4b+1) + (p_4b+2 + p_4b+3): the byte's low nibble indexes pair 2b, its high nibble
// pair 2b+1. A token then costs two shared loads and three adds per code byte and head. Why pairs,
// not 4 products per coordinate (one load per coordinate) nor a 256-entry table per byte (one load
// per byte, 32 KiB per head at d 128: too large for a group of 8): half the loads of the first at
// 4 KiB per head. Bank conflicts: all lanes of a warp read the same pair at once, and a pair's 16
// entries are 16 consecutive words, i.e. 16 distinct banks.
// Main loop: each thread loads its tokens' whole codes (16-byte loads, d/64 per token) before
// scoring any, so several loads per thread are in flight; lanes of a warp read consecutive codes.
#include "cuda/asymmetric.cuh"

#include <cooperative_groups.h>
#include <cub/block/block_scan.cuh>

#include "adamas/hadamard.h"
#include "cuda/launch.cuh"
#include "cuda/warp_hadamard.cuh"

namespace adamas::cuda {

namespace cg = cooperative_groups;

namespace {

constexpr int kAsymThreads = kSelectThreads;
constexpr int kAsymChunk = kListChunk;  // candidates per block: the tables are built once per 4096 tokens

__device__ __forceinline__ float reduce_lanes_asym(const float* lane) {
  return __fadd_rn(__fadd_rn(__fadd_rn(lane[0], lane[1]), __fadd_rn(lane[2], lane[3])),
                   __fadd_rn(__fadd_rn(lane[4], lane[5]), __fadd_rn(lane[6], lane[7])));
}

// 32-bit word w of a code held as uint4s (byte b of the code sits at bits 8*(b%4) of word b/4);
// w is a constant once the loops unroll, so the code stays in registers.
template <int kVecs>
__device__ __forceinline__ uint32_t code_word(const uint4 (&code)[kVecs], int w) {
  const uint4& v = code[w / 4];
  switch (w % 4) {
    case 0: return v.x;
    case 1: return v.y;
    case 2: return v.z;
    default: return v.w;
  }
}

template <int D>
constexpr int tokens_per_thread() {
  return D >= 256 ? 2 : 4;  // codes held in registers: 2 x 64 B or 4 x 32 B per thread
}

// Dynamic shared memory: rotated queries [heads][D] then pair tables [heads][D/2][16].
inline size_t asymmetric_shared_bytes(int heads, int head_dim) {
  return static_cast<size_t>(heads) * head_dim * sizeof(float) * (1 + 8);
}

template <int D>
__global__ __launch_bounds__(kAsymThreads) void asymmetric_score_kernel(SelectArgs a, float scale) {
  extern __shared__ __align__(16) float shared[];
  constexpr int kPairs = D / 2, kVecs = D / 64, kTokens = tokens_per_thread<D>();
  constexpr int kTile = kAsymThreads * kTokens;
  static_assert(kAsymChunk % kTile == 0, "a chunk is a whole number of tiles");
  const int row = blockIdx.y, seq = row / a.rows_per_seq, r = row % a.rows_per_seq;
  const int candidates = row_candidates(a, a.seq_lens[seq]);
  if (!begin_row(a, row, seq, r, candidates)) return;
  const int chunk_begin = blockIdx.x * kAsymChunk;
  if (chunk_begin >= candidates) return;
  const int chunk_end = min(candidates, chunk_begin + kAsymChunk);
  const int heads = a.heads_per_row, first_head = row_first_q_head_dev(a, r), kv_head = row_kv_head_dev(a, r);
  float* rotated = shared;
  float* table = shared + heads * D;

  for (int i = threadIdx.x; i < heads * D; i += kAsymThreads)
    rotated[i] = a.q[(static_cast<size_t>(seq) * a.num_q_heads + first_head) * D + i];
  for (int span = 1; span < D; span *= 2) {
    __syncthreads();
    for (int p = threadIdx.x; p < heads * kPairs; p += kAsymThreads) {
      const int h = p / kPairs, k = p % kPairs;
      const int i = (k / span) * 2 * span + k % span;  // the k-th coordinate with bit `span` clear
      float* v = rotated + h * D;
      const float x = v[i], y = v[i + span];
      v[i] = __fadd_rn(x, y);
      v[i + span] = __fsub_rn(x, y);
    }
  }
  __syncthreads();
  for (int e = threadIdx.x; e < heads * kPairs * 16; e += kAsymThreads) {
    const int n = e & 15, h = (e >> 4) / kPairs, pair = (e >> 4) % kPairs;
    const float q0 = __fmul_rn(rotated[h * D + 2 * pair], scale), q1 = __fmul_rn(rotated[h * D + 2 * pair + 1], scale);
    table[e] = __fadd_rn(__fmul_rn(q0, a.centroids[n & 3]), __fmul_rn(q1, a.centroids[n >> 2]));
  }
  __syncthreads();

  uint32_t* out = a.score_keys + static_cast<size_t>(row) * a.candidate_stride;
  const int32_t* pages = a.page_table + static_cast<size_t>(seq) * a.max_pages_per_seq;
  for (int tile = chunk_begin; tile < chunk_end; tile += kTile) {
    uint4 code[kTokens][kVecs];
#pragma unroll
    for (int j = 0; j < kTokens; ++j) {
      const int t = tile + j * kAsymThreads + threadIdx.x;
      if (t >= chunk_end) continue;
      const int page = pages[a.pages.page(t)];
      const uint4* src = reinterpret_cast<const uint4*>(a.key_codes + paged_row(a, page, kv_head, t) * (D / 4));
#pragma unroll
      for (int v = 0; v < kVecs; ++v) code[j][v] = __ldg(src + v);
    }
#pragma unroll
    for (int j = 0; j < kTokens; ++j) {
      const int t = tile + j * kAsymThreads + threadIdx.x;
      if (t >= chunk_end) continue;
      float best = -INFINITY;
      for (int h = 0; h < heads; ++h) {
        const float* head_table = table + h * kPairs * 16;
        float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll
        for (int b = 0; b < D / 4; ++b) {
          const uint32_t byte = (code_word(code[j], b / 4) >> (8 * (b % 4))) & 0xffu;
          const float s = __fadd_rn(head_table[(2 * b) * 16 + (byte & 15u)], head_table[(2 * b + 1) * 16 + (byte >> 4)]);
          lane[b & 7] = __fadd_rn(lane[b & 7], s);
        }
        const float score = reduce_lanes_asym(lane);
        best = best < score ? score : best;  // std::max(best, score)
      }
      out[t] = score_order_key(best);
    }
  }
}

template <int D>
void launch_typed(const SelectArgs& args, dim3 grid, cudaStream_t stream) {
  // Largest table (a group of 8): 8 * 256 * 36 B = 72 KiB at d 256, above the default 48 KiB.
  static const bool configured = [] {
    ADAMAS_CUDA_CHECK(cudaFuncSetAttribute(asymmetric_score_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(asymmetric_shared_bytes(kMaxGroup, D))));
    return true;
  }();
  (void)configured;
  asymmetric_score_kernel<D><<<grid, kAsymThreads, asymmetric_shared_bytes(args.heads_per_row, D), stream>>>(
      args, hadamard_scale(D));
}

// ---------------------------------------------------------------------------------------------
// Variant "new" (ADAMAS_ASYM_VARIANT=new): scoring and threshold search fused in one launch, as the
// L1 path does; compact_kernel (select.cu) then writes the lists. Grid (parts of PART candidates,
// rows), PART 2048, 4096 or 8192 (half, one or two chunks of 4096), 512 threads, PART / 512
// candidates per thread (asymmetric_fused_kernel below).
//  - Scores in the same canonical order as above, from pair tables laid out for two heads per
//    load (GroupTable), HEADS a template parameter. The key of every candidate goes to score_keys
//    (compact_kernel compares them with the threshold).
//  - A block histogram of the key's top 12 bits (shared, 4096 bins); its keep-th smallest bin b_c
//    (4095 when the block's part holds fewer than keep candidates). The row's keep-th smallest key
//    lies in a bin <= b_c for every part c, so the entries {key, chunk of 4096} of the part's keys in
//    bins <= b_c (about keep + a bin's worth) are all the last block needs: they are appended to the
//    row's list (a.asym_list; its length and the row's tickets in a.asym_tally[row], zero between
//    launches).
//  - The row's last block (ticket; the ticket's atomic also returns the list's length): the list
//    staged in shared memory, then digit passes over it (bits 31..20, 19..8, 7..0, each a shared
//    histogram and a block scan; the rest skipped once a single key of the list is left in the
//    pass's bin, the usual case after two) give the exact threshold T (the keep-th smallest key),
//    the count below it and the ties needed; the per-chunk counts of keys < T and == T (every such
//    key is in the list) come with the last visit (or one more pass after ties); then chunk
//    offsets and ties taken (latest chunks first, as assign_chunk_offsets), the closing index and
//    the row count.
namespace fused {

constexpr int kThreads = 512;
constexpr int kBins = 4096;                    // 12-bit digits
constexpr int kBinsPerThread = kBins / kThreads;
constexpr int kChunksPerThread = 2;            // 1024 chunks of a row at most (kMaxChunkItems * 256)
static_assert(kChunksPerThread * kThreads == kMaxChunkItems * kSelectThreads, "one chunk slot per row chunk");
static_assert(2 * kMaxChunkItems * kSelectThreads <= kBins, "chunk counts reuse the histogram");
using Scan = cub::BlockScan<int, kThreads>;
using PairScan = cub::BlockScan<unsigned long long, kThreads>;

struct Shared {
  alignas(16) int bins[kBins];  // 16-byte aligned: part_bound reads other blocks' bins 4 at a time
  typename Scan::TempStorage scan;
  typename PairScan::TempStorage pair_scan;  // finish_row's chunk offsets
  uint32_t prefix;
  int below, need, bound;
  int found;        // finish_row: the count of the bin find_bin found
  int list_length;  // the row's list entries (last_block_of_row)
  bool is_last;
};

// finish_row keeps each chunk's count of keys < T and == T in the histogram's first slots.
constexpr int kChunkCountSlots = 2 * kChunksPerThread * kThreads;

// The histogram's first `count` bins set to zero, block-strided (the caller synchronizes).
__device__ __forceinline__ void clear_bins(Shared& sh, int count) {
  for (int b = threadIdx.x; b < count; b += kThreads) sh.bins[b] = 0;
}

// Smallest bin whose inclusive count reaches `need` (bin 0 when need is 0) from the block-wide
// histogram `bins`; the finding thread calls found(bin, count before it). No bin when the total
// is below need. With kCumulate the histogram is made cumulative in place (bin b: the count of
// bins <= b). Synchronizes before returning.
template <bool kCumulate = false, typename Found>
__device__ __forceinline__ void find_bin(Shared& sh, int need, Found found) {
  int count[kBinsPerThread];
#pragma unroll
  for (int i = 0; i < kBinsPerThread; ++i) count[i] = sh.bins[threadIdx.x * kBinsPerThread + i];
  int sum = 0;
#pragma unroll
  for (int i = 0; i < kBinsPerThread; ++i) sum += count[i];
  int before = 0;
  Scan(sh.scan).ExclusiveSum(sum, before);
#pragma unroll
  for (int i = 0; i < kBinsPerThread; ++i) {
    const int b = threadIdx.x * kBinsPerThread + i;
    if (before + count[i] >= need && (b == 0 || before < need)) found(b, before);
    before += count[i];
    if constexpr (kCumulate) sh.bins[b] = before;
  }
  __syncthreads();
}

// Cluster barrier halves (PTX barrier.cluster), so that a block arrives right after its last read
// of the other blocks' shared memory and waits only before its own is reused or it exits.
__device__ __forceinline__ void cluster_arrive() { asm volatile("barrier.cluster.arrive.release.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void cluster_wait() { asm volatile("barrier.cluster.wait.acquire.aligned;\n" ::: "memory"); }

// Blocks in this block's thread-block cluster (1 in a launch without clusters): the fused kernels'
// clusters are consecutive parts of one row (parts_config), of run-time size, so that the choice
// costs no further instantiations.
constexpr int kMaxCluster = 4;  // with_fused_kernel checks it
__device__ __forceinline__ int cluster_blocks() { return static_cast<int>(cg::this_cluster().num_blocks()); }

// The part's bound: the smallest 12-bit digit whose count reaches keep (kBins - 1 when none does),
// counted over the block's own histogram (no cluster) or over the histograms of its cluster's
// blocks, consecutive parts of one row. The row's keep-th smallest key lies in a bin <= either (the
// row holds the block and the cluster), and the cluster's bound is the tighter one: the row's list
// (and the two-pass kernel's rescoring) shrinks from about keep per block to about keep per
// cluster. With a cluster: each block finds its own bound (sh.bound) and makes its histogram
// cumulative; after a cluster barrier every warp searches the cluster's sum of the cumulative
// histograms (distributed shared memory, a few words per lane) at or below the lowest block bound,
// where one block alone reaches keep: first the 32 bins ending there (the usual case), else a
// 32-way search below. (Reading every bin of the other blocks was no slower: the cluster bound
// costs about 1.5 us more than a block's own either way, the barrier's round trip; H200,
// bench/results/2026-11-29-s12.) Then the block arrives on a second cluster barrier, on which it must wait
// (release_cluster) before its histogram is reused or it exits. Called by every thread; the
// result is the same in every thread.
__device__ __forceinline__ int part_bound(Shared& sh, int keep) {
  const int cluster_size = cluster_blocks();
  if (cluster_size == 1) {
    find_bin(sh, keep, [&](int b, int) { sh.bound = b; });
    return sh.bound;
  }
  find_bin<true>(sh, keep, [&](int b, int) { sh.bound = b; });
  cg::cluster_group cluster = cg::this_cluster();
  cluster.sync();  // every block's cumulative histogram and own bound are complete
  const int lane = threadIdx.x & 31;
  int high = kBins - 1;
#pragma unroll
  for (int r = 0; r < kMaxCluster; ++r)
    if (r < cluster_size) high = min(high, *cluster.map_shared_rank(&sh.bound, r));
  auto reaches = [&](int bin) {  // the cluster's count of keys in bins <= bin reaches keep
    int total = 0;
#pragma unroll
    for (int r = 0; r < kMaxCluster; ++r)
      if (r < cluster_size) total += cluster.map_shared_rank(sh.bins, r)[bin];
    return total >= keep;
  };
  int bound = kBins - 1;
  const int base = max(0, high - 31);
  const int probe = min(high, base + lane);
  const unsigned reach = __ballot_sync(0xffffffffu, reaches(probe));
  if (reach != 0) {  // else no bin reaches keep (no block did, nor their sum)
    const int first = __ffs(reach) - 1;
    if (first > 0 || base == 0) {
      bound = base + first;
    } else {  // the bound lies at or below `base`, which reaches keep: 32-way search of [low, top]
      int low = 0, top = base;
      for (;;) {
        const int stride = ceil_div(top - low + 1, 32);
        const int at = min(top, low + (lane + 1) * stride - 1);  // lane 31: top
        const int found = __ffs(__ballot_sync(0xffffffffu, reaches(at))) - 1;
        const int found_at = __shfl_sync(0xffffffffu, at, found);
        const int below = __shfl_sync(0xffffffffu, at, max(found - 1, 0));
        if (stride == 1) {
          bound = found_at;
          break;
        }
        low = found == 0 ? low : below + 1;
        top = found_at;
      }
    }
  }
  cluster_arrive();
  return bound;
}
__device__ __forceinline__ void release_cluster() {
  if (cluster_blocks() > 1) cluster_wait();
}

// One pass over the row's list (m entries): visit(key, chunk) per entry, 8 loads in flight per thread.
template <typename Visit>
__device__ __forceinline__ void for_each_entry(const uint2* list, int m, Visit visit) {
  constexpr int kBatch = 8;
  for (int base = 0; base < m; base += kBatch * kThreads) {
    uint2 e[kBatch];
#pragma unroll
    for (int k = 0; k < kBatch; ++k) {
      const int f = base + k * kThreads + threadIdx.x;
      e[k] = f < m ? __ldcg(list + f) : make_uint2(0u, 0xffffffffu);
    }
#pragma unroll
    for (int k = 0; k < kBatch; ++k)
      if (e[k].y != 0xffffffffu) visit(e[k].x, static_cast<int>(e[k].y));
  }
}

// The row's tally (a.asym_tally[row]): list entries in the low 32 bits (warps reserve their
// ranges there), tickets in the high 32 bits, so that the last ticket also returns the list's
// length (every block's reservations precede its ticket) instead of a further load.
__device__ __forceinline__ int reserve_entries(const SelectArgs& a, int row, int count) {
  return static_cast<int>(atomicAdd(&a.asym_tally[row], static_cast<unsigned long long>(count)) & 0xffffffffull);
}

// The row's ticket, after the block's list entries are written: true in the row's last block
// (block-uniform), which then finds the list's length in sh.list_length. One thread fences for the
// block between two barriers (the pattern of the cooperative groups grid barrier): release before
// its ticket, so that the block's entries are visible to the last block, and acquire after the
// last ticket, before that block reads them.
__device__ __forceinline__ bool last_block_of_row(const SelectArgs& a, int row, int parts, Shared& sh) {
  __syncthreads();
  if (threadIdx.x == 0) {
    asm volatile("fence.acq_rel.gpu;" ::: "memory");
    const unsigned long long tally = atomicAdd(&a.asym_tally[row], 1ull << 32);
    const bool last = (tally >> 32) == static_cast<unsigned long long>(parts - 1);
    if (last) asm volatile("fence.acq_rel.gpu;" ::: "memory");
    sh.is_last = last;
    sh.list_length = static_cast<int>(tally & 0xffffffffull);
  }
  __syncthreads();
  return sh.is_last;
}

// staged: the block's dynamic shared memory, for stage_capacity list entries.
__device__ void finish_row(const SelectArgs& a, int row, int n, int candidates, int chunks, Shared& sh, uint2* staged,
                           int stage_capacity) {
  const int tid = threadIdx.x;
  const int keep = row_keep(a);
  const int m = sh.list_length;
  const uint2* list = a.asym_list + static_cast<size_t>(row) * a.candidate_stride;
  const bool take_all = keep >= candidates;
  // Probes 4-6 (benchmarks): the row is left for the next launch as finish_row leaves it.
  auto probe_exit = [&](int point) {
    if (a.asym_probe != point) return false;
    __syncthreads();
    if (tid == 0) a.asym_tally[row] = 0;
    return true;
  };
  if (probe_exit(4)) return;
  // Lists of up to `stage_capacity` entries (typical: parts * (keep + a bin's worth)) are copied
  // once into shared memory (the block's dynamic storage: tables and slots are no longer needed)
  // and visited by short loops; longer ones are read again from L2 by every pass. Why not in
  // registers (the tenth session's 24 per thread): at 64 registers (one head a row) they spilled,
  // and every visit unrolled over them made the closing block's code several times longer; it
  // runs once per row, with its instructions cold.
  // The first digit pass's histogram (bits 31..20) is built as the entries are staged.
  const bool staged_all = m <= stage_capacity;  // block-uniform
  if (staged_all) {
    constexpr int kBatch = 8;
    clear_bins(sh, kBins);
    for (int base = 0; base < m; base += kBatch * kThreads) {
      uint2 e[kBatch];
#pragma unroll
      for (int k = 0; k < kBatch; ++k) {
        const int f = base + k * kThreads + tid;
        e[k] = f < m ? __ldcg(list + f) : make_uint2(0u, 0u);
      }
      if (base == 0) __syncthreads();  // the bins are zero (the loads are in flight meanwhile)
#pragma unroll
      for (int k = 0; k < kBatch; ++k) {
        const int f = base + k * kThreads + tid;
        if (f < m) {
          staged[f] = e[k];
          if (!take_all) atomicAdd(&sh.bins[e[k].x >> 20], 1);
        }
      }
    }
    __syncthreads();
  }
  auto visit_entries = [&](auto visit) {
    if (staged_all) {
      // Two entries per 16-byte load (staged is 16-byte aligned; the second of the last pair may
      // lie past m).
      const uint4* pairs = reinterpret_cast<const uint4*>(staged);
#pragma unroll 2
      for (int f = tid; 2 * f < m; f += kThreads) {
        const uint4 e = pairs[f];
        visit(e.x, static_cast<int>(e.y));
        if (2 * f + 1 < m) visit(e.z, static_cast<int>(e.w));
      }
    } else {
      for_each_entry(list, m, visit);
    }
  };
  if (probe_exit(5)) return;
  // Per chunk: keys < T and == T (the histogram's storage, zeroed first), counted by the digit
  // passes' last visit when it finds T alone in its bin, else by a visit of their own.
  int* chunk_less = sh.bins;
  int* chunk_tie = sh.bins + kChunksPerThread * kThreads;
  bool chunks_counted = false;  // block-uniform
  if (!take_all) {
    // Digits of up to 12 bits from bit 31 down (12/12/8); only entries whose higher bits equal
    // the prefix count. (Digits from the list's highest differing bit instead, which spread the
    // first pass's atomics over more bins, were no faster: bench/results/2026-11-29-s11.)
    int end = 32;  // bits at and above `end` are settled (the prefix)
    uint32_t prefix = 0u;
    int below = 0, need = keep;
#pragma unroll 1
    while (end > 0) {
      const int shift = max(0, end - 12);
      const uint32_t digit_mask = (1u << (end - shift)) - 1u;
      const uint32_t high_mask = end == 32 ? 0u : ~0u << end;
      if (end < 32 || !staged_all) {  // else built while staging
        clear_bins(sh, kBins);
        __syncthreads();
        visit_entries([&](uint32_t key, int) {
          if ((key & high_mask) == prefix) atomicAdd(&sh.bins[(key >> shift) & digit_mask], 1);
        });
        __syncthreads();
      }
      find_bin(sh, need, [&](int b, int before) {
        sh.prefix = prefix | (static_cast<uint32_t>(b) << shift);
        sh.below = below + before;
        sh.need = need - before;
        sh.found = sh.bins[b];
      });
      prefix = sh.prefix;
      below = sh.below;
      need = sh.need;
      if (shift > 0 && sh.found == 1) {
        // One key of the list lies in the bin (the usual case): it is T, with need 1, and the only
        // key == T of the row; every key below the bin is < T. Its owner completes the prefix, and
        // the same visit counts each chunk's keys < T and == T (no further pass).
        clear_bins(sh, kChunkCountSlots);
        __syncthreads();  // every thread holds prefix before the owner rewrites sh.prefix
        const uint32_t bin_mask = ~0u << shift;
        visit_entries([&](uint32_t key, int chunk) {
          if ((key & bin_mask) == prefix) {
            sh.prefix = key;
            atomicAdd(&chunk_tie[chunk], 1);
          } else if (key < prefix) {
            atomicAdd(&chunk_less[chunk], 1);
          }
        });
        chunks_counted = true;
        break;
      }
      end = shift;  // find_bin's barrier precedes the next pass's zeroing of sh.bins
    }
  } else if (tid == 0) {
    sh.prefix = 0u;
    sh.below = 0;
    sh.need = keep;
  }
  __syncthreads();
  if (probe_exit(6)) return;
  const RowSelectState state{sh.prefix, sh.below, sh.need, take_all ? 1 : 0};
  if (tid == 0) a.state[row] = state;
  if (!chunks_counted) {
    clear_bins(sh, kChunkCountSlots);
    __syncthreads();
    if (take_all) {
      for (int c = tid; c < chunks; c += kThreads) chunk_less[c] = min(kAsymChunk, candidates - c * kAsymChunk);
    } else {
      visit_entries([&](uint32_t key, int chunk) {
        if (key < state.threshold) atomicAdd(&chunk_less[chunk], 1);
        else if (key == state.threshold) atomicAdd(&chunk_tie[chunk], 1);
      });
    }
    __syncthreads();
  }
  // Offsets: ties from the latest chunks first (assign_chunk_offsets, for 512 threads).
  int less[kChunksPerThread], tie[kChunksPerThread];
#pragma unroll
  for (int i = 0; i < kChunksPerThread; ++i) {
    const int c = tid * kChunksPerThread + i;
    less[i] = c < chunks ? chunk_less[c] : 0;
    tie[i] = c < chunks ? chunk_tie[c] : 0;
  }
  // One scan of {less, tie} pairs (32 bits each: a row holds fewer than 2^32 candidates) instead of
  // a scan of the ties, then one of the outputs: the taken ties are the last `ties_needed` ties in
  // chunk order, so the ties taken before chunk c are max(0, ties before c - untaken ties).
  unsigned long long pair[kChunksPerThread], before[kChunksPerThread], totals;
#pragma unroll
  for (int i = 0; i < kChunksPerThread; ++i)
    pair[i] = (static_cast<unsigned long long>(less[i]) << 32) | static_cast<unsigned>(tie[i]);
  PairScan(sh.pair_scan).ExclusiveSum(pair, before, totals);
  const int total_ties = static_cast<int>(totals & 0xffffffffull);
  const int untaken = max(0, total_ties - state.ties_needed);
  int offset[kChunksPerThread], taken[kChunksPerThread];
#pragma unroll
  for (int i = 0; i < kChunksPerThread; ++i) {
    const int ties_before = static_cast<int>(before[i] & 0xffffffffull);
    const int taken_before = max(0, ties_before - untaken);
    taken[i] = max(0, ties_before + tie[i] - untaken) - taken_before;
    offset[i] = static_cast<int>(before[i] >> 32) + taken_before;
  }
  const int kept = static_cast<int>(totals >> 32) + min(total_ties, state.ties_needed);
  const size_t row_slot = static_cast<size_t>(row) * a.max_chunks;
#pragma unroll
  for (int i = 0; i < kChunksPerThread; ++i) {
    const int c = tid * kChunksPerThread + i;
    if (c < chunks) {
      a.chunk_less[row_slot + c] = less[i];
      a.chunk_tie[row_slot + c] = tie[i];
      a.chunk_offset[row_slot + c] = offset[i];
      a.chunk_taken[row_slot + c] = taken[i];
    }
  }
  if (tid == 0) {
    int32_t* out = a.indices + static_cast<size_t>(row) * a.capacity;
    out[kept] = n - 1;  // the current token closes the list
    a.counts[row] = kept + 1;
    a.asym_tally[row] = 0;
  }
}

// Pair tables of the row's heads for the fused kernel, laid out for wide shared loads: heads are
// taken kWidth at a time (1 or 2: one 32- or 64-bit load serves the group), layout
// [group][pair][level pair n][kWidth] floats. A group's 16 entries of a pair are 64 * kWidth
// consecutive bytes; all lanes of a warp read the same pair at once, so a load is one wavefront.
// Why not 4 heads per 128-bit load: the same shared bandwidth per head (two wavefronts), and the
// 32 lane sums per token spill at 128 registers (ptxas -v). Slots past the last head hold zeros
// and are never compared.
template <int D, int HEADS>
struct GroupTable {
  static constexpr int kWidth = HEADS == 1 ? 1 : 2;
  static constexpr int kLog2Width = kWidth == 1 ? 0 : 1;
  static constexpr int kGroups = (HEADS + kWidth - 1) / kWidth;
  static constexpr int kPairs = D / 2;
  static constexpr int kPairBytes = 16 * kWidth * 4;
  static constexpr int kGroupBytes = kPairs * kPairBytes;
  static constexpr size_t kTableBytes = static_cast<size_t>(kGroups) * kGroupBytes;
  static constexpr size_t kQueryBytes = static_cast<size_t>(HEADS) * D * 4;  // the rotated queries, after
};

// Dynamic shared memory of the fused kernel: the group tables, the rotated queries, then one 32-bit
// slot per candidate of the part, [PART / 512][512]: a candidate's code position until its code is
// loaded, its key after it is scored (until the bound is known).
template <int D, int HEADS, int PART>
constexpr size_t fused_shared_bytes() {
  return GroupTable<D, HEADS>::kTableBytes + GroupTable<D, HEADS>::kQueryBytes + static_cast<size_t>(PART) * 4;
}

// The closing block stages the row's list in the same dynamic storage (finish_row), so a kernel's
// dynamic storage is at least (with_stage): with one head a row 80 KiB (10240 entries: a row's
// list at 128K in blocks of 8192), which still lets two blocks share an SM (2 x 97 KiB with the
// static histogram); with a group (one block per SM: registers) 160 KiB, for the two-pass
// kernel's longer lists (every rescored candidate is listed: about 9-10K entries at 128K).
template <int HEADS>
constexpr size_t with_stage(size_t bytes) {
  constexpr size_t kMinStageBytes = (HEADS == 1 ? 10240 : 20480) * sizeof(uint2);
  return bytes > kMinStageBytes ? bytes : kMinStageBytes;
}
template <int D, int HEADS, int PART>
constexpr size_t fused_dynamic_bytes() {
  return with_stage<HEADS>(fused_shared_bytes<D, HEADS, PART>());
}
template <int D, int HEADS, int PART>
constexpr int kStageCapacity = static_cast<int>(fused_dynamic_bytes<D, HEADS, PART>() / sizeof(uint2));

template <int W>
struct Entries;  // the kWidth floats of one table entry, loaded at once (LDS.32 / LDS.64)
template <>
struct Entries<1> {
  float v[1];
  __device__ __forceinline__ explicit Entries(const char* p) { v[0] = *reinterpret_cast<const float*>(p); }
};
template <>
struct Entries<2> {
  float v[2];
  __device__ __forceinline__ explicit Entries(const char* p) {
    const float2 e = *reinterpret_cast<const float2*>(p);
    v[0] = e.x;
    v[1] = e.y;
  }
};
// The canonical per-head lane sums (code_scores.h) of one token for one group of heads: for code
// byte b, s_b = table[2b][low nibble] + table[2b + 1][high nibble], added to lane b mod 8. The
// entries' byte offsets (nibble * 4 * kWidth) are made for four bytes at once by one shift and mask,
// then picked out byte by byte (PRMT), so the shared loads need no further address arithmetic.
template <int D, int HEADS>
__device__ __forceinline__ void score_group(const char* group_table, const uint4 (&code)[D / 64],
                                            float (&lane)[GroupTable<D, HEADS>::kWidth][8]) {
  using T = GroupTable<D, HEADS>;
  constexpr int kShift = 2 + T::kLog2Width;
  constexpr uint32_t kMask = 0x0f0f0f0fu << kShift;
#pragma unroll
  for (int w = 0; w < D / 16; ++w) {
    uint32_t word = code_word(code, w);
    // Opaque per group: otherwise the byte offsets (the same for every group) are hoisted out of
    // the groups loop and all held across it, which spills (ptxas -v).
    if constexpr (T::kGroups > 1) asm volatile("" : "+r"(word));
    const uint32_t lo_offsets = (word << kShift) & kMask;
    const uint32_t hi_offsets = (word >> (4 - kShift)) & kMask;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int b = 4 * w + k;
      const uint32_t lo = __byte_perm(lo_offsets, 0u, 0x4440u | k), hi = __byte_perm(hi_offsets, 0u, 0x4440u | k);
      const Entries<T::kWidth> first(group_table + (2 * b) * T::kPairBytes + lo);
      const Entries<T::kWidth> second(group_table + (2 * b + 1) * T::kPairBytes + hi);
#pragma unroll
      for (int h = 0; h < T::kWidth; ++h)
        lane[h][b & 7] = __fadd_rn(lane[h][b & 7], __fadd_rn(first.v[h], second.v[h]));
    }
  }
}

// Tables of the row's heads: warp h rotates head h's query, which it loaded into v beforehand
// (warp_hadamard_load; the load is issued first thing in the kernel, so its latency overlaps the
// code positions), and stores q' (scaled) in `rotated`; after a barrier every thread builds table
// entries, one per (group, pair, level pair, slot) in layout order, so consecutive threads write
// consecutive words. Slots past the last head get zeros. One barrier inside; the caller
// synchronizes after.
template <int D, int HEADS>
__device__ __forceinline__ void build_group_tables(const SelectArgs& a, float (&v)[warp_hadamard_per_lane<D>()],
                                                   float scale, float* rotated, char* table) {
  using T = GroupTable<D, HEADS>;
  constexpr int kPerLane = warp_hadamard_per_lane<D>();
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  if (warp < HEADS) {
    warp_hadamard_rotate<D>(v);
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) rotated[warp * D + lane * kPerLane + k] = __fmul_rn(v[k], scale);
  }
  __syncthreads();
  float* entries = reinterpret_cast<float*>(table);
  constexpr int kEntries = T::kGroups * T::kPairs * 16 * T::kWidth;
  for (int e = threadIdx.x; e < kEntries; e += kThreads) {
    const int slot = e % T::kWidth, n = (e / T::kWidth) & 15, pair = (e / (16 * T::kWidth)) % T::kPairs;
    const int head = (e / (T::kPairs * 16 * T::kWidth)) * T::kWidth + slot;
    float entry = 0.0f;
    if (head < HEADS) {
      const float q0 = rotated[head * D + 2 * pair], q1 = rotated[head * D + 2 * pair + 1];
      entry = __fadd_rn(__fmul_rn(q0, a.centroids[n & 3]), __fmul_rn(q1, a.centroids[n >> 2]));
    }
    entries[e] = entry;
  }
}

// One block's part of its row (the fused kernels' grid: x = part, y = row).
struct RowPart {
  int row, seq, n, candidates;
  int chunks, parts;            // of the row: chunks of 4096 (finish_row, compact) and parts of PART
  int part_begin, part_end;     // this block's candidates
  int kv_head;
  const int32_t* pages;         // the sequence's page table row
};

// Sets up the block's part and issues the loads of the row's queries (warp h < HEADS: head h, the
// layout of warp_hadamard_load) first thing, so that their latency overlaps the code positions.
// False when the block has nothing to do: begin_row settled the row (dense or empty), or the part
// lies past the row's candidates (such blocks do not count for the row's ticket). With clusters, a
// block past them whose cluster starts within them takes part in the cluster's barriers as an
// empty part (part_begin == part_end == candidates), and takes no ticket either.
template <int D, int HEADS, int PART>
__device__ __forceinline__ bool begin_part(const SelectArgs& a, RowPart& p, float (&query)[warp_hadamard_per_lane<D>()]) {
  p.row = blockIdx.y;
  p.seq = p.row / a.rows_per_seq;
  const int r = p.row % a.rows_per_seq;
  p.n = a.seq_lens[p.seq];
  p.candidates = row_candidates(a, p.n);
  if (!begin_row(a, p.row, p.seq, r, p.candidates)) return false;
  p.chunks = ceil_div(p.candidates, kAsymChunk);
  p.parts = ceil_div(p.candidates, PART);
  const int cluster_size = cluster_blocks();  // read again where needed: one register fewer held
  if (static_cast<int>(blockIdx.x) / cluster_size * cluster_size >= p.parts) return false;
  p.part_begin = min(p.candidates, static_cast<int>(blockIdx.x) * PART);
  p.part_end = min(p.candidates, p.part_begin + PART);
  p.kv_head = row_kv_head_dev(a, r);
  p.pages = a.page_table + static_cast<size_t>(p.seq) * a.max_pages_per_seq;
  const int first_head = row_first_q_head_dev(a, r);
  if (static_cast<int>(threadIdx.x) / 32 < HEADS)
    warp_hadamard_load<D>(a.q + (static_cast<size_t>(p.seq) * a.num_q_heads + first_head + threadIdx.x / 32) * D, query);
  return true;
}

// Code position, in 16-byte units, of the token at (page_index, in_page) of the part's row:
// ((page * kv heads + kv head) * page size + offset in page) * D / 64.
template <int kVecs>
__device__ __forceinline__ uint32_t code_position(const SelectArgs& a, const RowPart& p, uint32_t page_index,
                                                  uint32_t in_page) {
  const uint32_t page = static_cast<uint32_t>(__ldg(p.pages + page_index));
  return ((page * a.num_kv_heads + static_cast<uint32_t>(p.kv_head)) * a.page_size + in_page) * kVecs;
}

// This thread's candidates j * 512 + tid of the part, j < kMine: their code positions into their
// slots (page and offset by multiply-high: page_divisor.h). Candidates past the part's end read
// token 0's code (valid memory) and are not counted.
template <int kMine, int kVecs>
__device__ __forceinline__ void place_codes(const SelectArgs& a, const RowPart& p, uint32_t (*slot)[kThreads]) {
  const int tid = threadIdx.x;
#pragma unroll
  for (int j = 0; j < kMine; ++j) {
    const int token = p.part_begin + j * kThreads + tid;
    const int t = token < p.part_end ? token : 0;
    slot[j][tid] = code_position<kVecs>(a, p, a.pages.page(t), a.pages.offset(t));
  }
}

// The code of this thread's candidate j, from the position in its slot (each thread reads only
// its own slots: no barrier between writing and reading them).
template <int kVecs>
__device__ __forceinline__ void load_slot_code(const SelectArgs& a, const uint32_t (*slot)[kThreads], int j,
                                               uint4 (&code)[kVecs]) {
  const uint4* codes = reinterpret_cast<const uint4*>(a.key_codes) + slot[j][threadIdx.x];
#pragma unroll
  for (int v = 0; v < kVecs; ++v) code[v] = __ldg(codes + v);
}

// One block per (part of PART candidates, row); candidate j * 512 + tid of the part, j < PART / 512,
// is this thread's (lanes of a warp read consecutive 16-byte code pieces). Page ids are read and
// code positions computed for all of them first (into the candidates' shared slots); each code is
// loaded one candidate ahead of its scoring. (A cp.async ring in shared memory instead, 2
// candidates ahead: slower on the H200, 100 vs 82 us at 128K, MIO stalls: the copies queue with the
// table loads.) One block of 512 threads per SM with a group of heads (up to 128 registers: the
// group's lane sums), two with one head (64 registers). PART trades the per-block work (queries,
// tables, bound, list, ticket) against parallelism: 2048 where a grid of 4096-candidate blocks
// would leave SMs idle, 8192 where it runs for several waves (asymmetric_part, cuda_backend.cu).
template <int D, int HEADS, int PART>
__global__ __launch_bounds__(kThreads, HEADS == 1 ? 2 : 1) void asymmetric_fused_kernel(SelectArgs a, float scale) {
  using T = GroupTable<D, HEADS>;
  constexpr int kMine = PART / kThreads;  // candidates per thread
  static_assert(kMine * kThreads == PART && (PART % kAsymChunk == 0 || kAsymChunk % PART == 0),
                "a part is whole chunks or a whole fraction of one");
  extern __shared__ __align__(16) char table[];  // GroupTable<D, HEADS> layout, q' [HEADS][D], slots
  uint32_t(*slot)[kThreads] = reinterpret_cast<uint32_t(*)[kThreads]>(table + T::kTableBytes + T::kQueryBytes);
  __shared__ Shared sh;
  constexpr int kVecs = D / 64;
  grid_dependency_trigger();  // lets a programmatically launched compact kernel be scheduled early
  const int tid = threadIdx.x;
  RowPart part;
  float query[warp_hadamard_per_lane<D>()];  // warp h < HEADS: its part of head h's query
  if (!begin_part<D, HEADS, PART>(a, part, query)) return;
  const auto [row, seq, n, candidates, chunks, parts, part_begin, part_end, kv_head, pages] = part;

  auto token = [&](int j) { return part_begin + j * kThreads + tid; };
  // The chunk of 4096 of candidate j (part_begin + j * 512 is a multiple of 512, so tid does not
  // change it).
  auto chunk_of = [&](int j) { return (part_begin + j * kThreads) / kAsymChunk; };
  place_codes<kMine, kVecs>(a, part, slot);
  auto load_code = [&](int j, uint4 (&code)[kVecs]) { load_slot_code<kVecs>(a, slot, j, code); };

  uint4 code[kVecs], next[kVecs];
  load_code(0, code);
  clear_bins(sh, kBins);
  if (tid == 0) sh.bound = kBins - 1;  // no bound when the part holds fewer than keep candidates
  build_group_tables<D, HEADS>(a, query, scale, reinterpret_cast<float*>(table + T::kTableBytes), table);
  __syncthreads();
  if (a.asym_probe == 1) return;

  uint32_t* out = a.score_keys + static_cast<size_t>(row) * a.candidate_stride;
  // Candidates unrolled 8 at a time with one head (about 250 instructions each), 2 with a group (4
  // heads: about 1,100): fully unrolled, 16 candidates of a group of 4 overflow the instruction cache
  // (H200: 83 us at 128K with 8192 per block against 62 with 4096).
  constexpr int kUnroll = HEADS == 1 ? (kMine < 8 ? kMine : 8) : 2;
#pragma unroll(kUnroll)
  for (int j = 0; j < kMine; ++j) {
    if (j + 1 < kMine) load_code(j + 1, next);
    float best = -INFINITY;
    // One or two groups unrolled at d <= 128 (the table offsets become immediates); otherwise a
    // loop, so that one group's lane sums live at a time (unrolled at d 256 it spills: ptxas -v).
#pragma unroll(T::kGroups <= 2 && D <= 128 ? T::kGroups : 1)
    for (int g = 0; g < T::kGroups; ++g) {
      float lane[T::kWidth][8] = {};
      score_group<D, HEADS>(table + g * T::kGroupBytes, code, lane);
#pragma unroll
      for (int h = 0; h < T::kWidth; ++h) {
        if (g * T::kWidth + h >= HEADS) break;
        const float score = reduce_lanes_asym(lane[h]);
        best = best < score ? score : best;  // std::max(best, score), heads in order
      }
    }
    const uint32_t key = score_order_key(best);
    // The key stays in shared memory until the bound is known (8 registers fewer: at 64, ptxas
    // otherwise sank the next candidate's code loads to their use).
    slot[j][tid] = key;
    // Branch-free (a branch here ends ptxas's scheduling region, and the next candidate's loads
    // were sunk to their use): candidates past the part's end add 0 and store nothing.
    const bool valid = token(j) < part_end;
    if (valid) out[token(j)] = key;
    atomicAdd(&sh.bins[key >> 20], valid ? 1 : 0);
    if (j + 1 < kMine) {
#pragma unroll
      for (int v = 0; v < kVecs; ++v) code[v] = next[v];
    }
  }
  __syncthreads();
  if (a.asym_probe == 2) return;
  // The part's bound b_c: its (or its cluster's) keep-th smallest 12-bit digit.
  const int keep = row_keep(a);
  const uint32_t bound = static_cast<uint32_t>(part_bound(sh, keep));
  if (a.asym_probe == 3) return release_cluster();
  // The entries go to the row's list warp by warp: a warp's offsets by a shuffle scan, its range by
  // one atomic on the row's tally (no block scan, no barrier; the list is a set, in any order).
  int mine = 0;
#pragma unroll
  for (int k = 0; k < kMine; ++k) mine += token(k) < part_end && (slot[k][tid] >> 20) <= bound;
  const int lane = tid & 31;
  int through = mine;  // inclusive prefix over the warp's lanes
#pragma unroll
  for (int offset = 1; offset < 32; offset <<= 1) {
    const int before = __shfl_up_sync(0xffffffffu, through, offset);
    if (lane >= offset) through += before;
  }
  int warp_base = 0;
  if (lane == 31 && through > 0) warp_base = reserve_entries(a, row, through);
  warp_base = __shfl_sync(0xffffffffu, warp_base, 31);
  uint2* list = a.asym_list + static_cast<size_t>(row) * a.candidate_stride + warp_base + through - mine;
#pragma unroll
  for (int k = 0; k < kMine; ++k)
    if (token(k) < part_end && (slot[k][tid] >> 20) <= bound) *list++ = make_uint2(slot[k][tid], chunk_of(k));
  release_cluster();
  if (part_begin == part_end || !last_block_of_row(a, row, parts, sh)) return;
  finish_row(a, row, n, candidates, chunks, sh, reinterpret_cast<uint2*>(table), kStageCapacity<D, HEADS, PART>);
}

// ---------------------------------------------------------------------------------------------
// Variant "twopass" (ADAMAS_ASYM_VARIANT=twopass): the same selection as the fused kernel, bit for
// bit, from an integer first pass. Integer pair tables hold each head's float entries quantized,
// per head, to steps of range / kMaxEntry (range: the largest spread of one pair's 16 entries),
// uint16, four heads per 64-bit load, summed two heads per 32-bit add (kMaxEntry * pairs < 2^16: no
// carry between the halves). A head's integer score S times its step plus the sum of the pairs'
// minima is within B_h of its exact float score (about half a step per pair, plus float rounding:
// build_int_tables), so the maximum over heads is within B = max B_h. With low <= the part's (or
// its cluster's) keep-th largest approximate score, every candidate of that set's exact top keep
// (and so of the row's, ties included) has approx >= low - 2B: only those are rescored with the
// float tables (code_scores.h's order) and listed; the others get key 0xffffffff, below the row's
// threshold since their exact score is below the set's keep-th. Why: the float pass reads 1 KiB
// of table entries per token with four heads (shared-memory bound at 128K), the integer pass half;
// on random keys a few hundred candidates per block are rescored (scripts/asym_two_pass_band.py).
template <int D, int HEADS>
struct IntTable {
  static constexpr int kPairs = D / 2;
  static constexpr int kQuads = (HEADS + 3) / 4;           // groups of four heads, one 64-bit load each
  static constexpr uint32_t kMaxEntry = 65535u / kPairs;   // 1023 at d 128
  static constexpr int kQuadBytes = kPairs * 16 * 8;        // [pair][level pair][4 x uint16]
  static constexpr size_t kBytes = static_cast<size_t>(kQuads) * kQuadBytes;
  // Per head: step, base (sum of the pairs' minima), error bound B_h; then the pairs' minima
  // [HEADS][kPairs].
  static constexpr int kParams = 3;
  static constexpr size_t kParamBytes = static_cast<size_t>(HEADS) * (kParams + kPairs) * 4;
};

template <int D, int HEADS, int PART>
constexpr size_t two_pass_shared_bytes() {
  return with_stage<HEADS>(fused_shared_bytes<D, HEADS, PART>() + IntTable<D, HEADS>::kBytes +
                           IntTable<D, HEADS>::kParamBytes);
}

// The score of order key `key` (score_order_key's inverse).
__device__ __forceinline__ float order_key_score(uint32_t key) {
  const uint32_t ascending = ~key;
  return __uint_as_float((ascending & 0x80000000u) ? (ascending & 0x7fffffffu) : ~ascending);
}

// Float entry (head, pair, level pair n) of the GroupTable layout.
template <int D, int HEADS>
__device__ __forceinline__ float group_entry(const char* table, int head, int pair, int n) {
  using T = GroupTable<D, HEADS>;
  return *reinterpret_cast<const float*>(table + (head / T::kWidth) * T::kGroupBytes + pair * T::kPairBytes +
                                         n * 4 * T::kWidth + (head % T::kWidth) * 4);
}

// Integer tables from the float tables (built, synchronized): warp h < HEADS finds head h's pair
// minima, step, base and error bound; after a barrier all threads write the entries. Synchronizes
// before return.
// The bound B_h on |approximate - exact score| of head h, with u = 2^-24 and M_h = the sum over
// pairs of the largest |entry|: quantization, each pair's entry within (1/2 + 1.3e-4) steps of
// (entry - minimum) (the subtraction and the division round by at most 2u relative, on values up
// to kMaxEntry steps; no clamp bites below kMaxEntry + 1/2), so pairs * 0.5002 * step; float
// rounding: the exact score's sum (code_scores.h's tree: at most 8 roundings deep) within 8u M_h,
// the base's (6 deep) within 6u M_h, the fma's one rounding within 2u M_h; 2e-6 M_h covers the
// 16u M_h twice. (Until the twelfth session B was pairs * step: twice as wide.)
template <int D, int HEADS>
__device__ __forceinline__ void build_int_tables(const char* table, uint16_t* entries, float* params) {
  using I = IntTable<D, HEADS>;
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  float* minima = params + I::kParams * HEADS;
  if (warp < HEADS) {
    float spread = 0.0f, base = 0.0f, magnitude = 0.0f;
    for (int pair = lane; pair < I::kPairs; pair += 32) {
      float low = group_entry<D, HEADS>(table, warp, pair, 0), high = low;
      for (int n = 1; n < 16; ++n) {
        const float e = group_entry<D, HEADS>(table, warp, pair, n);
        low = fminf(low, e);
        high = fmaxf(high, e);
      }
      minima[warp * I::kPairs + pair] = low;
      spread = fmaxf(spread, high - low);
      base += low;
      magnitude += fmaxf(fabsf(low), fabsf(high));
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
      spread = fmaxf(spread, __shfl_xor_sync(0xffffffffu, spread, offset));
      base += __shfl_xor_sync(0xffffffffu, base, offset);
      magnitude += __shfl_xor_sync(0xffffffffu, magnitude, offset);
    }
    if (lane == 0) {
      const float step = spread > 0.0f ? spread / static_cast<float>(I::kMaxEntry) : 1.0f;
      params[I::kParams * warp] = step;
      params[I::kParams * warp + 1] = base;
      params[I::kParams * warp + 2] = static_cast<float>(I::kPairs) * 0.5002f * step + 2e-6f * magnitude;
    }
  }
  __syncthreads();
  constexpr int kEntries = I::kQuads * I::kPairs * 16 * 4;
  for (int e = threadIdx.x; e < kEntries; e += kThreads) {
    const int slot = e & 3, n = (e >> 2) & 15, pair = (e >> 6) % I::kPairs, head = (e / (64 * I::kPairs)) * 4 + slot;
    uint32_t value = 0;
    if (head < HEADS) {
      const float scaled = (group_entry<D, HEADS>(table, head, pair, n) - minima[head * I::kPairs + pair]) / params[I::kParams * head];
      value = min(I::kMaxEntry, static_cast<uint32_t>(fmaxf(0.0f, rintf(scaled))));
    }
    entries[e] = static_cast<uint16_t>(value);
  }
  __syncthreads();
}

// The approximate score of one token (maximum over the row's heads of S_h * step_h + base_h).
template <int D, int HEADS>
__device__ __forceinline__ float approx_score(const char* int_table, const float* params, const uint4 (&code)[D / 64]) {
  using I = IntTable<D, HEADS>;
  float best = -INFINITY;
#pragma unroll
  for (int quad = 0; quad < I::kQuads; ++quad) {
    const char* base = int_table + quad * I::kQuadBytes;
    uint32_t sum01 = 0, sum23 = 0;  // heads 4q, 4q+1 and 4q+2, 4q+3 in 16-bit halves
#pragma unroll
    for (int w = 0; w < D / 16; ++w) {
      const uint32_t word = code_word(code, w);
      const uint32_t lo_offsets = (word << 3) & 0x78787878u, hi_offsets = (word >> 1) & 0x78787878u;
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const int b = 4 * w + k;
        const uint2 first = *reinterpret_cast<const uint2*>(base + (2 * b) * 128 + __byte_perm(lo_offsets, 0u, 0x4440u | k));
        const uint2 second = *reinterpret_cast<const uint2*>(base + (2 * b + 1) * 128 + __byte_perm(hi_offsets, 0u, 0x4440u | k));
        sum01 += first.x + second.x;
        sum23 += first.y + second.y;
      }
    }
    const uint32_t sums[4] = {sum01 & 0xffffu, sum01 >> 16, sum23 & 0xffffu, sum23 >> 16};
#pragma unroll
    for (int h = 0; h < 4; ++h) {
      const int head = quad * 4 + h;
      if (head < HEADS)
        best = fmaxf(best, __fmaf_rn(static_cast<float>(sums[h]), params[I::kParams * head], params[I::kParams * head + 1]));
    }
  }
  return best;
}

template <int D, int HEADS, int PART>
__global__ __launch_bounds__(kThreads, 1) void asymmetric_two_pass_kernel(SelectArgs a, float scale) {
  using T = GroupTable<D, HEADS>;
  using I = IntTable<D, HEADS>;
  constexpr int kMine = PART / kThreads;
  static_assert(kMine * kThreads == PART && kMine <= 32, "a mask bit per candidate of a thread");
  extern __shared__ __align__(16) char table[];  // GroupTable, q', slots [kMine][512], int tables, params
  uint32_t(*slot)[kThreads] = reinterpret_cast<uint32_t(*)[kThreads]>(table + T::kTableBytes + T::kQueryBytes);
  char* int_table = table + T::kTableBytes + T::kQueryBytes + static_cast<size_t>(PART) * 4;
  float* params = reinterpret_cast<float*>(int_table + I::kBytes);
  __shared__ Shared sh;
  __shared__ int queued;
  constexpr int kVecs = D / 64;
  grid_dependency_trigger();
  const int tid = threadIdx.x;
  RowPart part;
  float query[warp_hadamard_per_lane<D>()];  // warp h < HEADS: its part of head h's query
  if (!begin_part<D, HEADS, PART>(a, part, query)) return;
  const auto [row, seq, n, candidates, chunks, parts, part_begin, part_end, kv_head, pages] = part;
  auto token = [&](int j) { return part_begin + j * kThreads + tid; };
  place_codes<kMine, kVecs>(a, part, slot);
  auto load_code = [&](int j, uint4 (&code)[kVecs]) { load_slot_code<kVecs>(a, slot, j, code); };
  uint4 code[kVecs], next[kVecs];
  load_code(0, code);
  clear_bins(sh, kBins);
  if (tid == 0) {
    sh.bound = kBins - 1;
    queued = 0;
  }
  build_group_tables<D, HEADS>(a, query, scale, reinterpret_cast<float*>(table + T::kTableBytes), table);
  __syncthreads();
  build_int_tables<D, HEADS>(table, reinterpret_cast<uint16_t*>(int_table), params);
  if (a.asym_probe == 1) return;

  // Pass 1: approximate scores (as float bits in the slots), their order keys' histogram. No key is
  // stored yet (so that a cluster barrier's release has no stores to wait for; measured neither
  // faster nor slower): candidates not rescored get 0xffffffff after the bound, rescored ones their
  // key.
  uint32_t* out = a.score_keys + static_cast<size_t>(row) * a.candidate_stride;
#pragma unroll 2
  for (int j = 0; j < kMine; ++j) {
    if (j + 1 < kMine) load_code(j + 1, next);
    const float approx = approx_score<D, HEADS>(int_table, params, code);
    slot[j][tid] = __float_as_uint(approx);
    atomicAdd(&sh.bins[score_order_key(approx) >> 20], token(j) < part_end ? 1 : 0);
    if (j + 1 < kMine) {
#pragma unroll
      for (int v = 0; v < kVecs; ++v) code[v] = next[v];
    }
  }
  __syncthreads();
  if (a.asym_probe == 2) return;
  const int keep = row_keep(a);
  const int bound = part_bound(sh, keep);
  if (a.asym_probe == 3) return release_cluster();
  // low: the smallest approximate score of the bound's bin, <= the part's (or its cluster's)
  // keep-th largest; no bound (fewer than keep candidates, or all in the last bin): every
  // candidate is rescored.
  float error = 0.0f;  // B = the largest head bound: |approx - exact| of the maximum over heads
  for (int h = 0; h < HEADS; ++h) error = fmaxf(error, params[I::kParams * h + 2]);
  // 2B, and 1e-5 relative for the roundings of the cut's own arithmetic.
  const float low = order_key_score((static_cast<uint32_t>(bound) << 20) | 0xfffffu);
  const float cut = bound == kBins - 1 || isnan(low) ? -INFINITY : low - 2.0f * error - 1e-5f * (fabsf(low) + error);
  uint32_t rescore = 0;  // bit j: candidate j of this thread
#pragma unroll
  for (int j = 0; j < kMine; ++j) {
    if (token(j) >= part_end) continue;
    if (__uint_as_float(slot[j][tid]) < cut) out[token(j)] = 0xffffffffu;
    else rescore |= 1u << j;
  }
  __syncthreads();  // the slots become the queue of candidates to rescore (index in the part)
  uint32_t* queue = &slot[0][0];
  for (uint32_t m = rescore; m != 0; m &= m - 1) {
    const int j = __ffs(m) - 1;
    queue[atomicAdd(&queued, 1)] = static_cast<uint32_t>(j * kThreads + tid);
  }
  __syncthreads();
  // Pass 2: exact keys of the queued candidates, written to score_keys and to the row's list.
  const int total = queued;
  const int lane = tid & 31;
  for (int base = 0; base < total; base += kThreads) {
    const int q = base + tid;
    uint32_t key = 0xffffffffu;
    int t = 0;
    if (q < total) {
      t = part_begin + static_cast<int>(queue[q]);
      const uint4* token_code = reinterpret_cast<const uint4*>(a.key_codes) +
                                code_position<kVecs>(a, part, a.pages.page(t), a.pages.offset(t));
#pragma unroll
      for (int v = 0; v < kVecs; ++v) code[v] = __ldg(token_code + v);
      float best = -INFINITY;
      for (int g = 0; g < T::kGroups; ++g) {
        float lanes[T::kWidth][8] = {};
        score_group<D, HEADS>(table + g * T::kGroupBytes, code, lanes);
#pragma unroll
        for (int h = 0; h < T::kWidth; ++h) {
          if (g * T::kWidth + h >= HEADS) break;
          const float score = reduce_lanes_asym(lanes[h]);
          best = best < score ? score : best;
        }
      }
      key = score_order_key(best);
      out[t] = key;
    }
    // Warp-wise append (see the fused kernel), one entry per queued candidate.
    const unsigned listed = __ballot_sync(0xffffffffu, q < total);
    int warp_base = 0;
    if (lane == 0 && listed) warp_base = reserve_entries(a, row, __popc(listed));
    warp_base = __shfl_sync(0xffffffffu, warp_base, 0);
    if (q < total)
      a.asym_list[static_cast<size_t>(row) * a.candidate_stride + warp_base + __popc(listed & ((1u << lane) - 1))] =
          make_uint2(key, static_cast<uint32_t>(t / kAsymChunk));
  }
  release_cluster();
  if (part_begin == part_end || !last_block_of_row(a, row, parts, sh)) return;
  finish_row(a, row, n, candidates, chunks, sh, reinterpret_cast<uint2*>(table), kStageCapacity<D, HEADS, PART>);
}

using FusedKernel = void (*)(SelectArgs, float);

// use(kernel, dynamic shared bytes, PART) with `kernel`'s shared-memory limit raised (once).
template <FusedKernel kernel, size_t kBytes, int PART, typename Use>
void use_configured(Use use) {
  static const bool configured = [] {
    ADAMAS_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(kBytes)));
    return true;
  }();
  (void)configured;
  use(kernel, kBytes, PART);
}

template <int D, int HEADS, int PART, typename Use>
void with_kernel_part(bool two_pass, Use use) {
  if (two_pass)
    use_configured<asymmetric_two_pass_kernel<D, HEADS, PART>, two_pass_shared_bytes<D, HEADS, PART>(), PART>(use);
  else
    use_configured<asymmetric_fused_kernel<D, HEADS, PART>, fused_dynamic_bytes<D, HEADS, PART>(), PART>(use);
}

template <int D, int HEADS, typename Use>
void with_kernel_heads(const AsymFusedLaunch& how, Use use) {
  switch (how.part) {
    case 2048: with_kernel_part<D, HEADS, 2048>(how.two_pass, use); break;
    case 8192: with_kernel_part<D, HEADS, 8192>(how.two_pass, use); break;
    case 16384:  // one head a row, float kernel only (asymmetric_part)
      if constexpr (HEADS == 1) {
        if (!how.two_pass) {
          use_configured<asymmetric_fused_kernel<D, 1, 16384>, fused_dynamic_bytes<D, 1, 16384>(), 16384>(use);
          break;
        }
      }
      throw Error(detail::concat("CUDA asymmetric (fused): 16384 candidates per block need one query head per row and the ",
                                 "float kernel (", HEADS, " heads per row", how.two_pass ? ", two-pass" : "", ")"));
    default: with_kernel_part<D, HEADS, 4096>(how.two_pass, use); break;
  }
}

template <int D, typename Use>
void with_kernel_dim(int heads_per_row, const AsymFusedLaunch& how, Use use) {
  switch (heads_per_row) {
    case 1: with_kernel_heads<D, 1>(how, use); break;
    case 2: with_kernel_heads<D, 2>(how, use); break;
    case 3: with_kernel_heads<D, 3>(how, use); break;
    case 4: with_kernel_heads<D, 4>(how, use); break;
    case 5: with_kernel_heads<D, 5>(how, use); break;
    case 6: with_kernel_heads<D, 6>(how, use); break;
    case 7: with_kernel_heads<D, 7>(how, use); break;
    case 8: with_kernel_heads<D, 8>(how, use); break;
    default: throw Error(detail::concat("CUDA asymmetric: ", heads_per_row, " query heads per row (1..", kMaxGroup, ")"));
  }
}

// use(kernel, dynamic shared bytes, PART) with the fused kernel that `how` names for the shape.
template <typename Use>
void with_fused_kernel(int head_dim, int heads_per_row, const AsymFusedLaunch& how, Use use) {
  ADAMAS_CHECK(how.part == 2048 || how.part == 4096 || how.part == 8192 || how.part == 16384,
               "CUDA asymmetric (fused): candidates per block must be 2048, 4096, 8192 or 16384, got ", how.part);
  ADAMAS_CHECK(how.cluster == 1 || how.cluster == 2 || how.cluster == kMaxCluster,
               "CUDA asymmetric (fused): blocks per cluster must be 1, 2 or 4, got ", how.cluster);
  switch (head_dim) {
    case 64: with_kernel_dim<64>(heads_per_row, how, use); break;
    case 128: with_kernel_dim<128>(heads_per_row, how, use); break;
    case 256: with_kernel_dim<256>(heads_per_row, how, use); break;
    default: throw Error(detail::concat("CUDA asymmetric: head_dim ", head_dim, " not supported (64, 128, 256)"));
  }
}

// Launch configuration over (parts, rows) blocks; with cluster > 1 in clusters of that many
// consecutive parts of a row (the parts rounded up to whole clusters: begin_part). `attribute`
// must outlive the configuration's use.
cudaLaunchConfig_t parts_config(int parts, int rows, int cluster, size_t bytes, cudaStream_t stream,
                                cudaLaunchAttribute& attribute) {
  attribute = {};
  attribute.id = cudaLaunchAttributeClusterDimension;
  attribute.val.clusterDim.x = static_cast<unsigned>(cluster);
  attribute.val.clusterDim.y = 1;
  attribute.val.clusterDim.z = 1;
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(static_cast<unsigned>(ceil_div(parts, cluster) * cluster), static_cast<unsigned>(rows));
  config.blockDim = dim3(kThreads);
  config.dynamicSmemBytes = bytes;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = cluster > 1 ? 1 : 0;  // a plain launch without clusters
  return config;
}

}  // namespace fused

}  // namespace

void launch_asymmetric_score(const SelectArgs& args, int batch, int max_candidates, cudaStream_t stream) {
  ADAMAS_CHECK(args.heads_per_row >= 1 && args.heads_per_row <= kMaxGroup, "CUDA asymmetric: ", args.heads_per_row,
               " query heads per row (1..", kMaxGroup, ")");
  const dim3 grid(std::max(1, ceil_div(max_candidates, kAsymChunk)), batch * args.rows_per_seq);
  switch (args.head_dim) {
    case 64: launch_typed<64>(args, grid, stream); break;
    case 128: launch_typed<128>(args, grid, stream); break;
    case 256: launch_typed<256>(args, grid, stream); break;
    default: throw Error(detail::concat("CUDA asymmetric: head_dim ", args.head_dim, " not supported (64, 128, 256)"));
  }
  ADAMAS_CUDA_CHECK_LAUNCH();
}

void launch_asymmetric_fused_select(const SelectArgs& args, int batch, int max_candidates, const AsymFusedLaunch& how,
                                    cudaStream_t stream) {
  static_assert(fused::kBins > 0 && kAsymChunk == kListChunk, "compact_kernel writes the lists chunk by chunk");
  ADAMAS_CHECK(args.asym_list != nullptr, "CUDA asymmetric (fused): no candidate list workspace");
  fused::with_fused_kernel(args.head_dim, args.heads_per_row, how, [&](fused::FusedKernel kernel, size_t bytes, int part) {
    cudaLaunchAttribute attribute;
    const cudaLaunchConfig_t config = fused::parts_config(std::max(1, ceil_div(max_candidates, part)),
                                                          batch * args.rows_per_seq, how.cluster, bytes, stream, attribute);
    ADAMAS_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, args, hadamard_scale(args.head_dim)));
  });
  ADAMAS_CUDA_CHECK_LAUNCH();
}

int asymmetric_fused_active_clusters(int head_dim, int heads_per_row, const AsymFusedLaunch& how) {
  int clusters = 0;
  fused::with_fused_kernel(head_dim, heads_per_row, how, [&](fused::FusedKernel kernel, size_t bytes, int) {
    cudaLaunchAttribute attribute;
    const cudaLaunchConfig_t config = fused::parts_config(how.cluster, 1, how.cluster, bytes, nullptr, attribute);
    ADAMAS_CUDA_CHECK(cudaOccupancyMaxActiveClusters(&clusters, kernel, &config));
  });
  return clusters;
}

}  // namespace adamas::cuda
