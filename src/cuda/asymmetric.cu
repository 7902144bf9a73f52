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

#include <cub/block/block_scan.cuh>

#include "adamas/hadamard.h"
#include "cuda/launch.cuh"

namespace adamas::cuda {

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
      const int page = pages[t / a.page_size];
      const uint4* src = reinterpret_cast<const uint4*>(
          a.key_codes + ((static_cast<size_t>(page) * a.num_kv_heads + kv_head) * a.page_size + t % a.page_size) * (D / 4));
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
// L1 path does; compact_kernel (select.cu) then writes the lists. Grid (chunks of 4096, rows),
// 512 threads (2 blocks per SM: 32 warps), 8 candidates per thread in 4096 / (512 * kTok) tiles.
//  - Scores as above (same pair tables, same canonical order), HEADS a template parameter; the
//    first tile's code loads are issued before the tables are built. The key of every candidate
//    goes to score_keys (compact_kernel compares them with the threshold).
//  - A block histogram of the key's top 12 bits (shared, 4096 bins); its keep-th smallest bin b_c
//    (4095 when the chunk holds fewer than keep candidates). The row's keep-th smallest key lies in
//    a bin <= b_c for every chunk c, so the entries {key, chunk} of the chunk's keys in bins <= b_c
//    (about keep + a bin's worth) are all the last block needs: they are appended to the row's
//    list (a.asym_list, cursor in a.histogram[row * kHistStride], zero between launches).
//  - The row's last block (ticket): three digit passes over the list (bits 31..20, 19..8, 7..0,
//    each a shared histogram and a block scan) give the exact threshold T (the keep-th smallest
//    key), the count below it and the ties needed; one more pass counts per chunk the keys < T and
//    == T (every such key is in the list); then chunk offsets and ties taken (latest chunks first,
//    as assign_chunk_offsets), the closing index and the row count.
namespace fused {

constexpr int kThreads = 512;
constexpr int kBins = 4096;                    // 12-bit digits
constexpr int kBinsPerThread = kBins / kThreads;
constexpr int kKeys = kAsymChunk / kThreads;   // candidates per thread per chunk
constexpr int kChunksPerThread = 2;            // 1024 chunks of a row at most (kMaxChunkItems * 256)
static_assert(kChunksPerThread * kThreads == kMaxChunkItems * kSelectThreads, "one chunk slot per row chunk");
static_assert(2 * kMaxChunkItems * kSelectThreads <= kBins, "chunk counts reuse the histogram");
using Scan = cub::BlockScan<int, kThreads>;

// Tokens per thread per tile: 32 code words in registers for one head per row; 16 with a group
// (the group's work per token hides the loads, and 32 words spill at 64 registers, ptxas -v).
template <int D, int HEADS>
constexpr int tile_tokens() {
  return (D == 64 ? 8 : D == 128 ? 4 : 2) / (HEADS == 1 ? 1 : 2);
}

struct Shared {
  int bins[kBins];
  typename Scan::TempStorage scan;
  uint32_t prefix;
  int below, need, bound, list_base;
  bool is_last;
};

// Smallest bin whose inclusive count reaches `need` (bin 0 when need is 0) from the block-wide
// histogram `bins`; the finding thread calls found(bin, count before it). No bin when the total
// is below need. Synchronizes before returning.
template <typename Found>
__device__ __forceinline__ void find_bin(Shared& sh, int need, Found found) {
  int count[kBinsPerThread], sum = 0;
#pragma unroll
  for (int i = 0; i < kBinsPerThread; ++i) {
    count[i] = sh.bins[threadIdx.x * kBinsPerThread + i];
    sum += count[i];
  }
  int before = 0;
  Scan(sh.scan).ExclusiveSum(sum, before);
#pragma unroll
  for (int i = 0; i < kBinsPerThread; ++i) {
    const int b = threadIdx.x * kBinsPerThread + i;
    if (before + count[i] >= need && (b == 0 || before < need)) found(b, before);
    before += count[i];
  }
  __syncthreads();
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

__device__ void finish_row(const SelectArgs& a, int row, int n, int candidates, int chunks, Shared& sh) {
  const int tid = threadIdx.x;
  const int keep = row_keep(a);
  int32_t* cursor = a.histogram + static_cast<size_t>(row) * kHistStride;
  const int m = __ldcg(cursor);
  const uint2* list = a.asym_list + static_cast<size_t>(row) * a.candidate_stride;
  const bool take_all = keep >= candidates;
  // Lists of up to kHeld * kThreads entries (typical: chunks * (keep + a bin's worth)) are read
  // once into registers; longer ones are read again from L2 by every pass.
  constexpr int kHeld = 24;
  const bool held_all = m <= kHeld * kThreads;  // block-uniform
  uint2 held[kHeld];
#pragma unroll
  for (int k = 0; k < kHeld; ++k) {
    const int f = k * kThreads + tid;
    held[k] = held_all && f < m ? __ldcg(list + f) : make_uint2(0u, 0xffffffffu);
  }
  auto visit_entries = [&](auto visit) {
    if (held_all) {
#pragma unroll
      for (int k = 0; k < kHeld; ++k)
        if (held[k].y != 0xffffffffu) visit(held[k].x, static_cast<int>(held[k].y));
    } else {
      for_each_entry(list, m, visit);
    }
  };
  if (tid == 0) {
    sh.prefix = 0u;
    sh.below = 0;
    sh.need = keep;
  }
  if (!take_all) {
    // Digits: bits 31..20, 19..8, 7..0; only entries whose higher bits equal the prefix count.
#pragma unroll 1
    for (int pass = 0; pass < 3; ++pass) {
      const int shift = pass == 0 ? 20 : pass == 1 ? 8 : 0;
      const uint32_t digit_mask = pass == 2 ? 0xffu : 0xfffu;
      const uint32_t high_mask = pass == 0 ? 0u : ~0u << (shift + (pass == 2 ? 8 : 12));
      for (int b = tid; b < kBins; b += kThreads) sh.bins[b] = 0;
      __syncthreads();
      const uint32_t prefix = sh.prefix;
      visit_entries([&](uint32_t key, int) {
        if ((key & high_mask) == prefix) atomicAdd(&sh.bins[(key >> shift) & digit_mask], 1);
      });
      __syncthreads();
      const int need = sh.need;
      find_bin(sh, need, [&](int b, int before) {
        sh.prefix = prefix | (static_cast<uint32_t>(b) << shift);
        sh.below += before;
        sh.need = need - before;
      });
    }
  }
  __syncthreads();
  const RowSelectState state{sh.prefix, sh.below, sh.need, take_all ? 1 : 0};
  if (tid == 0) a.state[row] = state;
  // Per chunk: keys < T and == T (the histogram's storage, zeroed first).
  int* chunk_less = sh.bins;
  int* chunk_tie = sh.bins + kChunksPerThread * kThreads;
  for (int b = tid; b < 2 * kChunksPerThread * kThreads; b += kThreads) sh.bins[b] = 0;
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
  // Offsets: ties from the latest chunks first (assign_chunk_offsets, for 512 threads).
  int less[kChunksPerThread], tie[kChunksPerThread];
#pragma unroll
  for (int i = 0; i < kChunksPerThread; ++i) {
    const int c = tid * kChunksPerThread + i;
    less[i] = c < chunks ? chunk_less[c] : 0;
    tie[i] = c < chunks ? chunk_tie[c] : 0;
  }
  int ties_through[kChunksPerThread], total_ties;
  Scan(sh.scan).InclusiveSum(tie, ties_through, total_ties);
  __syncthreads();
  int output[kChunksPerThread], taken[kChunksPerThread];
#pragma unroll
  for (int i = 0; i < kChunksPerThread; ++i) {
    const int ties_after = total_ties - ties_through[i];
    taken[i] = min(tie[i], max(0, state.ties_needed - ties_after));
    output[i] = less[i] + taken[i];
  }
  int offset[kChunksPerThread], kept;
  Scan(sh.scan).ExclusiveSum(output, offset, kept);
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
    *cursor = 0;
    a.row_counter[row] = 0;
  }
}

template <int D, int HEADS>
__global__ __launch_bounds__(kThreads, 2) void asymmetric_fused_kernel(SelectArgs a, float scale) {
  extern __shared__ __align__(16) float shared[];  // rotated [HEADS][D], pair tables [HEADS][D/2][16]
  __shared__ Shared sh;
  constexpr int kPairs = D / 2, kVecs = D / 64, kTok = tile_tokens<D, HEADS>();
  constexpr int kTile = kThreads * kTok, kTiles = kAsymChunk / kTile;
  static_assert(kTiles * kTok == kKeys, "each thread holds kKeys candidates of its chunk");
  grid_dependency_trigger();  // lets a programmatically launched compact kernel be scheduled early
  const int tid = threadIdx.x;
  const int row = blockIdx.y, seq = row / a.rows_per_seq, r = row % a.rows_per_seq;
  const int n = a.seq_lens[seq];
  const int candidates = row_candidates(a, n);
  if (!begin_row(a, row, seq, r, candidates)) return;
  const int chunks = ceil_div(candidates, kAsymChunk);
  if (static_cast<int>(blockIdx.x) >= chunks) return;
  const int chunk_begin = blockIdx.x * kAsymChunk;
  const int chunk_end = min(candidates, chunk_begin + kAsymChunk);
  const int first_head = row_first_q_head_dev(a, r), kv_head = row_kv_head_dev(a, r);
  const int32_t* pages = a.page_table + static_cast<size_t>(seq) * a.max_pages_per_seq;
  float* rotated = shared;
  const float* table = shared + HEADS * D;

  auto token = [&](int tile, int j) { return chunk_begin + tile * kTile + j * kThreads + tid; };
  auto load_tile = [&](int tile, uint4 (&code)[kTok][kVecs]) {
    int page[kTok];
#pragma unroll
    for (int j = 0; j < kTok; ++j) {  // page-table reads first: they are the loads' addresses
      const int t = token(tile, j);
      page[j] = t < chunk_end ? __ldg(pages + t / a.page_size) : -1;
    }
#pragma unroll
    for (int j = 0; j < kTok; ++j) {
      const int t = token(tile, j);
      const uint4* src = reinterpret_cast<const uint4*>(
          a.key_codes +
          ((static_cast<size_t>(max(page[j], 0)) * a.num_kv_heads + kv_head) * a.page_size + t % a.page_size) * (D / 4));
#pragma unroll
      for (int v = 0; v < kVecs; ++v) code[j][v] = page[j] >= 0 ? __ldg(src + v) : make_uint4(0, 0, 0, 0);
    }
  };

  uint4 code[kTok][kVecs];
  load_tile(0, code);  // in flight while the tables are built
  for (int b = tid; b < kBins; b += kThreads) sh.bins[b] = 0;
  if (tid == 0) sh.bound = kBins - 1;  // no bound when the chunk holds fewer than keep candidates
  for (int i = tid; i < HEADS * D; i += kThreads)
    rotated[i] = a.q[(static_cast<size_t>(seq) * a.num_q_heads + first_head) * D + i];
  for (int span = 1; span < D; span *= 2) {
    __syncthreads();
    for (int p = tid; p < HEADS * kPairs; p += kThreads) {
      const int h = p / kPairs, k = p % kPairs;
      const int i = (k / span) * 2 * span + k % span;  // the k-th coordinate with bit `span` clear
      float* v = rotated + h * D;
      const float x = v[i], y = v[i + span];
      v[i] = __fadd_rn(x, y);
      v[i + span] = __fsub_rn(x, y);
    }
  }
  __syncthreads();
  for (int e = tid; e < HEADS * kPairs * 16; e += kThreads) {
    const int nn = e & 15, h = (e >> 4) / kPairs, pair = (e >> 4) % kPairs;
    const float q0 = __fmul_rn(rotated[h * D + 2 * pair], scale), q1 = __fmul_rn(rotated[h * D + 2 * pair + 1], scale);
    shared[HEADS * D + e] = __fadd_rn(__fmul_rn(q0, a.centroids[nn & 3]), __fmul_rn(q1, a.centroids[nn >> 2]));
  }
  __syncthreads();

  uint32_t* out = a.score_keys + static_cast<size_t>(row) * a.candidate_stride;
  uint32_t keys[kKeys];
#pragma unroll
  for (int tile = 0; tile < kTiles; ++tile) {
    if (tile > 0) {
      if (chunk_begin + tile * kTile >= chunk_end) {  // block-uniform
#pragma unroll
        for (int k = tile * kTok; k < kKeys; ++k) keys[k] = 0xffffffffu;
        break;
      }
      load_tile(tile, code);
    }
#pragma unroll
    for (int j = 0; j < kTok; ++j) {
      float best = -INFINITY;
      // Heads not unrolled: unrolled, ptxas interleaves the heads' table loads and spills (64
      // registers at 2 blocks of 512 threads); one head at a time keeps the H = 1 register count.
#pragma unroll 1
      for (int h = 0; h < HEADS; ++h) {
        // Byte offsets into the head's table: pair p at p * 64 B, level pair (nibble) at 4 B each.
        const char* head_table = reinterpret_cast<const char*>(table + h * kPairs * 16);
        float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll
        for (int w = 0; w < D / 16; ++w) {
          uint32_t word = code_word(code[j], w);
          // Opaque per head: otherwise the d/2 table offsets (head-invariant) are hoisted out of
          // the heads loop and held across it, which spills (ptxas -v).
          if constexpr (HEADS > 1) asm volatile("" : "+r"(word));
#pragma unroll
          for (int k = 0; k < 4; ++k) {
            const int b = 4 * w + k;
            const uint32_t lo = k == 0 ? (word << 2) & 0x3cu : (word >> (8 * k - 2)) & 0x3cu;
            const uint32_t hi = (word >> (8 * k + 2)) & 0x3cu;
            const float s = __fadd_rn(*reinterpret_cast<const float*>(head_table + (2 * b) * 64 + lo),
                                      *reinterpret_cast<const float*>(head_table + (2 * b + 1) * 64 + hi));
            lane[b & 7] = __fadd_rn(lane[b & 7], s);
          }
        }
        const float score = reduce_lanes_asym(lane);
        best = best < score ? score : best;  // std::max(best, score)
      }
      const int t = token(tile, j);
      const uint32_t key = score_order_key(best);
      keys[tile * kTok + j] = key;
      if (t < chunk_end) {
        out[t] = key;
        atomicAdd(&sh.bins[key >> 20], 1);
      }
    }
  }
  __syncthreads();
  // The chunk's bound b_c: its keep-th smallest 12-bit digit.
  const int keep = row_keep(a);
  find_bin(sh, keep, [&](int b, int) { sh.bound = b; });
  const uint32_t bound = static_cast<uint32_t>(sh.bound);
  int mine = 0;
#pragma unroll
  for (int k = 0; k < kKeys; ++k) {
    const int t = token(k / kTok, k % kTok);
    mine += t < chunk_end && (keys[k] >> 20) <= bound;
  }
  int slot = 0, total = 0;
  Scan(sh.scan).ExclusiveSum(mine, slot, total);
  int32_t* cursor = a.histogram + static_cast<size_t>(row) * kHistStride;
  if (tid == 0) sh.list_base = atomicAdd(cursor, total);
  __syncthreads();
  uint2* list = a.asym_list + static_cast<size_t>(row) * a.candidate_stride + sh.list_base + slot;
#pragma unroll
  for (int k = 0; k < kKeys; ++k) {
    const int t = token(k / kTok, k % kTok);
    if (t < chunk_end && (keys[k] >> 20) <= bound) *list++ = make_uint2(keys[k], blockIdx.x);
  }
  __threadfence();
  __syncthreads();
  if (tid == 0) sh.is_last = atomicAdd(&a.row_counter[row], 1u) == static_cast<unsigned>(chunks - 1);
  __syncthreads();
  if (!sh.is_last) return;
  __threadfence();
  finish_row(a, row, n, candidates, chunks, sh);
}

inline size_t fused_shared_bytes(int heads, int head_dim) { return asymmetric_shared_bytes(heads, head_dim); }

template <int D, int HEADS>
void launch_fused_typed(const SelectArgs& args, dim3 grid, cudaStream_t stream) {
  const size_t bytes = fused_shared_bytes(HEADS, D);
  static const bool configured = [bytes] {
    ADAMAS_CUDA_CHECK(cudaFuncSetAttribute(asymmetric_fused_kernel<D, HEADS>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
    return true;
  }();
  (void)configured;
  asymmetric_fused_kernel<D, HEADS><<<grid, kThreads, bytes, stream>>>(args, hadamard_scale(D));
}

template <int D>
void launch_fused_dim(const SelectArgs& args, dim3 grid, cudaStream_t stream) {
  switch (args.heads_per_row) {
    case 1: launch_fused_typed<D, 1>(args, grid, stream); break;
    case 2: launch_fused_typed<D, 2>(args, grid, stream); break;
    case 3: launch_fused_typed<D, 3>(args, grid, stream); break;
    case 4: launch_fused_typed<D, 4>(args, grid, stream); break;
    case 5: launch_fused_typed<D, 5>(args, grid, stream); break;
    case 6: launch_fused_typed<D, 6>(args, grid, stream); break;
    case 7: launch_fused_typed<D, 7>(args, grid, stream); break;
    case 8: launch_fused_typed<D, 8>(args, grid, stream); break;
    default: break;  // checked by the caller
  }
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

void launch_asymmetric_fused_select(const SelectArgs& args, int batch, int max_candidates, cudaStream_t stream) {
  static_assert(fused::kBins > 0 && kAsymChunk == kListChunk, "compact_kernel writes the lists chunk by chunk");
  ADAMAS_CHECK(args.heads_per_row >= 1 && args.heads_per_row <= kMaxGroup, "CUDA asymmetric: ", args.heads_per_row,
               " query heads per row (1..", kMaxGroup, ")");
  ADAMAS_CHECK(args.asym_list != nullptr, "CUDA asymmetric (fused): no candidate list workspace");
  const dim3 grid(std::max(1, ceil_div(max_candidates, kAsymChunk)), batch * args.rows_per_seq);
  switch (args.head_dim) {
    case 64: fused::launch_fused_dim<64>(args, grid, stream); break;
    case 128: fused::launch_fused_dim<128>(args, grid, stream); break;
    case 256: fused::launch_fused_dim<256>(args, grid, stream); break;
    default: throw Error(detail::concat("CUDA asymmetric: head_dim ", args.head_dim, " not supported (64, 128, 256)"));
  }
  ADAMAS_CUDA_CHECK_LAUNCH();
}

}  // namespace adamas::cuda
