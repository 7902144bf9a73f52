// One block per (chunk of candidates, row). Each thread scans kTokensPerThread tokens, issuing all
// their code loads (16 B vectors; a token's code is head_dim/4 contiguous bytes, and consecutive
// threads read consecutive tokens of a page) before the query codes are built, so the loads
// overlap that work. Distances go to a uint16 row and a shared histogram over [0, 3d]; the last
// block of a row (ticket counter) reads the row histogram and writes the threshold state:
// T = the k-th smallest distance, `below` = count under T, `ties_needed` = k - below.
#include <cub/block/block_scan.cuh>

#include "adamas/hadamard.h"
#include "cuda/estimate.cuh"

namespace adamas::cuda {

namespace {

template <int D>
struct EstimateShape {
  static constexpr int kWords = D / 32;                        // 64-bit words per code
  static constexpr int kVectors = D / 64;                      // 16-byte loads per code
  static constexpr int kTokensPerThread = D >= 256 ? 4 : 8;    // 64-128 B of loads in flight per thread
  static constexpr int kChunk = kSelectThreads * kTokensPerThread;
  static constexpr int kBins = 3 * D + 1;
};

template <int D>
__global__ __launch_bounds__(kSelectThreads) void adamas_estimate_kernel(SelectArgs a, float hadamard_scale) {
  using S = EstimateShape<D>;
  __shared__ float rotated[kMaxGroup * D];
  __shared__ uint64_t query_words[kMaxGroup * S::kWords];
  __shared__ int histogram[S::kBins];
  __shared__ bool is_last;
  using Scan = cub::BlockScan<int, kSelectThreads>;
  __shared__ typename Scan::TempStorage scan_storage;

  const int row = blockIdx.y, seq = row / a.rows_per_seq, r = row % a.rows_per_seq, tid = threadIdx.x;
  const int n = a.seq_lens[seq];
  const int candidates = row_candidates(a, n);
  if (!begin_row(a, row, seq, r, candidates)) return;
  const int chunks = ceil_div(candidates, S::kChunk);
  if (static_cast<int>(blockIdx.x) >= chunks) return;
  const int kv_head = row_kv_head_dev(a, r), first_head = row_first_q_head_dev(a, r), heads = a.heads_per_row;

  // 1. Issue the code loads.
  uint4 codes[S::kTokensPerThread][S::kVectors];
  const int chunk_start = blockIdx.x * S::kChunk;
  const int32_t* page_row = a.page_table + static_cast<size_t>(seq) * a.max_pages_per_seq;
#pragma unroll
  for (int j = 0; j < S::kTokensPerThread; ++j) {
    const int t = chunk_start + j * kSelectThreads + tid;
    if (t < candidates) {
      const int page = page_row[t / a.page_size];
      const uint4* code = reinterpret_cast<const uint4*>(
          a.key_codes + ((static_cast<size_t>(page) * a.num_kv_heads + kv_head) * a.page_size + t % a.page_size) * (D / 4));
#pragma unroll
      for (int v = 0; v < S::kVectors; ++v) codes[j][v] = __ldcs(code + v);  // streamed once: keep L2 for the rest
    }
  }

  // 2. Query codes of the row's heads, in this block (hadamard.h order), and a zeroed histogram.
  for (int i = tid; i < S::kBins; i += kSelectThreads) histogram[i] = 0;
  for (int i = tid; i < heads * D; i += kSelectThreads)
    rotated[i] = a.q[(static_cast<size_t>(seq) * a.num_q_heads + first_head) * D + i];
  for (int span = 1; span < D; span *= 2) {
    __syncthreads();
    for (int p = tid; p < heads * D / 2; p += kSelectThreads) {
      const int h = p / (D / 2), pair = p % (D / 2);
      const int i = h * D + (pair / span) * 2 * span + pair % span;
      const float x = rotated[i], y = rotated[i + span];
      rotated[i] = __fadd_rn(x, y);
      rotated[i + span] = __fsub_rn(x, y);
    }
  }
  __syncthreads();
  for (int w = tid; w < heads * S::kWords; w += kSelectThreads) {
    uint64_t word = 0;
    for (int c = 0; c < 32; ++c) {
      const float y = __fmul_rn(rotated[w * 32 + c], hadamard_scale);
      const uint64_t level = (y > a.thresholds.t0) + (y > a.thresholds.t1) + (y > a.thresholds.t2);
      word |= level << (2 * c);
    }
    query_words[w] = word;
  }
  __syncthreads();

  // 3. Distances, histogram.
  uint16_t* distance_row = a.distances + static_cast<size_t>(row) * a.candidate_stride;
#pragma unroll
  for (int j = 0; j < S::kTokensPerThread; ++j) {
    const int t = chunk_start + j * kSelectThreads + tid;
    int best = -1;
    if (t < candidates) {
      const uint64_t* key = reinterpret_cast<const uint64_t*>(codes[j]);
      best = 3 * D;
      for (int h = 0; h < heads; ++h) {
        int distance = 0;
#pragma unroll
        for (int w = 0; w < S::kWords; ++w) distance += l1_distance_word_dev(query_words[h * S::kWords + w], key[w]);
        best = min(best, distance);
      }
      distance_row[t] = static_cast<uint16_t>(best);
    }
    // Distances crowd into a few bins: one shared atomic per distinct value in the warp.
    const unsigned same = __match_any_sync(0xffffffffu, best);
    if (best >= 0 && (tid & 31) == __ffs(same) - 1) atomicAdd(&histogram[best], __popc(same));
  }
  __syncthreads();
  int32_t* row_histogram = a.histogram + static_cast<size_t>(row) * kHistStride;
  for (int b = tid; b < S::kBins; b += kSelectThreads)
    if (histogram[b]) atomicAdd(&row_histogram[b], histogram[b]);

  // 4. Last block of the row: threshold search over the row histogram.
  __threadfence();
  __syncthreads();
  if (tid == 0) is_last = atomicAdd(&a.row_counter[row], 1u) == static_cast<unsigned>(chunks - 1);
  __syncthreads();
  if (!is_last) return;
  __threadfence();
  constexpr int kBinsPerThread = (S::kBins + kSelectThreads - 1) / kSelectThreads;
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
  const int keep = row_keep(a);
#pragma unroll
  for (int i = 0; i < kBinsPerThread; ++i) {
    const int b = tid * kBinsPerThread + i;
    // T is the smallest bin whose inclusive count reaches keep (bin 0 when keep == 0).
    if (b < S::kBins && before + bin_count[i] >= keep && (b == 0 || before < keep)) {
      a.state[row] = RowSelectState{static_cast<uint32_t>(b), before, keep - before, keep >= candidates ? 1 : 0};
    }
    before += bin_count[i];
  }
  for (int b = tid; b < S::kBins; b += kSelectThreads) row_histogram[b] = 0;
  if (tid == 0) a.row_counter[row] = 0;
}

}  // namespace

void launch_adamas_estimate(const SelectArgs& args, int batch, int max_candidates, cudaStream_t stream) {
  const float scale = hadamard_scale(args.head_dim);
  const int rows = batch * args.rows_per_seq;
  auto launch = [&](auto kernel, int chunk) {
    const dim3 grid(std::max(1, ceil_div(max_candidates, chunk)), rows);
    kernel<<<grid, kSelectThreads, 0, stream>>>(args, scale);
  };
  switch (args.head_dim) {
    case 64: launch(adamas_estimate_kernel<64>, EstimateShape<64>::kChunk); break;
    case 128: launch(adamas_estimate_kernel<128>, EstimateShape<128>::kChunk); break;
    case 256: launch(adamas_estimate_kernel<256>, EstimateShape<256>::kChunk); break;
    default: throw Error(detail::concat("CUDA adamas estimate: head_dim ", args.head_dim, " not supported (64, 128, 256)"));
  }
  ADAMAS_CUDA_CHECK_LAUNCH();
}

}  // namespace adamas::cuda
