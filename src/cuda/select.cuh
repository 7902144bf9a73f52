// Top-k of a row's candidate keys with the tie-break of top_k.h (smaller key first, then the more
// recent candidate), written as ascending index lists; plus the streaming and full selectors.
#pragma once

#include "cuda/select_common.cuh"

namespace adamas::cuda {

// Four 8-bit radix passes over score_keys that leave the row state at the k-th smallest key.
void launch_radix_threshold(const SelectArgs& args, int batch, int max_candidates, cudaStream_t stream);
// Counts per chunk, the chunks' output offsets, then the index lists (distances when
// use_distances, else score_keys). Quest expands kept pages into their tokens.
void launch_write_lists(const SelectArgs& args, int batch, int max_candidates, bool use_distances, cudaStream_t stream);
// Index lists from the adamas distances, once the fused estimate left the chunk offsets.
// `programmatic`: launched with programmatic dependent launch after the fused estimate (launch.cuh).
void launch_compact_distances(const SelectArgs& args, int batch, int max_candidates, cudaStream_t stream,
                              bool programmatic = false);
// Index lists from score_keys once a fused estimate (asymmetric, variant new) left the row state
// and chunk offsets.
void launch_compact_scores(const SelectArgs& args, int batch, int max_candidates, cudaStream_t stream,
                           bool programmatic = false);
void launch_streaming(const SelectArgs& args, int batch, cudaStream_t stream);
void launch_full(const SelectArgs& args, int batch, cudaStream_t stream);

}  // namespace adamas::cuda
