// One block per (sequence, page touched, KV head), one thread per coordinate. The block walks the
// page's new tokens in position order, so the page min/max is updated in the CPU's order without
// atomics, and the butterfly runs in shared memory in the order hadamard.h fixes (stages of span
// 1, 2, 4, ..., pairs (a + b, a - b), then one multiply by 1/sqrt(d); no FMA can form there).
#include <cmath>

#include "adamas/hadamard.h"
#include "cuda/append.cuh"
#include "cuda/cuda_common.cuh"
#include "cuda/launch.cuh"

namespace adamas::cuda {

namespace {

template <typename T>
__device__ __forceinline__ void append_page(const AppendArgs& a, float scale, float* rotated);

// AppendArgs::chained: the successor (the o product) may launch at once; the kernel ends only once
// the step before it has (its own inputs are the q|k|v product's, complete before the step let it
// launch: the step triggers after its own wait).
template <typename T>
__global__ void append_kernel(AppendArgs a, float scale) {
  extern __shared__ float rotated[];
  if (a.chained) grid_dependency_trigger();
  append_page<T>(a, scale, rotated);
  if (a.chained) grid_dependency_wait();
}

template <typename T>
__device__ __forceinline__ void append_page(const AppendArgs& a, float scale, float* rotated) {
  const int seq = a.first_seq + blockIdx.z, kv_head = blockIdx.y, i = threadIdx.x, d = a.head_dim;
  const int first = a.first_position[blockIdx.z];
  const int last = first + a.count - 1;
  const int page_index = first / a.page_size + blockIdx.x;
  const int begin = max(first, page_index * a.page_size);
  const int end = min(last, page_index * a.page_size + a.page_size - 1);
  if (begin > end) return;  // this sequence touches fewer pages than the grid has
  const int page = a.page_table[static_cast<size_t>(seq) * a.max_pages_per_seq + page_index];
  const size_t meta = (static_cast<size_t>(page) * a.num_kv_heads + kv_head) * d + i;
  // A page is filled from its first slot: a token at slot 0 starts fresh bounds, as the CPU's
  // page allocation does; otherwise the page's current bounds are extended.
  const bool fresh = begin % a.page_size == 0;
  float low = fresh ? INFINITY : a.page_min[meta];
  float high = fresh ? -INFINITY : a.page_max[meta];
  T* keys = static_cast<T*>(a.keys);
  T* values = static_cast<T*>(a.values);
  for (int position = begin; position <= end; ++position) {
    const size_t src = ((static_cast<size_t>(blockIdx.z) * a.count + (position - first)) * a.num_kv_heads + kv_head) * d + i;
    const size_t dst = ((static_cast<size_t>(page) * a.num_kv_heads + kv_head) * a.page_size + position % a.page_size) * d;
    const T stored = Elem<T>::from_float(a.new_keys[src]);
    keys[dst + i] = stored;
    values[dst + i] = Elem<T>::from_float(a.new_values[src]);
    const float x = Elem<T>::to_float(stored);  // codes and bounds come from the key as stored
    low = x < low ? x : low;      // std::min(low, x)
    high = high < x ? x : high;   // std::max(high, x)
    if (!a.write_codes) continue;  // another book's codes: launch_encode_keys writes them (uniform per block)
    rotated[i] = x;
    for (int span = 1; span < d; span *= 2) {
      __syncthreads();
      if ((i & span) == 0) {
        const float p = rotated[i], q = rotated[i + span];
        rotated[i] = __fadd_rn(p, q);
        rotated[i + span] = __fsub_rn(p, q);
      }
    }
    __syncthreads();
    const float y = __fmul_rn(rotated[i], scale);
    const int level = (y > a.thresholds.t0) + (y > a.thresholds.t1) + (y > a.thresholds.t2);
    // Four consecutive coordinates make one byte (coordinate i at bits 2*(i%4)); d >= 4 and the
    // block is a whole number of 4-thread groups inside a warp.
    int packed = level << (2 * (i & 3));
    packed |= __shfl_down_sync(0xffffffffu, packed, 1, 4);
    packed |= __shfl_down_sync(0xffffffffu, packed, 2, 4);
    if ((i & 3) == 0) a.key_codes[dst / 4 + i / 4] = static_cast<uint8_t>(packed);
    __syncthreads();  // rotated[] is rewritten by the next token
  }
  a.page_min[meta] = low;
  a.page_max[meta] = high;
}

template <typename T>
__global__ void page_bounds_kernel(PageBoundsArgs a) {
  const int kv_head = blockIdx.x, i = threadIdx.x, d = a.head_dim;
  const T* keys = static_cast<const T*>(a.keys);
  float low = INFINITY, high = -INFINITY;
  for (int slot = 0; slot < a.slots; ++slot) {
    const float x = Elem<T>::to_float(keys[((static_cast<size_t>(a.page) * a.num_kv_heads + kv_head) * a.page_size + slot) * d + i]);
    low = x < low ? x : low;
    high = high < x ? x : high;
  }
  const size_t meta = (static_cast<size_t>(a.page) * a.num_kv_heads + kv_head) * d + i;
  a.page_min[meta] = low;
  a.page_max[meta] = high;
}

}  // namespace

void launch_page_bounds(const PageBoundsArgs& args, cudaStream_t stream) {
  ADAMAS_CHECK(args.slots >= 1 && args.slots <= args.page_size && args.head_dim >= 32 && args.head_dim <= 1024,
               "CUDA page bounds: ", args.slots, " slots of page size ", args.page_size, ", head_dim ", args.head_dim);
  switch (args.dtype) {
    case DType::kF32: page_bounds_kernel<float><<<args.num_kv_heads, args.head_dim, 0, stream>>>(args); break;
    case DType::kF16: page_bounds_kernel<__half><<<args.num_kv_heads, args.head_dim, 0, stream>>>(args); break;
    default: page_bounds_kernel<__nv_bfloat16><<<args.num_kv_heads, args.head_dim, 0, stream>>>(args); break;
  }
  ADAMAS_CUDA_CHECK_LAUNCH();
}

void launch_append(const AppendArgs& args, cudaStream_t stream) {
  check_head_dim(args.head_dim);
  ADAMAS_CHECK(args.head_dim >= 32, "CUDA append: head_dim ", args.head_dim, " is not supported (32..256)");
  if (args.batch == 0 || args.count == 0) return;
  // Pages one sequence's `count` tokens can touch, wherever they start.
  const int pages = (args.count + args.page_size - 2) / args.page_size + 1;
  const dim3 grid(pages, args.num_kv_heads, args.batch);
  const size_t shared = static_cast<size_t>(args.head_dim) * sizeof(float);
  const float scale = hadamard_scale(args.head_dim);
  const dim3 block(static_cast<unsigned>(args.head_dim));
  switch (args.dtype) {
    case DType::kF32: launch_with_dependency(append_kernel<float>, grid, block, shared, stream, args.chained, args, scale); break;
    case DType::kF16: launch_with_dependency(append_kernel<__half>, grid, block, shared, stream, args.chained, args, scale); break;
    default: launch_with_dependency(append_kernel<__nv_bfloat16>, grid, block, shared, stream, args.chained, args, scale); break;
  }
  ADAMAS_CUDA_CHECK_LAUNCH();
}

}  // namespace adamas::cuda
