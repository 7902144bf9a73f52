// Append kernel: K/V write + Hadamard + bucketize + 2-bit pack + Quest page min/max, one pass.
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
  const float* new_keys;    // fp32 [batch][count][num_kv_heads][head_dim]
  const float* new_values;
  const int32_t* first_position;  // [batch]
  int batch, count;
  int first_seq = 0;       // sequence of blockIdx.z == 0 (the new_keys batch index is blockIdx.z)
};

void launch_append(const AppendArgs& args, cudaStream_t stream);

}  // namespace adamas::cuda
