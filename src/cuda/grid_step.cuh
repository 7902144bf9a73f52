// The whole Adamas decode step (L1 estimate, top-k, sparse attention) in one cooperative launch of
// 2-4 blocks per multiprocessor: a row's blocks meet through global memory (a counter barrier and a
// ticket) instead of a thread-block cluster, so the blocks spread evenly over the multiprocessors
// (clusters are placed within a GPC). Layout and rules: docs/cuda_kernels.md, "Grid step".
#pragma once

#include "adamas/dtype.h"
#include "cuda/adamas_step.cuh"
#include "cuda/kernel_variants.cuh"

namespace adamas::cuda {

constexpr int kGridMaxSpan = 20480;       // candidates per block: their distances stay in shared memory
constexpr int kGridMaxBlocksPerRow = 32;  // a lane of one warp per block in the threshold search

struct GridStepArgs : StepArgs {  // the cluster step's arguments, then the workspaces:
  int* sync;          // [rows][2]: barrier arrivals, tickets; zero between launches (the last block resets them)
  int* histograms;    // [rows][blocks per row][kHistStride]: each block's cumulative distance histogram
  float* partials;    // [rows][blocks per row][HEADS][D + 2]: each block's output, then max and sum per head
};

// Workspace sizes for a plan of `sm_count` multiprocessors (at most kGridMaxBlocksPerSm blocks each).
constexpr int kGridMaxBlocksPerSm = 4;
inline size_t grid_step_histogram_ints(int sm_count) {
  return static_cast<size_t>(kGridMaxBlocksPerSm) * sm_count * kHistStride;
}
inline size_t grid_step_partial_floats(int sm_count) {
  return static_cast<size_t>(kGridMaxBlocksPerSm) * sm_count * (1024 + 2 * kMaxGroup);  // heads * d <= 1024
}

// Blocks per row of the grid step for `rows` selection rows (0: it does not serve them): fp16/bf16
// K/V, d 64/128/256, 1, 2, 4 or 8 query heads per row with heads * d <= 1024, capacity <=
// kStepMaxList, every block resident at once (min(kGridMaxBlocksPerRow, blocks per SM x sm_count /
// rows) a row; blocks per SM: 4 with one head a row, 3 with two, else 2), and every candidate of a
// max_context sequence within the row's blocks of kGridMaxSpan.
int adamas_grid_step_blocks(DType dtype, int head_dim, int heads_per_row, int capacity, int max_context, int rows,
                            int sm_count);

// Whether ADAMAS_STEP=auto takes the grid step where it serves (else the cluster or split step):
// one head a row, at most 64 rows, and either contexts past 96K or more than 32 rows from 48K on:
// where it was measured faster on the H200 (bench/results/2026-11-29-s13, call 7: MHA 32/32 batch 1
// 0.97x the cluster step's time at 128K, 1.01x at 96K, 1.06-1.09x at 48-64K; batch 2 0.86-0.89x the
// auto path's at 48K-128K; every GQA shape slower; more rows not measured).
bool adamas_grid_step_auto(int heads_per_row, int max_context, int rows);

// The step for `batch` sequences with `blocks` per row (adamas_grid_step_blocks), launched as a
// cooperative grid (every block resident at once, which the row barrier needs) on a device of
// `sm_count` multiprocessors (the plan's, so that launches query nothing). Outputs as
// launch_adamas_step.
void launch_grid_step(const GridStepArgs& args, int batch, int blocks, int sm_count, const KernelVariants& variants,
                      cudaStream_t stream);

}  // namespace adamas::cuda
