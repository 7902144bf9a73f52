// Key codes of any code book (code_book.h: 1, 2 or 3 bits, Hadamard on or off, up to 7
// thresholds) on the device: the encode that follows the K/V append when the layer's book is not
// the fused append's 2-bit Hadamard one, and the estimate of the ablation estimators (l1, l2,
// hamming at any width; asymmetric on unrotated 2-bit codes). Straightforward kernels: the study's
// ablation path, not the tuned one (adamas_fused.cu, asymmetric.cu). Layouts: docs/cuda_kernels.md.
#pragma once

#include <cuda_runtime.h>

#include "adamas/code_book.h"
#include "adamas/selector.h"
#include "cuda/cache_view_args.cuh"
#include "cuda/select_common.cuh"

namespace adamas::cuda {

// A CodeBook as kernel arguments (passed by value; captured by a CUDA graph like any argument).
struct DeviceCodeBook {
  int bits = 2;        // 1..3; storage is code_storage_bits(bits) per coordinate
  int levels = 4;      // 1 << bits
  bool hadamard = true;
  float scale = 0;     // hadamard_scale(head_dim): the multiply after the butterfly
  float thresholds[7] = {};
  float centroids[8] = {};
};
DeviceCodeBook to_device_code_book(const CodeBook& book, int head_dim);

// True when `book` is the format the fused append writes (2 bits, Hadamard): no extra encode.
inline bool fused_append_codes(const CodeBook& book) { return book.bits == 2 && book.hadamard; }

// Re-codes the stored keys of `count` positions of each sequence first_seq .. first_seq + batch - 1
// (positions first_position[b] .. + count - 1, device int32 [batch]) of one layer with `book`:
// rotation in hadamard.h's order and rounding, bucketize, pack in code_book.h's layout,
// code_stride_bytes(bits, head_dim) bytes per (token, KV head). Reads the keys as stored, so the
// codes equal encode_with_code_book of KvCache::write_tokens. Asynchronous on `stream`.
struct EncodeKeysArgs : CacheWriteArgs {  // the layer's cache and the tokens to code, then:
  DeviceCodeBook book;
};
void launch_encode_keys(const EncodeKeysArgs& args, cudaStream_t stream);

// Scores every candidate of every row with `estimator` against the book's codes: the query of each
// of the row's heads coded with `book` (rotated first when book.hadamard), the integer distance of
// code_scores.h per head, the minimum over the row's heads, into score_keys[row][t] (uint32; and
// into distances[row][t] as uint16 when args.distances is set); or, for the asymmetric estimator
// (2-bit codes), score_order_key of the maximum over heads of asymmetric_score_ref. Also writes
// the dense flags and empties dense rows. launch_radix_threshold + launch_write_lists then select
// with top_k.h's tie-break.
void launch_code_estimate(const SelectArgs& args, const DeviceCodeBook& book, Estimator estimator, int batch,
                          int max_candidates, cudaStream_t stream);

}  // namespace adamas::cuda
