// One thread per candidate (page for Quest, token for the oracle), 16-byte loads, the row's
// queries in shared memory (broadcast reads). Lane j of the canonical sum takes coordinates
// i = j (mod 8) in increasing i, each product rounded before it is added (__fmul_rn/__fadd_rn:
// no FMA), then ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)).
#include "cuda/score.cuh"

namespace adamas::cuda {

namespace {

constexpr int kScoreThreads = kSelectThreads;

__device__ __forceinline__ float reduce_lanes_dev(const float* lane) {
  return __fadd_rn(__fadd_rn(__fadd_rn(lane[0], lane[1]), __fadd_rn(lane[2], lane[3])),
                   __fadd_rn(__fadd_rn(lane[4], lane[5]), __fadd_rn(lane[6], lane[7])));
}

// Shared prologue: dense flag, row state, the row's queries. Returns false when the block has
// nothing to score.
__device__ bool score_prologue(const SelectArgs& a, float* query, int& candidates) {
  const int row = blockIdx.y, seq = row / a.rows_per_seq, r = row % a.rows_per_seq;
  candidates = row_candidates(a, a.seq_lens[seq]);
  if (!begin_row(a, row, seq, r, candidates)) return false;
  if (static_cast<int>(blockIdx.x) * kScoreThreads >= candidates) return false;
  const int d = a.head_dim, first_head = row_first_q_head_dev(a, r);
  for (int i = threadIdx.x; i < a.heads_per_row * d; i += kScoreThreads)
    query[i] = a.q[(static_cast<size_t>(seq) * a.num_q_heads + first_head) * d + i];
  __syncthreads();
  return true;
}

template <typename T, int D>
__global__ __launch_bounds__(kScoreThreads) void oracle_score_kernel(SelectArgs a) {
  __shared__ float query[kMaxGroup * D];
  int candidates;
  if (!score_prologue(a, query, candidates)) return;
  const int row = blockIdx.y, seq = row / a.rows_per_seq, kv_head = row_kv_head_dev(a, row % a.rows_per_seq);
  const int t = blockIdx.x * kScoreThreads + threadIdx.x;
  if (t >= candidates) return;
  constexpr int kVec = 16 / sizeof(T);
  const int page = a.page_table[static_cast<size_t>(seq) * a.max_pages_per_seq + a.pages.page(t)];
  const uint4* key = reinterpret_cast<const uint4*>(static_cast<const T*>(a.keys) + paged_row(a, page, kv_head, t) * D);
  float best = -INFINITY;
  for (int h = 0; h < a.heads_per_row; ++h) {
    float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll
    for (int v = 0; v < D / kVec; ++v) {
      const uint4 raw = key[v];
      const T* element = reinterpret_cast<const T*>(&raw);
#pragma unroll
      for (int e = 0; e < kVec; ++e) {
        const int i = v * kVec + e;
        lane[i & 7] = __fadd_rn(lane[i & 7], __fmul_rn(query[h * D + i], Elem<T>::to_float(element[e])));
      }
    }
    const float score = reduce_lanes_dev(lane);
    best = best < score ? score : best;
  }
  a.score_keys[static_cast<size_t>(row) * a.candidate_stride + t] = score_order_key(best);
}

template <int D>
__global__ __launch_bounds__(kScoreThreads) void quest_score_kernel(SelectArgs a) {
  __shared__ float query[kMaxGroup * D];
  int candidates;
  if (!score_prologue(a, query, candidates)) return;
  const int row = blockIdx.y, seq = row / a.rows_per_seq, kv_head = row_kv_head_dev(a, row % a.rows_per_seq);
  const int p = blockIdx.x * kScoreThreads + threadIdx.x;
  if (p >= candidates) return;
  const int page = a.page_table[static_cast<size_t>(seq) * a.max_pages_per_seq + p];
  const size_t meta = (static_cast<size_t>(page) * a.num_kv_heads + kv_head) * D;
  const float4* low4 = reinterpret_cast<const float4*>(a.page_min + meta);
  const float4* high4 = reinterpret_cast<const float4*>(a.page_max + meta);
  float best = -INFINITY;
  for (int h = 0; h < a.heads_per_row; ++h) {
    float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll 8
    for (int v = 0; v < D / 4; ++v) {
      const float4 lo = low4[v], hi = high4[v];
      const float los[4] = {lo.x, lo.y, lo.z, lo.w}, his[4] = {hi.x, hi.y, hi.z, hi.w};
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int i = v * 4 + e;
        const float qi = query[h * D + i];
        const float low = __fmul_rn(qi, los[e]), high = __fmul_rn(qi, his[e]);
        lane[(v & 1) * 4 + e] = __fadd_rn(lane[(v & 1) * 4 + e], low > high ? low : high);
      }
    }
    const float score = reduce_lanes_dev(lane);
    best = best < score ? score : best;
  }
  a.score_keys[static_cast<size_t>(row) * a.candidate_stride + p] = score_order_key(best);
}

}  // namespace

void launch_quest_score(const SelectArgs& args, int batch, int max_candidates, cudaStream_t stream) {
  const dim3 grid(std::max(1, ceil_div(max_candidates, kScoreThreads)), batch * args.rows_per_seq);
  switch (args.head_dim) {
    case 64: quest_score_kernel<64><<<grid, kScoreThreads, 0, stream>>>(args); break;
    case 128: quest_score_kernel<128><<<grid, kScoreThreads, 0, stream>>>(args); break;
    case 256: quest_score_kernel<256><<<grid, kScoreThreads, 0, stream>>>(args); break;
    default: throw Error(detail::concat("CUDA quest: head_dim ", args.head_dim, " not supported (64, 128, 256)"));
  }
  ADAMAS_CUDA_CHECK_LAUNCH();
}

template <typename T>
static void launch_oracle_typed(const SelectArgs& args, dim3 grid, cudaStream_t stream) {
  switch (args.head_dim) {
    case 64: oracle_score_kernel<T, 64><<<grid, kScoreThreads, 0, stream>>>(args); break;
    case 128: oracle_score_kernel<T, 128><<<grid, kScoreThreads, 0, stream>>>(args); break;
    case 256: oracle_score_kernel<T, 256><<<grid, kScoreThreads, 0, stream>>>(args); break;
    default: throw Error(detail::concat("CUDA oracle: head_dim ", args.head_dim, " not supported (64, 128, 256)"));
  }
}

void launch_oracle_score(const SelectArgs& args, int batch, int max_candidates, cudaStream_t stream) {
  const dim3 grid(std::max(1, ceil_div(max_candidates, kScoreThreads)), batch * args.rows_per_seq);
  switch (args.dtype) {
    case DType::kF32: launch_oracle_typed<float>(args, grid, stream); break;
    case DType::kF16: launch_oracle_typed<__half>(args, grid, stream); break;
    default: launch_oracle_typed<__nv_bfloat16>(args, grid, stream); break;
  }
  ADAMAS_CUDA_CHECK_LAUNCH();
}

}  // namespace adamas::cuda
