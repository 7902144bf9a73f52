// Threshold search and index lists. With T the k-th smallest key of a row, the kept set is every
// key < T plus the `ties_needed` most recent keys == T: exactly select_smallest_keys_ref's set,
// since its 64-bit keys order equal scores by descending position. Chunks of kListChunk
// candidates: a count kernel (keys < T and == T per chunk; the row's last block turns these into
// each chunk's output offset and number of ties taken, the latest chunks' ties first) and a
// compact kernel (block scans, ascending positions). Every ticket counter and histogram is reset
// by the block that consumed it, so no memset sits in the per-step path.
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include "cuda/launch.cuh"
#include "cuda/select.cuh"

namespace adamas::cuda {

namespace {

constexpr int kItems = kListChunk / kSelectThreads;  // 16 consecutive candidates per thread

__device__ __forceinline__ int row_candidates_of(const SelectArgs& a, int row) {
  return row_candidates(a, a.seq_lens[row / a.rows_per_seq]);
}

__global__ __launch_bounds__(kSelectThreads) void radix_pass_kernel(SelectArgs a, int shift) {
  __shared__ int histogram[256];
  __shared__ bool is_last;
  using Scan = cub::BlockScan<int, kSelectThreads>;
  __shared__ typename Scan::TempStorage scan_storage;
  const int row = blockIdx.y, tid = threadIdx.x;
  const int candidates = row_candidates_of(a, row);
  const int chunks = ceil_div(candidates, kListChunk);
  if (static_cast<int>(blockIdx.x) >= chunks) return;
  // The first pass starts from scratch, so replaying the select stage alone is idempotent.
  const int keep_total = row_keep(a);
  const RowSelectState state =
      shift == 24 ? RowSelectState{0u, 0, keep_total, keep_total >= candidates ? 1 : 0} : a.state[row];
  if (state.take_all) {
    if (blockIdx.x == 0 && tid == 0) a.state[row] = state;
    return;
  }
  const uint32_t high_mask = shift >= 24 ? 0u : ~0u << (shift + 8);
  histogram[tid] = 0;
  __syncthreads();
  const uint32_t* keys = a.score_keys + static_cast<size_t>(row) * a.candidate_stride;
  for (int t = blockIdx.x * kListChunk + tid; t < min(candidates, (blockIdx.x + 1) * kListChunk); t += kSelectThreads) {
    const uint32_t key = keys[t];
    if (((key ^ state.threshold) & high_mask) == 0) atomicAdd(&histogram[(key >> shift) & 255], 1);
  }
  __syncthreads();
  int32_t* row_histogram = a.histogram + static_cast<size_t>(row) * kHistStride;
  if (histogram[tid]) atomicAdd(&row_histogram[tid], histogram[tid]);
  __threadfence();
  __syncthreads();
  if (tid == 0) is_last = atomicAdd(&a.row_counter[row], 1u) == static_cast<unsigned>(chunks - 1);
  __syncthreads();
  if (!is_last) return;
  __threadfence();
  const int count = __ldcg(&row_histogram[tid]);
  int before = 0;
  Scan(scan_storage).ExclusiveSum(count, before);
  const int keep = state.ties_needed;  // still to place at or below the current prefix
  if (before + count >= keep && (tid == 0 || before < keep))
    a.state[row] = RowSelectState{state.threshold | (static_cast<uint32_t>(tid) << shift), state.below + before,
                                  keep - before, 0};
  row_histogram[tid] = 0;
  if (tid == 0) a.row_counter[row] = 0;
}

template <typename Key>
__global__ __launch_bounds__(kSelectThreads) void count_kernel(SelectArgs a, const Key* keys_base) {
  using Reduce = cub::BlockReduce<int, kSelectThreads>;
  __shared__ union {
    typename Reduce::TempStorage reduce;
    typename ChunkScan::TempStorage scan;
  } storage;
  __shared__ bool is_last;
  const int row = blockIdx.y, tid = threadIdx.x, seq = row / a.rows_per_seq;
  const int n = a.seq_lens[seq];
  const int candidates = row_candidates(a, n);
  const int chunks = ceil_div(candidates, kListChunk);
  if (static_cast<int>(blockIdx.x) >= chunks) return;
  const RowSelectState state = a.state[row];
  const Key* keys = keys_base + static_cast<size_t>(row) * a.candidate_stride;
  int less = 0, tie = 0;
  for (int t = blockIdx.x * kListChunk + tid; t < min(candidates, (blockIdx.x + 1) * kListChunk); t += kSelectThreads) {
    const uint32_t key = keys[t];
    less += state.take_all || key < state.threshold;
    tie += !state.take_all && key == state.threshold;
  }
  less = Reduce(storage.reduce).Sum(less);
  __syncthreads();
  tie = Reduce(storage.reduce).Sum(tie);
  const size_t chunk_slot = static_cast<size_t>(row) * a.max_chunks + blockIdx.x;
  if (tid == 0) {
    a.chunk_less[chunk_slot] = less;
    a.chunk_tie[chunk_slot] = tie;
  }
  __threadfence();
  __syncthreads();
  if (tid == 0) is_last = atomicAdd(&a.row_counter[row], 1u) == static_cast<unsigned>(chunks - 1);
  __syncthreads();
  if (!is_last) return;
  __threadfence();
  const int kept = assign_chunk_offsets(a, row, chunks, state.ties_needed, storage.scan);
  // The current token (or the last, partial page) closes the list.
  int32_t* list = a.indices + static_cast<size_t>(row) * a.capacity;
  if (a.policy == Policy::kQuest) {
    const int last_page = candidates, tail = n - last_page * a.page_size;
    for (int u = tid; u < tail; u += kSelectThreads) list[kept * a.page_size + u] = last_page * a.page_size + u;
    if (tid == 0) a.counts[row] = kept * a.page_size + tail;
  } else if (tid == 0) {
    list[kept] = n - 1;
    a.counts[row] = kept + 1;
  }
  if (tid == 0) a.row_counter[row] = 0;
}

template <typename Key>
__global__ __launch_bounds__(kSelectThreads) void compact_kernel(SelectArgs a, const Key* keys_base) {
  using Scan = cub::BlockScan<int, kSelectThreads>;
  __shared__ typename Scan::TempStorage scan_storage;
  grid_dependency_trigger();
  grid_dependency_wait();  // under programmatic launch: the estimate's row state and offsets
  const int row = blockIdx.y, tid = threadIdx.x;
  const int candidates = row_candidates_of(a, row);
  const int chunks = ceil_div(candidates, kListChunk);
  if (static_cast<int>(blockIdx.x) >= chunks) return;
  const RowSelectState state = a.state[row];
  const size_t chunk_slot = static_cast<size_t>(row) * a.max_chunks + blockIdx.x;
  const int offset = a.chunk_offset[chunk_slot], taken = a.chunk_taken[chunk_slot], ties = a.chunk_tie[chunk_slot];
  const Key* keys = keys_base + static_cast<size_t>(row) * a.candidate_stride;
  const int first = blockIdx.x * kListChunk + tid * kItems;
  int is_less[kItems], is_tie[kItems];
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const int t = first + i;
    const uint32_t key = t < candidates ? static_cast<uint32_t>(keys[t]) : 0xffffffffu;
    is_less[i] = t < candidates && (state.take_all || key < state.threshold);
    is_tie[i] = t < candidates && !state.take_all && key == state.threshold;
  }
  int tie_rank[kItems];
  Scan(scan_storage).ExclusiveSum(is_tie, tie_rank);
  __syncthreads();
  int selected[kItems], slot[kItems];
#pragma unroll
  for (int i = 0; i < kItems; ++i) selected[i] = is_less[i] || (is_tie[i] && tie_rank[i] >= ties - taken);
  Scan(scan_storage).ExclusiveSum(selected, slot);
  int32_t* list = a.indices + static_cast<size_t>(row) * a.capacity;
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    if (!selected[i]) continue;
    const int t = first + i, out = offset + slot[i];
    if (a.policy == Policy::kQuest) {
      if ((out + 1) * a.page_size <= a.capacity)
        for (int u = 0; u < a.page_size; ++u) list[out * a.page_size + u] = t * a.page_size + u;
    } else if (out < a.capacity) {  // always true for a consistent row state; guards memory regardless
      list[out] = t;
    }
  }
}

