// Fused Adamas selection: one launch scores every cached key code and writes the index lists.
#pragma once

#include "cuda/select_common.cuh"

namespace adamas::cuda {

// Replaces launch_adamas_estimate + launch_write_lists for the adamas policy: same distances
// buffer, same row state, same index lists (tested against the CPU reference).
void launch_adamas_fused_select(const SelectArgs& args, int batch, int max_candidates, cudaStream_t stream);

}  // namespace adamas::cuda
