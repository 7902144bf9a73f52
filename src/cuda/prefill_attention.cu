// Dense causal prefill attention (prefill_attention.cuh). One block of 4 warps per (tile of query
// tokens, KV head): the block's 16 rows are its tokens x the KV head's query heads (GQA: the group
// shares every K/V tile), 4 rows per warp. Per tile of 32 key positions, loaded once into shared
// memory as fp32: lane t scores key t against a row's query (K rows padded by one float, so the 32
// lanes read 32 banks), online softmax over the warp (fp32, base 2), then each lane accumulates
// its head_dim/32 output dimensions from the probabilities broadcast by shuffle.
#include <cmath>

#include "cuda/cuda_common.cuh"
#include "cuda/prefill_attention.cuh"

namespace adamas::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kRows = 16;        // rows (token, query head) per block
constexpr int kRowsPerWarp = kRows / kWarps;
constexpr int kKeyTile = 32;     // key positions per shared-memory tile: one per lane

template <int D>
constexpr size_t shared_bytes() {
  return sizeof(float) * (static_cast<size_t>(kRows) * D + kKeyTile * (D + 1) + static_cast<size_t>(kKeyTile) * D);
}

template <typename T, int D>
__global__ void __launch_bounds__(kWarps * 32) prefill_attention_kernel(PrefillAttentionArgs a, int group, float scale_log2) {
  extern __shared__ float shared[];
  float* q_tile = shared;                         // [kRows][D]
  float* k_tile = q_tile + kRows * D;             // [kKeyTile][D + 1]
  float* v_tile = k_tile + kKeyTile * (D + 1);    // [kKeyTile][D]
  constexpr int kDims = D / 32;                   // output dimensions per lane
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int tokens_per_block = kRows / group;
  const int token_begin = blockIdx.x * tokens_per_block;
  const int kv_head = blockIdx.y;
  const int token_end = min(a.count, token_begin + tokens_per_block);
  const int last_position = a.first + token_end - 1;  // the block's last query sees keys up to here

  // Row r: token token_begin + r / group, query head kv_head * group + r % group.
  for (int index = tid; index < kRows * D; index += blockDim.x) {
    const int r = index / D, c = index % D, token = token_begin + r / group;
    q_tile[index] = token < token_end
                        ? a.q[(static_cast<size_t>(token) * a.num_q_heads + kv_head * group + r % group) * D + c]
                        : 0.0f;
  }
  float row_max[kRowsPerWarp], row_sum[kRowsPerWarp], acc[kRowsPerWarp][kDims];
  int row_position[kRowsPerWarp];
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; ++i) {
    const int r = warp + i * kWarps, token = token_begin + r / group;
    row_position[i] = token < token_end ? a.first + token : -1;  // -1: no query (past the chunk)
    row_max[i] = -INFINITY;
    row_sum[i] = 0.0f;
#pragma unroll
    for (int j = 0; j < kDims; ++j) acc[i][j] = 0.0f;
  }
  const T* keys = static_cast<const T*>(a.keys);
  const T* values = static_cast<const T*>(a.values);
  const int32_t* pages = a.page_table + static_cast<size_t>(a.seq) * a.max_pages_per_seq;

  for (int k_begin = 0; k_begin <= last_position; k_begin += kKeyTile) {
    __syncthreads();  // the previous tile is consumed (and q_tile written, on the first pass)
    for (int index = tid; index < kKeyTile * D; index += blockDim.x) {
      const int t = index / D, c = index % D, position = k_begin + t;
      float k = 0.0f, v = 0.0f;
      if (position <= last_position) {
        const size_t offset = paged_row(a, pages[a.pages.page(position)], kv_head, position) * D + c;
        k = Elem<T>::to_float(keys[offset]);
        v = Elem<T>::to_float(values[offset]);
      }
      k_tile[t * (D + 1) + c] = k;
      v_tile[t * D + c] = v;
    }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; ++i) {
      if (row_position[i] < k_begin) continue;  // warp-uniform: the row sees no key of this tile
      const float* query = q_tile + (warp + i * kWarps) * D;
      const float* key = k_tile + lane * (D + 1);
      float dot = 0.0f;
#pragma unroll 16
      for (int c = 0; c < D; ++c) dot = fmaf(query[c], key[c], dot);
      const bool visible = k_begin + lane <= row_position[i];
      const float score = visible ? dot * scale_log2 : -INFINITY;
      float tile_max = score;
#pragma unroll
      for (int width = 16; width > 0; width /= 2) tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, width));
      const float new_max = fmaxf(row_max[i], tile_max);  // finite: key k_begin is visible
      const float p = visible ? exp2f(score - new_max) : 0.0f;
      float sum = p;
