// Encode: one block per (position, KV head, sequence), one thread per coordinate; the butterfly
// runs in shared memory in hadamard.h's order (span 1, 2, ..., d/2; pairs (a + b, a - b) with
// __fadd_rn/__fsub_rn, then __fmul_rn by the scale: no FMA can form), as append.cu does.
// Estimate: one thread per candidate; every block codes the row's queries in shared memory first
// (the same butterfly, all heads at once), then each thread scores its token's code against every
// head with the scalar definitions of select/code_scores.h.
#include <algorithm>
#include <climits>

#include "adamas/hadamard.h"
#include "cuda/generic_codes.cuh"

namespace adamas::cuda {

DeviceCodeBook to_device_code_book(const CodeBook& book, int head_dim) {
  check_code_book(book);
  DeviceCodeBook device;
  device.bits = book.bits;
  device.levels = book.levels();
  device.hadamard = book.hadamard;
  device.scale = hadamard_scale(head_dim);
  for (int k = 0; k < 7; ++k) device.thresholds[k] = book.thresholds[k];
  for (int k = 0; k < 8; ++k) device.centroids[k] = book.centroids[k];
  return device;
}

namespace {

__device__ __forceinline__ int bucket_dev(float x, const DeviceCodeBook& book) {
  int level = 0;
  for (int k = 0; k < book.levels - 1; ++k) level += x > book.thresholds[k];
  return level;
}

__device__ __forceinline__ int storage_bits_dev(int bits) { return bits == 3 ? 4 : bits; }

// code_book.h's code_level on the device.
__device__ __forceinline__ int code_level_dev(const uint8_t* code, int bits, int i) {
  switch (bits) {
    case 1: return (code[i >> 3] >> (i & 7)) & 1;
    case 2: return (code[i >> 2] >> (2 * (i & 3))) & 3;
    default: return (code[i >> 1] >> (4 * (i & 1))) & 15;
  }
}

// In-place butterfly of `vectors` consecutive vectors of d floats in shared memory, by the whole
// block; hadamard.h's order within each vector. Ends synchronized.
__device__ void block_butterfly(float* x, int d, int vectors) {
  const int total = vectors * d;
  for (int span = 1; span < d; span *= 2) {
    __syncthreads();
    for (int idx = threadIdx.x; idx < total; idx += blockDim.x) {
      if ((idx & span) == 0) {  // d is a power of two, so bit `span` of idx is that of the coordinate
        const float p = x[idx], q = x[idx + span];
        x[idx] = __fadd_rn(p, q);
        x[idx + span] = __fsub_rn(p, q);
      }
    }
  }
  __syncthreads();
}

template <typename T>
__global__ void encode_keys_kernel(EncodeKeysArgs a) {
  __shared__ float rotated[kMaxHeadDim];
  __shared__ uint8_t levels[kMaxHeadDim];
  const int seq = a.first_seq + blockIdx.z, kv_head = blockIdx.y, i = threadIdx.x, d = a.head_dim;
  const int position = a.first_position[blockIdx.z] + blockIdx.x;
  const int page = a.page_table[static_cast<size_t>(seq) * a.max_pages_per_seq + position / a.page_size];
  const size_t token = (static_cast<size_t>(page) * a.num_kv_heads + kv_head) * a.page_size + position % a.page_size;
  rotated[i] = Elem<T>::to_float(static_cast<const T*>(a.keys)[token * d + i]);
  if (a.book.hadamard) block_butterfly(rotated, d, 1);
  // Without rotation the CPU codes the stored key as it is (no scale either).
  const float y = a.book.hadamard ? __fmul_rn(rotated[i], a.book.scale) : rotated[i];
  levels[i] = static_cast<uint8_t>(bucket_dev(y, a.book));
  __syncthreads();
  // Byte b holds coordinates b * per_byte .. (b + 1) * per_byte - 1, lowest bits first.
  const int storage = storage_bits_dev(a.book.bits), per_byte = 8 / storage, stride = d / per_byte;
  if (i < stride) {
    int packed = 0;
    for (int j = 0; j < per_byte; ++j) packed |= levels[i * per_byte + j] << (j * storage);
    a.key_codes[token * stride + i] = static_cast<uint8_t>(packed);
  }
}

__global__ __launch_bounds__(kSelectThreads) void code_estimate_kernel(SelectArgs a, DeviceCodeBook book,
                                                                       Estimator estimator) {
  __shared__ float rotated[kMaxGroup * kMaxHeadDim];
  __shared__ uint8_t query_levels[kMaxGroup * kMaxHeadDim];
  const int row = blockIdx.y, seq = row / a.rows_per_seq, r = row % a.rows_per_seq;
  const int candidates = row_candidates(a, a.seq_lens[seq]);
  if (!begin_row(a, row, seq, r, candidates)) return;
  if (static_cast<int>(blockIdx.x) * kSelectThreads >= candidates) return;
  const int d = a.head_dim, heads = a.heads_per_row, first_head = row_first_q_head_dev(a, r);
  const int total = heads * d;
  for (int idx = threadIdx.x; idx < total; idx += kSelectThreads)
    rotated[idx] = a.q[(static_cast<size_t>(seq) * a.num_q_heads + first_head) * d + idx];
  if (book.hadamard) block_butterfly(rotated, d, heads);
  else __syncthreads();
  for (int idx = threadIdx.x; idx < total; idx += kSelectThreads) {
    const float y = book.hadamard ? __fmul_rn(rotated[idx], book.scale) : rotated[idx];
    rotated[idx] = y;
    query_levels[idx] = static_cast<uint8_t>(bucket_dev(y, book));
  }
  __syncthreads();
  const int t = blockIdx.x * kSelectThreads + threadIdx.x;
  if (t >= candidates) return;
  const int kv_head = row_kv_head_dev(a, r);
  const int page = a.page_table[static_cast<size_t>(seq) * a.max_pages_per_seq + a.pages.page(t)];
  const int stride = d * storage_bits_dev(book.bits) / 8;
  const uint8_t* code = a.key_codes + paged_row(a, page, kv_head, t) * stride;
  const size_t slot = static_cast<size_t>(row) * a.candidate_stride + t;

  if (estimator == Estimator::kAsymmetric) {  // 2-bit codes: asymmetric_score_ref's summation order
    float best = -INFINITY;
    for (int h = 0; h < heads; ++h) {
      const float* query = rotated + h * d;
      float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int b = 0; b < d / 4; ++b) {
        float p[4];
        for (int j = 0; j < 4; ++j) p[j] = __fmul_rn(query[4 * b + j], book.centroids[code_level_dev(code, 2, 4 * b + j)]);
        lane[b & 7] = __fadd_rn(lane[b & 7], __fadd_rn(__fadd_rn(p[0], p[1]), __fadd_rn(p[2], p[3])));
      }
      const float score = __fadd_rn(__fadd_rn(__fadd_rn(lane[0], lane[1]), __fadd_rn(lane[2], lane[3])),
                                    __fadd_rn(__fadd_rn(lane[4], lane[5]), __fadd_rn(lane[6], lane[7])));
      best = best < score ? score : best;
    }
    a.score_keys[slot] = score_order_key(best);
    return;
  }
  const int half = book.levels / 2;
  int distance = INT_MAX;
  for (int h = 0; h < heads; ++h) {
    const uint8_t* query = query_levels + h * d;
    int sum = 0;
    for (int i = 0; i < d; ++i) {
      const int x = query[i], y = code_level_dev(code, book.bits, i);
      if (estimator == Estimator::kL1) sum += abs(x - y);
      else if (estimator == Estimator::kL2) sum += (x - y) * (x - y);
      else sum += (x >= half) != (y >= half);
    }
    distance = min(distance, sum);
  }
  // Distances are at most 49 * 256 (3-bit l2 at d = 256): they fit the uint16 row buffer too.
  a.score_keys[slot] = static_cast<uint32_t>(distance);
  if (a.distances) a.distances[slot] = static_cast<uint16_t>(distance);
}

}  // namespace

