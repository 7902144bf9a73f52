// Weight products of the decode step at small batch (1..16 sequences): y[s][r] = sum_i W[r][i] * x[s][i]
// with bf16 weights row-major [out][in] (the Hugging Face layout), bf16 inputs [batch][in] and fp32
// accumulation. At batch 1..16 a product is a stream over the weights, so the kernel is built to read
// them at the copy bandwidth (docs/cuda_kernels.md, "Weight products"); the decode step's elementwise
// work after a product (residual add, SwiGLU, RoPE and the q/k/v split) is folded into its write.
// No CUDA types here: streams are opaque handles as in cuda_backend.h.
#pragma once

#include <cstdint>

#include "adamas/cuda_backend.h"

namespace adamas::cuda {

constexpr int kGemvMaxBatch = 16;
// Largest batch CudaDecoder picks this GEMV for by itself (CudaDecoderOptions::Gemv::kAuto): every
// warp reads the batch's inputs through L1, batch x 16 B per 16 B of weights, so from about batch 8
// on L1, not DRAM, may bound it and cuBLAS's tensor-core GEMM may win (bench-e2e --gemv own,cublas).
constexpr int kGemvAutoMaxBatch = 8;

// What the product does with each dot product, row r, sequence s.
enum class GemvEpilogue {
  kStore,       // y[s][r] = dot
  kAccumulate,  // y[s][r] += dot: the residual add of the output and down projections
  kSwiGlu,      // rows r and r + out/2 are gate and up (the fused gate|up weight): act[s][r] =
                // bf16(silu(gate) * up) for r < out/2, the down projection's input
  kRopeSplit,   // rows are the fused q|k|v heads of head_dim rows each: RoPE (rotate_half, as
                // transformers) on the q and k heads, written as q [s][q_heads][d], k and v [s][kv_heads][d]
};

struct GemvProblem {
  const uint16_t* weight = nullptr;  // bf16 bits, [out][in] row-major
  const uint16_t* input = nullptr;   // bf16 bits, [batch][in]
  // Or, instead of `input`: fp32 [batch][in], rounded to bf16 as it is read (the cast to the
  // product's input type folded into the read: same values as casting first).
  const float* input_f32 = nullptr;
  int out = 0, in = 0, batch = 1;
  GemvEpilogue epilogue = GemvEpilogue::kStore;
  float* y = nullptr;                // kStore, kAccumulate: fp32 [batch][out]
  uint16_t* act = nullptr;           // kSwiGlu: bf16 bits [batch][out / 2]
  // kRopeSplit: positions [batch] (device), inv_freq [head_dim / 2] (rope_inv_freq), outputs fp32.
  const int32_t* positions = nullptr;
  const float* inv_freq = nullptr;
  int q_heads = 0, kv_heads = 0, head_dim = 0;
  float* q = nullptr;
  float* k = nullptr;
  float* v = nullptr;
  // Warps that share a pair of rows, each summing a contiguous slice of `in` (the block adds the
  // slices in order): 0 chooses from the grid (gemv_k_slices), 1, 2 or 4 force a split (tests).
  int k_slices = 0;
  // Programmatic dependent launch (sm_90): the product's blocks may start while the kernel before
  // it in the stream runs, and request their first weights before waiting for it (the weights are
  // no kernel's output; the input, outputs and positions are read after the wait).
  bool programmatic = false;
  // Blocks per multiprocessor the kernel is compiled for at batch 1-2: 4 (64 registers: 32 warps, a
  // third more loads in flight than at 3) or 0, no bound (72-77 registers at batch 1: 3 blocks).
  // Larger batches always take 0 (not measured faster; batch 16's accumulators spill at 64).
  // ADAMAS_GEMV_BLOCKS.
  int min_blocks = 4;
  // kAccumulate only: the product lets its dependents launch once its weights are read instead of at
  // its start, for an RMSNorm launched programmatically behind it (CudaDecoder, ADAMAS_NORM_PDL): its
  // one block would otherwise take a multiprocessor's threads from the product for the product's
  // whole length. Where gemv_late_trigger_compiled (else ignored).
  bool late_trigger = false;
};

// Whether a kAccumulate product at `batch` with `min_blocks` has its late-trigger kernel
// (GemvProblem::late_trigger): batch 1-2 at 4 blocks per SM.
constexpr bool gemv_late_trigger_compiled(int batch, int min_blocks) { return batch <= 2 && min_blocks == 4; }

// Launches the product on `stream` (device pointers; no allocation, capturable in a graph). Any `in`
// works: rows are read with 16-byte loads when in % 8 == 0 (and the pointers are 16-byte aligned, as
// cudaMalloc's are), element by element otherwise. Throws adamas::Error on a batch outside
// 1..kGemvMaxBatch or shapes that do not match the epilogue.
void gemv_bf16(const GemvProblem& problem, StreamHandle stream = nullptr);

// The split gemv_bf16 takes for problem.k_slices == 0 on a device of `sm_count` multiprocessors:
// `in` is split over 2 or 4 warps per pair until the grid holds about eight waves of warps (32 per
// SM; two waves above batch 2), keeping at least one full round of loads (32 lanes x the batch's unroll x 16 B per row) in
// every slice: short warps that each issue their loads and leave keep more bytes in flight than
// long ones that wait on each round (every 7B product at batch 1 took 4 slices: LongChat-7B 3.84
// against 3.99 ms of products per step on the H200, ninth session). Except the residual products
// (kAccumulate: o, down) of the 4-per-SM kernel at batch 1-2: the largest split of 4 or 2 whose
// blocks all fit at once (4 per SM), where one does. Their first rounds are then all requested
// while the kernel before runs (programmatic launch) and the next follow with no second wave to
// launch: LongChat-7B at 32K 4.48 against 4.57 ms a token with o and down at 2 slices instead of 4,
// full attention 8.05 against 8.14 (the 7B shapes' 2048 pairs; bench/results/2026-12-01-s24, call 8).
// 1 when in % 8 != 0.
int gemv_k_slices(const GemvProblem& problem, int sm_count);

// GemvProblem::k_slices from ADAMAS_GEMV_SPLIT (auto -> 0, 1, 2, 4; unset: auto), for side-by-side
// runs of the split in bench-e2e. Throws adamas::Error naming the variable on another value.
int gemv_k_slices_from_env();
// GemvProblem::programmatic from ADAMAS_GEMV_PDL (0 or 1; unset: 1). Throws on another value.
bool gemv_programmatic_from_env();
// GemvProblem::min_blocks from ADAMAS_GEMV_BLOCKS (4 or "free" -> 0; unset: 4). Throws on another value.
int gemv_min_blocks_from_env();

// The reference: the same problem on host pointers, fp32 math with double accumulation of the dot
// products, the epilogues written out step by step as the unfused kernels of the decode step do.
void gemv_bf16_ref(const GemvProblem& problem);

}  // namespace adamas::cuda
