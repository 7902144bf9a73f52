// Run-time choice between kernel versions, so one benchmark run on the GPU can time the old and
// the new version side by side and a regression can be switched off without a rebuild.
// Read from the environment when a DecodePlan is built (docs/cuda_kernels.md, "Variants"):
//   ADAMAS_ESTIMATE_VARIANT = old | new | bulk   fused adamas estimate (v4 lane per token | v5 bounded |
//                                         v6 bounded with codes copied by cp.async.bulk per page)
//   ADAMAS_DENSE_VARIANT    = old | new | warp | mma   dense attention tiles (16 KiB | 32 KiB of K+V per
//                                         stage | 32 KiB with the tile's tokens split between the warps |
//                                         the same on the tensor cores for fp16/bf16, d 64/128 and 2-8
//                                         heads per KV head, else warp; the default since the
//                                         sixteenth session)
//   ADAMAS_PDL              = 0 | 1       programmatic dependent launch of compact and attention
//   ADAMAS_ASYM_VARIANT     = old | new | twopass | auto   asymmetric estimate (score + 4 radix passes | fused
//                                         score + select | fused, integer first pass then exact rescoring |
//                                         twopass with 4 heads per row in blocks of 8192 candidates, else new)
//   ADAMAS_ASYM_PART        = auto | 2048 | 4096 | 8192 | 16384   fused asymmetric estimate: candidates
//                                         per block (16384: one head a row, the float kernel)
//   ADAMAS_ASYM_CLUSTER     = auto | 1 | 2 | 4   fused asymmetric estimate: blocks per cluster sharing
//                                         their histograms (asymmetric.cu part_bound)
//   ADAMAS_ASYM_PROBE       = 0 .. 6     benchmarks only: the fused asymmetric estimates stop early
//                                         (SelectArgs::asym_probe says where)
//   ADAMAS_FUSED_ATTEND     = 0 | 1       DecodePlan::step of adamas: list compaction inside the
//                                         attention kernel (1) or a compaction kernel before it (0)
//   ADAMAS_STEP             = auto | cluster | grid | split   DecodePlan::step of adamas (L1, 2-bit
//                                         codes): the whole step in one launch where it was measured
//                                         faster | in one cluster launch (adamas_step.cu) wherever the
//                                         shape allows | in one cooperative launch of a block per SM
//                                         (grid_step.cu) wherever the shape allows | never (estimate,
//                                         compaction and attention launches)
//   ADAMAS_STEP_BLOCKS      = 3 | 2 | auto  the cluster step's blocks per SM with one or two heads a row
//                                         (auto: 2 where a cluster up to two blocks smaller fits
//                                         every row in one wave, adamas_step.cu)
//   ADAMAS_STEP_CLUSTER     = auto | 1..16  the cluster step's cluster size (tests, benchmarks)
//   ADAMAS_GRID_BLOCKS      = auto | 1..32  the grid step's blocks per row at most (auto: as many as
//                                         fit at once, up to 32)
//   ADAMAS_GRID_PER_SM      = auto | 2 | 4  the grid step's kernel with one head a row: 2 blocks per SM
//                                         (128 registers, two rounds of codes in flight) or 4 (64
//                                         registers); auto: 2 where the grid fits so (ADAMAS_GRID_BLOCKS
//                                         given) or 8 blocks a row do (automatic count)
//   ADAMAS_STEP_GATHER      = prefetch | plain   the one-launch steps ask L2 for every selected
//                                         row's K and V as soon as its cache row is known | attend_rows'
//                                         loads only (step_phases.cuh, positions_to_cache_rows)
//   ADAMAS_DENSE_SPLITS     = auto | N    dense attention: splits of the context per (sequence, head)
//                                         (auto: one wave of blocks; N: at most N, benchmarks)
//   Diagnostics: ADAMAS_ESTIMATE_PROBE = 0..4, ADAMAS_STEP_PROBE = 0..3, ADAMAS_STEP_SCHEDULE =
//   spread | balance, ADAMAS_STEP_VERBOSE = 0 | 1, ADAMAS_STEP_TRACE = 0 | 1, ADAMAS_STEP_TRACE_FILE = a
//   path (with the trace on, the grid step appends every block's stamps there as CSV),
//   ADAMAS_DENSE_TRACE = 0 | 1 (KernelVariants).
#pragma once

#include <initializer_list>
#include <string>

