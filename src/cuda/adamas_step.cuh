// The whole Adamas decode step (L1 estimate, top-k, sparse attention) in one launch: a thread-block
// cluster per selection row, its blocks meeting through distributed shared memory instead of global
// tickets and further launches. Layout and rules: docs/cuda_kernels.md, "Cluster step".
#pragma once

#include "adamas/dtype.h"
#include "cuda/kernel_variants.cuh"
#include "cuda/select_common.cuh"

namespace adamas::cuda {

constexpr int kStepMaxSpan = 20480;  // candidates per block: their distances stay in shared memory
constexpr int kStepMaxList = 2048;   // list capacity (token budget) the blocks hold in shared memory
constexpr int kStepMaxCluster = 16;

struct StepArgs : SelectArgs {  // the selection's arguments (policy adamas, 2-bit L1 codes), then:
  float* out;          // fp32 [batch][num_q_heads][head_dim]
  float scale_log2;    // softmax scale * log2(e)
  unsigned long long* trace = nullptr;  // diagnostics only (ADAMAS_STEP_TRACE, adamas_step.cu)
  // The current token's K and V (fp32 [batch][num_kv_heads][head_dim], post-RoPE), or nullptr. When
  // given, the step attends to position n - 1 with them, rounded to the cache type as the append
  // stores them, and never reads the cache at n - 1: the caller may append concurrently
  // (DecodePlan::step's CurrentToken).
  const float* current_keys = nullptr;
  const float* current_values = nullptr;
};

// Blocks per cluster of the step for `rows` selection rows of a plan (0: the step does not serve
// it; variants.step must not be kSplit). ADAMAS_STEP=cluster: wherever the shape allows, i.e. fp16/bf16 K/V, d 64/128/256,
// 1, 2, 4 or 8 query heads per row with heads * d <= 1024, capacity <= kStepMaxList, and every
// candidate of a max_context sequence within the cluster's blocks of kStepMaxSpan. Otherwise
// (auto) also only where it was faster than the split step on the H200 (bench/results/2026-11-29-s8):
// all clusters resident at once, and at most kStepMaxSpan candidate-heads per block.
// Cluster size: 8, or 16 (non-portable) when 8 per row would leave most multiprocessors idle or the
// context needs them.
int adamas_step_cluster(DType dtype, int head_dim, int heads_per_row, int capacity, int max_context, int rows,
                        int sm_count, const KernelVariants& variants);

// The step for `batch` sequences: index lists, counts and dense flags as the split path writes
// them (select_common.cuh), and the attention output. `programmatic`: launched with programmatic
// dependent launch (waits for the previous kernel before reading).
// `cluster`: the plan's size (adamas_step_cluster), unless variants.step_cluster names one; with
// one or two heads a row and variants.step_blocks auto the launch may take a cluster up to two
// blocks smaller at 2 blocks per SM (adamas_step.cu).
void launch_adamas_step(const StepArgs& args, int batch, int cluster, int max_context, const KernelVariants& variants,
                        cudaStream_t stream);

}  // namespace adamas::cuda