void launch_encode_keys(const EncodeKeysArgs& args, cudaStream_t stream) {
  check_head_dim(args.head_dim);
  ADAMAS_CHECK(args.head_dim >= 8, "CUDA encode: head_dim ", args.head_dim, " is too small for 1-bit codes");
  if (args.batch == 0 || args.count == 0) return;
  const dim3 grid(args.count, args.num_kv_heads, args.batch);
  switch (args.dtype) {
    case DType::kF32: encode_keys_kernel<float><<<grid, args.head_dim, 0, stream>>>(args); break;
    case DType::kF16: encode_keys_kernel<__half><<<grid, args.head_dim, 0, stream>>>(args); break;
    default: encode_keys_kernel<__nv_bfloat16><<<grid, args.head_dim, 0, stream>>>(args); break;
  }
  ADAMAS_CUDA_CHECK_LAUNCH();
}

void launch_code_estimate(const SelectArgs& args, const DeviceCodeBook& book, Estimator estimator, int batch,
                          int max_candidates, cudaStream_t stream) {
  check_head_dim(args.head_dim);
  ADAMAS_CHECK(args.heads_per_row >= 1 && args.heads_per_row <= kMaxGroup, "CUDA code estimate: ", args.heads_per_row,
               " query heads per row (1..", kMaxGroup, ")");
  ADAMAS_CHECK(estimator != Estimator::kAsymmetric || book.bits == 2,
               "the asymmetric estimator reads 2-bit codes; this cache layer holds ", book.bits, "-bit codes");
  const dim3 grid(std::max(1, ceil_div(max_candidates, kSelectThreads)), batch * args.rows_per_seq);
  code_estimate_kernel<<<grid, kSelectThreads, 0, stream>>>(args, book, estimator);
  ADAMAS_CUDA_CHECK_LAUNCH();
}

}  // namespace adamas::cuda
