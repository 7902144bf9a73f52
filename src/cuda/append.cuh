// Append kernel: K/V write + Hadamard + bucketize + 2-bit pack + Quest page min/max, one pass.
// Other code books: the same kernel without codes, then launch_encode_keys (generic_codes.cuh).
#pragma once

#include <cuda_runtime.h>

#include "adamas/key_codes.h"
#include "adamas/kv_cache.h"

namespace adamas::cuda {

struct AppendArgs {
  void* keys;             // cache keys of the layer (dtype)
  void* values;
  uint8_t* key_codes;
  float* page_min;
  float* page_max;
  const int32_t* page_table;
  int max_pages_per_seq;
  int num_kv_heads, head_dim, page_size;
  DType dtype;
  Thresholds thresholds;
  bool write_codes = true;  // false: K/V and page bounds only (a book other than 2-bit Hadamard)
  const float* new_keys;    // fp32 [batch][count][num_kv_heads][head_dim]
  const float* new_values;
  const int32_t* first_position;  // [batch]
  int batch, count;
  int first_seq = 0;       // sequence of blockIdx.z == 0 (the new_keys batch index is blockIdx.z)
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
