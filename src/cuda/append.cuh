// Append kernel: K/V write + Hadamard + bucketize + 2-bit pack + Quest page min/max, one pass.
// Other code books: the same kernel without codes, then launch_encode_keys (generic_codes.cuh).
#pragma once

#include <cuda_runtime.h>

#include "adamas/key_codes.h"
#include "adamas/kv_cache.h"
#include "cuda/cache_view_args.cuh"

namespace adamas::cuda {

struct AppendArgs : CacheWriteArgs {  // the layer's cache and the tokens written, then:
  Thresholds thresholds;
  bool write_codes = true;  // false: K/V and page bounds only (a book other than 2-bit Hadamard)
  const float* new_keys;    // fp32 [batch][count][num_kv_heads][head_dim] (batch index: blockIdx.z)
  const float* new_values;
  // Launched programmatically right behind the one-launch step that attends the same token from
  // new_keys/new_values (DeviceKvCache::append's `chained`): the kernel lets its successor launch at
  // once and, last, waits for the step, so that a successor's wait covers the step too.
  bool chained = false;
};

void launch_append(const AppendArgs& args, cudaStream_t stream);

// Page min/max of one page rebuilt from its first `slots` stored keys, in slot order with the
// append kernel's comparisons (bit-identical to appending those tokens): a rewound cache.
struct PageBoundsArgs {
  const void* keys;   // cache keys of the layer (dtype)
  float* page_min;
  float* page_max;
  int page;           // physical page
  int slots;          // 1 .. page_size
  int num_kv_heads, head_dim, page_size;
  DType dtype;
};
void launch_page_bounds(const PageBoundsArgs& args, cudaStream_t stream);

}  // namespace adamas::cuda