__global__ void streaming_kernel(SelectArgs a) {
  const int row = blockIdx.x, seq = row / a.rows_per_seq, r = row % a.rows_per_seq;
  const int n = a.seq_lens[seq], budget = a.token_budget;
  const bool dense = n <= budget;
  if (threadIdx.x == 0) {
    if (r == 0) a.dense[seq] = dense ? 1 : 0;
    a.counts[row] = dense ? 0 : budget;
  }
  if (dense) return;
  const int sinks = min(a.sink_tokens, budget - 1);
  int32_t* list = a.indices + static_cast<size_t>(row) * a.capacity;
  for (int i = threadIdx.x; i < budget; i += blockDim.x) list[i] = i < sinks ? i : n - budget + i;
}

__global__ void full_kernel(SelectArgs a, int batch) {
  for (int i = threadIdx.x; i < batch * a.rows_per_seq; i += blockDim.x) a.counts[i] = 0;
  for (int i = threadIdx.x; i < batch; i += blockDim.x) a.dense[i] = 1;
}

}  // namespace

void launch_radix_threshold(const SelectArgs& args, int batch, int max_candidates, cudaStream_t stream) {
  const dim3 grid(std::max(1, ceil_div(max_candidates, kListChunk)), batch * args.rows_per_seq);
  for (int shift = 24; shift >= 0; shift -= 8) {
    radix_pass_kernel<<<grid, kSelectThreads, 0, stream>>>(args, shift);
    ADAMAS_CUDA_CHECK_LAUNCH();
  }
}

