// Dense causal attention for prefill: `count` new query tokens of one sequence, whose keys and
// values are already in the paged cache at positions [first, first + count), each attending to
// every cached position up to and including its own. fp32 accumulation, K/V read in the cache
// dtype, softmax scale 1/sqrt(head_dim) unless given. GQA: query head h reads KV head
// h / (num_q_heads / num_kv_heads), as transformers' repeat_kv.
#pragma once

#include "adamas/kv_cache.h"

namespace adamas {

// q, out: fp32 [count][num_q_heads][head_dim]. Throws adamas::Error on inconsistent shapes or
// positions outside the sequence.
// Scalar reference: one query row at a time, two passes (max, then exp-sum), double accumulation.
void prefill_attention_ref(const PagedKvView& view, int seq, int first, int count, const float* q, int num_q_heads,
                           float* out, float scale = 0.0f);

// Blocked version: threads over (KV head, block of query tokens); keys/values widened to fp32
// once per (query block, key block) and shared by every query row of the block and its group;
// scores and the probability-weighted values as two sgemm calls per block (single-threaded
// OpenBLAS inside each OpenMP thread); online softmax per row. Same result within fp32 rounding.
void prefill_attention_cpu(const PagedKvView& view, int seq, int first, int count, const float* q, int num_q_heads,
                           float* out, float scale = 0.0f);

}  // namespace adamas
