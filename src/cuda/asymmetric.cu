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

#include "adamas/hadamard.h"

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

}  // namespace adamas::cuda