void launch_write_lists(const SelectArgs& args, int batch, int max_candidates, bool use_distances, cudaStream_t stream) {
  const dim3 grid(std::max(1, ceil_div(max_candidates, kListChunk)), batch * args.rows_per_seq);
  if (use_distances) {
    count_kernel<uint16_t><<<grid, kSelectThreads, 0, stream>>>(args, args.distances);
    ADAMAS_CUDA_CHECK_LAUNCH();
    compact_kernel<uint16_t><<<grid, kSelectThreads, 0, stream>>>(args, args.distances);
  } else {
    count_kernel<uint32_t><<<grid, kSelectThreads, 0, stream>>>(args, args.score_keys);
    ADAMAS_CUDA_CHECK_LAUNCH();
    compact_kernel<uint32_t><<<grid, kSelectThreads, 0, stream>>>(args, args.score_keys);
  }
  ADAMAS_CUDA_CHECK_LAUNCH();
}

void launch_compact_distances(const SelectArgs& args, int batch, int max_candidates, cudaStream_t stream,
                              bool programmatic) {
  const dim3 grid(std::max(1, ceil_div(max_candidates, kListChunk)), batch * args.rows_per_seq);
  launch_with_dependency(compact_kernel<uint16_t>, grid, dim3(kSelectThreads), 0, stream, programmatic, args,
                         static_cast<const uint16_t*>(args.distances));
  ADAMAS_CUDA_CHECK_LAUNCH();
}

void launch_compact_scores(const SelectArgs& args, int batch, int max_candidates, cudaStream_t stream,
                           bool programmatic) {
  const dim3 grid(std::max(1, ceil_div(max_candidates, kListChunk)), batch * args.rows_per_seq);
  launch_with_dependency(compact_kernel<uint32_t>, grid, dim3(kSelectThreads), 0, stream, programmatic, args,
                         static_cast<const uint32_t*>(args.score_keys));
  ADAMAS_CUDA_CHECK_LAUNCH();
}

void launch_streaming(const SelectArgs& args, int batch, cudaStream_t stream) {
  streaming_kernel<<<batch * args.rows_per_seq, kSelectThreads, 0, stream>>>(args);
  ADAMAS_CUDA_CHECK_LAUNCH();
}

void launch_full(const SelectArgs& args, int batch, cudaStream_t stream) {
  full_kernel<<<1, kSelectThreads, 0, stream>>>(args, batch);
  ADAMAS_CUDA_CHECK_LAUNCH();
}

}  // namespace adamas::cuda
