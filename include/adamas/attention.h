// Decode attention: one query token per sequence against the paged cache, over an index list
// (sparse) or over every position (dense). Online softmax, fp32 accumulation, K/V read in the
// cache dtype, softmax scale 1/sqrt(head_dim) unless given.
#pragma once

#include "adamas/kv_cache.h"
#include "adamas/selector.h"

namespace adamas {

// q: fp32 [batch][num_q_heads][head_dim]; out: fp32 [batch][num_q_heads][head_dim].
// selection == nullptr, or a sequence marked dense, attends every cached position.
// Throws adamas::Error on inconsistent shapes or a selection that does not match the view.
void decode_attention_ref(const PagedKvView& view, const float* q, int num_q_heads,
                          const TokenSelection* selection, float* out, float scale = 0.0f);

// Fast CPU version: threads over (sequence, KV head); each K/V row is read once for all query
// heads of its group; AVX2/F16C when the CPU has them. Same result within fp32 rounding.
void decode_attention_cpu(const PagedKvView& view, const float* q, int num_q_heads,
                          const TokenSelection* selection, float* out, float scale = 0.0f);

}  // namespace adamas
