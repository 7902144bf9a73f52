// Dense causal prefill attention over the paged device cache (docs/cuda_kernels.md,
// "prefill attention"): `count` query tokens of one sequence at positions first .. first+count-1,
// whose K/V are already in the cache, each attending to every cached position <= its own.
// The GPU twin of prefill_attention_cpu (src/attention/prefill_attention.h).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "adamas/dtype.h"
#include "cuda/cache_view_args.cuh"

namespace adamas::cuda {

struct PrefillAttentionArgs : CacheViewArgs {  // the layer's cache view (device), then:
  int seq;             // sequence (row of the page table)
  int first, count;    // positions of the query tokens
  const float* q;      // fp32 [count][num_q_heads][head_dim], after RoPE
  float* out;          // fp32 [count][num_q_heads][head_dim]
  int num_q_heads;
  float scale;         // softmax scale (1/sqrt(head_dim))
};

// head_dim 64, 128 or 256; num_q_heads / num_kv_heads in 1..16 dividing 16. Asynchronous on
// `stream`, no allocation. Throws adamas::Error on unsupported shapes.
void launch_prefill_attention(const PrefillAttentionArgs& args, cudaStream_t stream);

}  // namespace adamas::cuda
