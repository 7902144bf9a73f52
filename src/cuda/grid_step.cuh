// The whole Adamas decode step (L1 estimate, top-k, sparse attention) in one cooperative launch of
// 2-4 blocks per multiprocessor: a row's blocks meet through global memory (histogram words polled
// until written, and a ticket) instead of a thread-block cluster, so the blocks spread evenly over the multiprocessors
// (clusters are placed within a GPC). Layout and rules: docs/cuda_kernels.md, "Grid step".
#pragma once

#include "adamas/dtype.h"
#include "cuda/adamas_step.cuh"
#include "cuda/kernel_variants.cuh"

namespace adamas::cuda {

constexpr int kGridMaxSpan = 20480;       // candidates per block: their distances stay in shared memory
constexpr int kGridMaxBlocksPerRow = 32;  // a lane of one warp per block in the threshold search
// A block's published bins, then its bound (step::row_cut) at kHistStride; a multiple of 4 words, so
// that the last block resets a row's histograms with 16-byte stores (grid_step.cu).
constexpr int kGridHistStride = (kHistStride + 1 + 3) / 4 * 4;
static_assert(kGridHistStride % 4 == 0 && kHistStride < kGridHistStride, "16-byte resets of every bin and the bound");

struct GridStepArgs : StepArgs {  // the cluster step's arguments, then the workspaces:
  int* sync;          // [rows][2]: the spread's barrier arrivals, tickets; zero between launches (the last block resets them)
  int* listed;        // [rows][blocks per row]: 1 once the block's part of the row's list is written (zero between launches)
  // Polled without a barrier: all ones (step::kUnwritten) between launches, which the row's last
  // block restores; the workspace starts so (cuda_backend.cu).
  int* histograms;    // [rows][blocks per row][kGridHistStride]: each block's cumulative distance histogram, then its bound
  float* partials;    // [rows][blocks per row][HEADS][D + 2]: each block's output, then max and sum per head
};

// Workspace sizes for a plan of `sm_count` multiprocessors (at most kGridMaxBlocksPerSm blocks each).
constexpr int kGridMaxBlocksPerSm = 4;
inline size_t grid_step_listed_ints(int sm_count) { return static_cast<size_t>(kGridMaxBlocksPerSm) * sm_count; }
inline size_t grid_step_histogram_ints(int sm_count) {
  return static_cast<size_t>(kGridMaxBlocksPerSm) * sm_count * kGridHistStride;
}
inline size_t grid_step_partial_floats(int sm_count) {
  return static_cast<size_t>(kGridMaxBlocksPerSm) * sm_count * (1024 + 2 * kMaxGroup);  // heads * d <= 1024
}

// Blocks per row of the grid step for `rows` selection rows (0: it does not serve them): fp16/bf16
// K/V, d 64/128/256, 1, 2, 4 or 8 query heads per row with heads * d <= 1024, capacity <=
// kStepMaxList, every block resident at once, and every candidate of a max_context sequence within
// the row's blocks of kGridMaxSpan. The count: ADAMAS_GRID_BLOCKS (at most), else as many as fill
// the SMs at 2 blocks each with one head a row where 8 or more a row fit so (the kernel of 128
// registers), else 4 (64 registers), and at one block each with more heads; never more than
// kGridMaxBlocksPerRow (ADAMAS_GRID_PER_SM picks the one-head kernel; grid_step.cu).
int adamas_grid_step_blocks(DType dtype, int head_dim, int heads_per_row, int capacity, int max_context, int rows,
                            int sm_count, const KernelVariants& variants);

// Whether ADAMAS_STEP=auto takes the grid step where it serves (else the cluster or split step),
// where it was measured faster on the H200:
//  - one head a row: at most 32 rows from 32K on, 33-64 rows from 48K on (bench/results/
//    2026-11-30-s18, call 2, MHA 32/32 batch 1: 27.1 / 38.1 us at 32K / 64K against the cluster
//    step's 28.5 / 41.7, 58.5 at 128K; 8K 18.7 against 17.7; 2026-11-29-s13: batch 2 0.86-0.89x the
//    auto path's time at 48K-128K);
//  - four heads a row (GQA 32/8): at most 16 rows from 8K on (call 2, batch 1: 20.6 / 25.7 / 45.3 us
//    at 8K / 32K / 128K against 21.0 / 28.5 cluster and 48.9 split);
//  - more rows and other groupings were not measured.
bool adamas_grid_step_auto(int heads_per_row, int max_context, int rows);

// The step for `batch` sequences with `blocks` per row (adamas_grid_step_blocks), launched as a
// cooperative grid (every block resident at once, which the row barrier needs) on a device of
// `sm_count` multiprocessors (the plan's, so that launches query nothing). Outputs as
// launch_adamas_step.
void launch_grid_step(const GridStepArgs& args, int batch, int blocks, int sm_count, const KernelVariants& variants,
                      cudaStream_t stream);

}  // namespace adamas::cuda
