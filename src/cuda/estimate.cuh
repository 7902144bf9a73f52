// Adamas estimate: query codes, exact L1 scan of every key code (minimum over the row's query
// heads), fused with the distance histogram and the threshold search of the top-k.
#pragma once

#include "cuda/select_common.cuh"

namespace adamas::cuda {

void launch_adamas_estimate(const SelectArgs& args, int batch, int max_candidates, cudaStream_t stream);

}  // namespace adamas::cuda
