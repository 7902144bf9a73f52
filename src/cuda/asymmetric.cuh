// The asymmetric estimator on the GPU (selector.h Estimator::kAsymmetric): every cached 2-bit key
// code scored against the rotated full-precision query, sum_i q'_i * centroid[c_i], in the
// canonical order of select/code_scores.h (asymmetric_score_ref), max over the row's query heads.
#pragma once

#include "cuda/select_common.cuh"

namespace adamas::cuda {

// Writes score_keys: score_order_key of the row's score per candidate token, bit for bit the
// high half of the CPU's score_key; the oracle's radix threshold and list kernels (select.cuh)
// then select the same sets as select_tokens_ref. Uses args.centroids (the layer's code book).
void launch_asymmetric_score(const SelectArgs& args, int batch, int max_candidates, cudaStream_t stream);

// Variant new (ADAMAS_ASYM_VARIANT=new): scoring, threshold search and chunk offsets in one launch
// (score_keys, row state, chunk_tie/offset/taken, closing index and counts); the lists are then
// written by launch_compact_scores (select.cuh). Needs args.asym_list ([rows][candidate_stride]).
struct AsymFusedLaunch {
  // Candidates per block, 2048, 4096, 8192 or 16384 (2048 doubles the blocks of small grids, e.g.
  // GQA rows at 8K-32K, at the cost of a longer candidate list for the row's last block; 8192 halves
  // the per-block work of grids that run for several waves; 16384, one head a row and the float
  // kernel only, makes such a grid one wave).
  int part = 4096;
  // ADAMAS_ASYM_VARIANT=twopass: the same selection from integer tables first, the float score
  // only for the candidates that can still be kept (asymmetric.cu).
  bool two_pass = false;
  // Blocks per thread-block cluster, 1, 2 or 4 (ADAMAS_ASYM_CLUSTER): a cluster's consecutive
  // parts of a row share their histograms (distributed shared memory), so each lists (and
  // rescores) only what can be in the cluster's top keep (asymmetric.cu, part_bound).
  int cluster = 1;
};
void launch_asymmetric_fused_select(const SelectArgs& args, int batch, int max_candidates, const AsymFusedLaunch& how,
                                    cudaStream_t stream);
// Clusters of how.cluster blocks of that kernel the device holds at once (cudaOccupancyMaxActiveClusters:
// a cluster's blocks share a GPC).
int asymmetric_fused_active_clusters(int head_dim, int heads_per_row, const AsymFusedLaunch& how);

}  // namespace adamas::cuda