#pragma unroll
      for (int width = 16; width > 0; width /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, width);
      const float correction = exp2f(row_max[i] - new_max);  // 0 on the row's first tile
      row_sum[i] = row_sum[i] * correction + sum;
      row_max[i] = new_max;
#pragma unroll
      for (int j = 0; j < kDims; ++j) acc[i][j] *= correction;
      const int visible_count = min(kKeyTile, row_position[i] - k_begin + 1);
      for (int t = 0; t < visible_count; ++t) {
        const float pt = __shfl_sync(0xffffffffu, p, t);
        const float* value = v_tile + t * D + lane;
#pragma unroll
        for (int j = 0; j < kDims; ++j) acc[i][j] = fmaf(pt, value[32 * j], acc[i][j]);
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; ++i) {
    if (row_position[i] < 0) continue;
    const int r = warp + i * kWarps, token = token_begin + r / group;
    float* out = a.out + (static_cast<size_t>(token) * a.num_q_heads + kv_head * group + r % group) * D;
    const float inverse = 1.0f / row_sum[i];
#pragma unroll
    for (int j = 0; j < kDims; ++j) out[lane + 32 * j] = acc[i][j] * inverse;
  }
}

template <typename T, int D>
void launch_typed(const PrefillAttentionArgs& a, int group, cudaStream_t stream) {
  constexpr size_t bytes = shared_bytes<D>();
  static const bool configured = [] {
    ADAMAS_CUDA_CHECK(cudaFuncSetAttribute(prefill_attention_kernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(bytes)));
    return true;
  }();
  (void)configured;
  const dim3 grid(ceil_div(a.count, kRows / group), a.num_kv_heads);
  const float scale_log2 = a.scale * 1.4426950408889634f;
  prefill_attention_kernel<T, D><<<grid, kWarps * 32, bytes, stream>>>(a, group, scale_log2);
}

template <typename T>
void launch_dims(const PrefillAttentionArgs& a, int group, cudaStream_t stream) {
  switch (a.head_dim) {
    case 64: launch_typed<T, 64>(a, group, stream); break;
    case 128: launch_typed<T, 128>(a, group, stream); break;
    case 256: launch_typed<T, 256>(a, group, stream); break;
    default: throw Error(detail::concat("CUDA prefill attention: head_dim ", a.head_dim, " not supported (64, 128, 256)"));
  }
}

}  // namespace

void launch_prefill_attention(const PrefillAttentionArgs& args, cudaStream_t stream) {
  ADAMAS_CHECK(args.num_kv_heads > 0 && args.num_q_heads % args.num_kv_heads == 0,
               "CUDA prefill attention: ", args.num_q_heads, " query heads is not a multiple of ", args.num_kv_heads,
               " KV heads");
  const int group = args.num_q_heads / args.num_kv_heads;
  // Any group up to kRows: a block takes kRows / group whole tokens; with a group that does not
  // divide kRows (3, 5, 6, 7, ...) its last kRows % group rows lie past token_end and stay idle.
  ADAMAS_CHECK(group >= 1 && group <= kRows, "CUDA prefill attention: group size ", group,
               " is not supported (1..", kRows, ")");
  ADAMAS_CHECK(args.first >= 0 && args.count >= 0, "CUDA prefill attention: bad positions first ", args.first,
               " count ", args.count);
  if (args.count == 0) return;
  switch (args.dtype) {
    case DType::kF32: launch_dims<float>(args, group, stream); break;
    case DType::kF16: launch_dims<__half>(args, group, stream); break;
    default: launch_dims<__nv_bfloat16>(args, group, stream); break;
  }
  ADAMAS_CUDA_CHECK_LAUNCH();
}

}  // namespace adamas::cuda
