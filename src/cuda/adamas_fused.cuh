// Fused Adamas selection: one launch scores every cached key code, finds the top-k threshold and
// every chunk's output offset.
#pragma once

#include "cuda/kernel_variants.cuh"
#include "cuda/select_common.cuh"

namespace adamas::cuda {

// For the adamas policy: distances, row state and chunk offsets; the lists are then written by
// launch_compact_distances (select.cuh). Selections equal select_tokens_ref's (tested), with
// either variant (kLanePerToken: v4; kBounded: v5, see adamas_fused.cu). probe: the bulk variant's
// early exits (KernelVariants::estimate_probe, benchmarks only; 0 runs it whole).
void launch_adamas_fused_select(const SelectArgs& args, int batch, int max_candidates, EstimateVariant variant,
                                int probe, cudaStream_t stream);

}  // namespace adamas::cuda
