// Float-scored selectors on the GPU: Quest page bounds and the oracle's exact q.k, both summed in
// the canonical 8-lane order of select/canonical_sums.h so the keys match the CPU bit for bit.
#pragma once

#include "cuda/select_common.cuh"

namespace adamas::cuda {

// Writes score_keys: score_order_key of the max over the row's heads, per candidate.
void launch_quest_score(const SelectArgs& args, int batch, int max_candidates, cudaStream_t stream);
void launch_oracle_score(const SelectArgs& args, int batch, int max_candidates, cudaStream_t stream);

}  // namespace adamas::cuda
