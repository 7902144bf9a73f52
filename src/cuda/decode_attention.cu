// Block = (context split, unit); a unit is (sequence, KV head) with its whole query group, so each
// selected K/V row is read once for all heads of the group. Lanes are grouped so that one lane
// group covers one token's head_dim in 16-byte loads (d = 128 fp16: 16 lanes, 2 tokens per warp);
// each group keeps 4-8 tokens' K and V loads in flight (fewer for larger groups: registers), runs an online softmax per
// head in fp32 (exp2 with the scale folded into q), and the groups of a block are merged in
// shared memory. The last split of a unit to finish (ticket counter) merges the splits'
// (output, log-sum-exp) pairs, so there is no separate merge launch.
#include <cmath>

#include "cuda/cuda_common.cuh"
#include "cuda/decode_attention.cuh"

namespace adamas::cuda {

namespace {

template <typename T, int D>
struct AttentionShape {
  static constexpr int kVec = 16 / sizeof(T);                               // elements per 16-byte load
  static constexpr int kLanes = D / kVec < 32 ? D / kVec : 32;              // lanes per token
  static constexpr int kElems = D / kLanes;                                 // elements per lane
  static constexpr int kGroupsPerWarp = 32 / kLanes;
  static constexpr int kGroups = kGroupsPerWarp * kAttentionThreads / 32;
};

template <typename T, int D, int HEADS>
__global__ __launch_bounds__(kAttentionThreads) void decode_attention_kernel(AttentionArgs a) {
  using S = AttentionShape<T, D>;
  __shared__ float group_max[S::kGroups][HEADS], group_sum[S::kGroups][HEADS];
  __shared__ float group_out[S::kGroups][HEADS][D];
  __shared__ bool is_last;

  const int unit = blockIdx.y, split = blockIdx.x, tid = threadIdx.x;
  const int seq = unit / a.units_per_seq, u = unit % a.units_per_seq;
  const int kv_head = a.per_query_head ? u / a.group_size : u;
  const int first_head = a.per_query_head ? u : u * a.group_size;
  const int n = a.seq_lens[seq];
  const bool dense = a.indices == nullptr || a.dense[seq];
  const int length = dense ? n : a.counts[unit];
  const int per_split = (length + a.splits - 1) / a.splits;
  const int begin = split * per_split, end = min(length, begin + per_split);
  const int32_t* list = dense ? nullptr : a.indices + static_cast<size_t>(unit) * a.capacity;
  const int32_t* page_row = a.page_table + static_cast<size_t>(seq) * a.max_pages_per_seq;
  const T* keys = static_cast<const T*>(a.keys);
  const T* values = static_cast<const T*>(a.values);

  const int lane = tid & 31, group = (tid >> 5) * S::kGroupsPerWarp + lane / S::kLanes;
  const int group_lane = lane % S::kLanes, dim0 = group_lane * S::kElems;

  float query[HEADS][S::kElems];
#pragma unroll
  for (int h = 0; h < HEADS; ++h) {
    const float* q = a.q + (static_cast<size_t>(seq) * a.num_q_heads + first_head + h) * D + dim0;
#pragma unroll
    for (int e = 0; e < S::kElems; ++e) query[h][e] = q[e] * a.scale_log2;
  }
  float running_max[HEADS], running_sum[HEADS], acc[HEADS][S::kElems];
#pragma unroll
  for (int h = 0; h < HEADS; ++h) {
    running_max[h] = -INFINITY;
    running_sum[h] = 0.0f;
#pragma unroll
    for (int e = 0; e < S::kElems; ++e) acc[h][e] = 0.0f;
  }

  // Every lane group of a warp runs the same trip count (the shuffles below need the whole warp).
  // Offsets of the next batch of tokens (index list and page table reads) are computed while the
  // current batch's K/V loads are in flight.
  constexpr int kInFlight = HEADS <= 2 ? 8 : (HEADS == 4 ? 6 : 4);
  constexpr int kStep = S::kGroups * kInFlight;
  constexpr int kRowVectors = S::kElems * sizeof(T) / 16;  // 16-byte loads per lane per row
  auto token_offset = [&](int i, bool& valid) -> size_t {
    valid = i < end;
    const int position = valid ? (dense ? i : __ldg(list + i)) : 0;
    const int page = valid ? __ldg(page_row + position / a.page_size) : 0;
    return ((static_cast<size_t>(page) * a.num_kv_heads + kv_head) * a.page_size + position % a.page_size) * D + dim0;
  };
  size_t offset[kInFlight];
  bool valid[kInFlight];
#pragma unroll
  for (int j = 0; j < kInFlight; ++j) offset[j] = token_offset(begin + group + j * S::kGroups, valid[j]);
  for (int base = begin; base < end; base += kStep) {
    uint4 k_raw[kInFlight][kRowVectors], v_raw[kInFlight][kRowVectors];
#pragma unroll
    for (int j = 0; j < kInFlight; ++j) {
#pragma unroll
      for (int r = 0; r < kRowVectors; ++r) {
        k_raw[j][r] = valid[j] ? __ldcs(reinterpret_cast<const uint4*>(keys + offset[j]) + r) : make_uint4(0, 0, 0, 0);
        v_raw[j][r] = valid[j] ? __ldcs(reinterpret_cast<const uint4*>(values + offset[j]) + r) : make_uint4(0, 0, 0, 0);
      }
    }
    bool now_valid[kInFlight];
#pragma unroll
    for (int j = 0; j < kInFlight; ++j) {
      now_valid[j] = valid[j];
      offset[j] = token_offset(base + kStep + group + j * S::kGroups, valid[j]);
    }
#pragma unroll
    for (int h = 0; h < HEADS; ++h) {
      float logit[kInFlight];
      float block_max = running_max[h];
#pragma unroll
      for (int j = 0; j < kInFlight; ++j) {
        const T* k = reinterpret_cast<const T*>(k_raw[j]);
        float dot = 0.0f;
#pragma unroll
        for (int e = 0; e < S::kElems; ++e) dot = fmaf(query[h][e], Elem<T>::to_float(k[e]), dot);
#pragma unroll
        for (int width = S::kLanes / 2; width > 0; width /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, width);
        logit[j] = now_valid[j] ? dot : -INFINITY;
        block_max = fmaxf(block_max, logit[j]);
      }
      if (block_max == -INFINITY) continue;  // nothing valid yet for this group
      const float correction = exp2f(running_max[h] - block_max);
      running_max[h] = block_max;
      running_sum[h] *= correction;
#pragma unroll
      for (int e = 0; e < S::kElems; ++e) acc[h][e] *= correction;
#pragma unroll
      for (int j = 0; j < kInFlight; ++j) {
        const float p = exp2f(logit[j] - block_max);
        const T* v = reinterpret_cast<const T*>(v_raw[j]);
        running_sum[h] += p;
#pragma unroll
        for (int e = 0; e < S::kElems; ++e) acc[h][e] = fmaf(p, Elem<T>::to_float(v[e]), acc[h][e]);
      }
    }
  }

  // Merge the block's lane groups.
#pragma unroll
  for (int h = 0; h < HEADS; ++h) {
    if (group_lane == 0) {
      group_max[group][h] = running_max[h];
      group_sum[group][h] = running_sum[h];
    }
#pragma unroll
    for (int e = 0; e < S::kElems; ++e) group_out[group][h][dim0 + e] = acc[h][e];
  }
  __syncthreads();
  const size_t unit_partial = static_cast<size_t>(unit) * HEADS * a.splits;
  for (int index = tid; index < HEADS * D; index += kAttentionThreads) {
    const int h = index / D, dim = index % D;
    float block_max = -INFINITY;
    for (int g = 0; g < S::kGroups; ++g) block_max = fmaxf(block_max, group_max[g][h]);
    float sum = 0.0f, out = 0.0f;
    if (block_max != -INFINITY) {
      for (int g = 0; g < S::kGroups; ++g) {
        const float weight = exp2f(group_max[g][h] - block_max);
        sum += group_sum[g][h] * weight;
        out += group_out[g][h][dim] * weight;
      }
    }
    if (a.splits == 1) {
      a.out[(static_cast<size_t>(seq) * a.num_q_heads + first_head + h) * D + dim] = out / sum;
    } else {
      const size_t slot = unit_partial + static_cast<size_t>(h) * a.splits + split;
      a.partial_out[slot * D + dim] = sum > 0.0f ? out / sum : 0.0f;
      if (dim == 0) a.partial_lse[slot] = sum > 0.0f ? block_max + log2f(sum) : -INFINITY;
    }
  }
  if (a.splits == 1) return;

  // The unit's last split merges all splits.
  __threadfence();
  __syncthreads();
  if (tid == 0) is_last = atomicAdd(&a.unit_counter[unit], 1u) == static_cast<unsigned>(a.splits - 1);
  __syncthreads();
  if (!is_last) return;
  __threadfence();
  for (int index = tid; index < HEADS * D; index += kAttentionThreads) {
    const int h = index / D, dim = index % D;
    const size_t first_slot = unit_partial + static_cast<size_t>(h) * a.splits;
    float max_lse = -INFINITY;
    for (int s = 0; s < a.splits; ++s) max_lse = fmaxf(max_lse, __ldcg(&a.partial_lse[first_slot + s]));
    float sum = 0.0f, out = 0.0f;
    for (int s = 0; s < a.splits; ++s) {
      const float weight = exp2f(__ldcg(&a.partial_lse[first_slot + s]) - max_lse);
      sum += weight;
      out += weight * __ldcg(&a.partial_out[(first_slot + s) * D + dim]);
    }
    a.out[(static_cast<size_t>(seq) * a.num_q_heads + first_head + h) * D + dim] = out / sum;
  }
  if (tid == 0) a.unit_counter[unit] = 0;
}

template <typename T, int D>
void launch_heads(const AttentionArgs& a, dim3 grid, cudaStream_t stream) {
  switch (a.heads_per_unit) {
    case 1: decode_attention_kernel<T, D, 1><<<grid, kAttentionThreads, 0, stream>>>(a); break;
    case 2: decode_attention_kernel<T, D, 2><<<grid, kAttentionThreads, 0, stream>>>(a); break;
    case 4: decode_attention_kernel<T, D, 4><<<grid, kAttentionThreads, 0, stream>>>(a); break;
    case 8: decode_attention_kernel<T, D, 8><<<grid, kAttentionThreads, 0, stream>>>(a); break;
    default: throw Error(detail::concat("CUDA attention: ", a.heads_per_unit, " query heads per KV head not supported (1, 2, 4, 8)"));
  }
}

template <typename T>
void launch_dims(const AttentionArgs& a, dim3 grid, cudaStream_t stream) {
  switch (a.head_dim) {
    case 64: launch_heads<T, 64>(a, grid, stream); break;
    case 128: launch_heads<T, 128>(a, grid, stream); break;
    case 256: launch_heads<T, 256>(a, grid, stream); break;
    default: throw Error(detail::concat("CUDA attention: head_dim ", a.head_dim, " not supported (64, 128, 256)"));
  }
}

}  // namespace

void launch_decode_attention(const AttentionArgs& args, int batch, cudaStream_t stream) {
  const dim3 grid(args.splits, batch * args.units_per_seq);
  switch (args.dtype) {
    case DType::kF32: launch_dims<float>(args, grid, stream); break;
    case DType::kF16: launch_dims<__half>(args, grid, stream); break;
    default: launch_dims<__nv_bfloat16>(args, grid, stream); break;
  }
  ADAMAS_CUDA_CHECK_LAUNCH();
}

}  // namespace adamas::cuda