namespace adamas::cuda {

enum class EstimateVariant { kLanePerToken, kBounded, kBulk };
enum class DenseVariant { kTile16K, kTile32K, kWarpSplit, kMma };
enum class AsymVariant { kRadix, kFused, kTwoPass, kAuto };
enum class StepVariant { kAuto, kCluster, kGrid, kSplit };

enum class GridSkew { kOff, kWindow, kSpread };
enum class StepPdl { kOff, kOn, kAuto };

struct KernelVariants {
  EstimateVariant estimate = EstimateVariant::kLanePerToken;
  DenseVariant dense = DenseVariant::kTile16K;
  bool programmatic_launch = false;
  // The one-launch steps (grid, cluster) launched programmatically (ADAMAS_STEP_PDL=1, kOn), their wait
  // after the row's set-up (step_phases.cuh, wait_then_load_queries): LongChat-7B end to end 0.9%
  // faster with it, Llama-3-8B 2.6% / 10% slower at 32K / 128K, the isolated step 0.1-0.8 us slower
  // (bench/results/2026-11-30-s19, call 8). By default (ADAMAS_STEP_PDL=auto, kAuto)
  // only the grid step with one head a row that takes the current token from the q|k|v product
  // before it (the decoder's graph), where the kernel of 2 blocks per SM cannot crowd that product:
  // LongChat-7B 4.612 -> 4.596 ms at 32K, 6.220 -> 6.182 at 128K (bench/results/2026-11-30-s22,
  // call 5). 0 (kOff): never.
  StepPdl step_pdl = StepPdl::kOff;
  // The grid step shares a row's attention out when its selection gathers in a few blocks' spans
  // (ADAMAS_GRID_SHARE=1; grid_step.cu, share_attention); 0: each block attends its own positions.
  // Off by default: the kernel with it scans 12% slower (ptxas lays out the scan loop differently),
  // so the isolated step lost 1.7-3.5 us; end to end LongChat-7B gained 0.7% at 32K and lost 2% at
  // 128K (bench/results/2026-11-30-s20, calls 5-6).
  bool grid_share = false;
  // The one-launch steps ask L2 for each selected K/V row before attend_rows' rounds
  // (ADAMAS_STEP_GATHER=prefetch, the default; plain: without).
  bool step_gather_prefetch = true;
  // How the grid step meets a row whose selection gathers at one end of the context (the sink's or
  // the recent tokens' span; grid_step.cu): "spread" (the default) spreads the row's attention over
  // its blocks behind a second row barrier (attend_slice) and does what "window" does; "window" lowers
  // the threshold search's window to the row's lowest block bound (step::row_cut) and gives the
  // current token to the block with the fewest positions; "off" does neither (ADAMAS_GRID_SKEW).
  GridSkew grid_skew = GridSkew::kSpread;
  // The decoder's cache append of a sparse layer (ADAMAS_STEP_APPEND): "side" (the default) on a
  // second stream after the step, beside the o product, joined before the next layer; "chain" on
  // the step's stream, launched programmatically right behind the grid step
  // (DeviceKvCache::append_chained), and the grid step then lets its dependents launch only after
  // its own wait for the q|k|v product (the append reads k and v). Why: with the side stream in
  // the graph every plain launch in it (each RMSNorm) started 0.4 us after the kernel before, none
  // in full attention's one-stream graph: about 27 us a LongChat-7B token (bench/results/
  // 2026-12-01-s24, kernel timelines of call 6). Measured slower end to end (bench/results/2026-12-01-s25,
  // call 1: LongChat-7B 32K 4.523-4.532 against 4.510-4.515 ms): the o product then waits for the
  // append too, and the timelines' gaps beside the second stream did not show end to end.
  bool append_chain = false;
  AsymVariant asym = AsymVariant::kRadix;
  int asym_part = 0;  // candidates per block of the fused asymmetric estimate; 0: auto (asymmetric_part)
  int asym_cluster = 0;  // its blocks per cluster; 0: auto (asymmetric_cluster)
  bool fused_attend = false;
  StepVariant step = StepVariant::kAuto;
  int step_blocks = 3;   // the cluster step's blocks per SM with one or two heads a row; 0: auto
  int step_cluster = 0;  // the cluster step's cluster size; 0: the plan's (adamas_step_cluster)
  int grid_blocks = 0;   // the grid step's blocks per row at most; 0: as many as fit (adamas_grid_step_blocks)
  int grid_per_sm = 0;   // the grid step's blocks per SM with one head a row (2 or 4); 0: auto
  int dense_splits = 0;  // dense attention's splits per (sequence, head) at most; 0: auto (one wave)
  int asym_probe = 0;  // SelectArgs::asym_probe (ADAMAS_ASYM_PROBE)
  // Diagnostics (benchmarks only; adamas_fused.cu, adamas_step.cu):
  int estimate_probe = 0;      // ADAMAS_ESTIMATE_PROBE 0..4: the bulk L1 estimate's blocks end early
  int step_probe = 0;          // ADAMAS_STEP_PROBE 0..3: the cluster step's blocks end early
  bool step_balance = false;   // ADAMAS_STEP_SCHEDULE = spread | balance: cluster scheduling policy
  bool step_verbose = false;   // ADAMAS_STEP_VERBOSE = 0 | 1: clusters resident at most, per launch
  bool step_trace = false;     // ADAMAS_STEP_TRACE = 0 | 1: an extra eager launch with phase stamps
  std::string step_trace_file; // ADAMAS_STEP_TRACE_FILE: the grid step's trace, every block's stamps, appended as CSV
  bool dense_trace = false;    // ADAMAS_DENSE_TRACE = 0 | 1: the same for the attention kernels
};

// Value of environment variable `name`, or `fallback` when unset or empty; throws adamas::Error
// naming the variable for a value not in `allowed`. Shared by every run-time switch read here and
// by the GEMV's (gemv.cu).
std::string env_choice(const char* name, const char* fallback, std::initializer_list<const char*> allowed);

// Throws adamas::Error naming the variable for a value other than the ones listed above.
KernelVariants kernel_variants_from_env();
std::string describe(const KernelVariants& variants);  // "estimate=new dense=old pdl=1"

}  // namespace adamas::cuda
