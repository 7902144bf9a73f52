// The Llama forward pass on the GPU: cuBLAS for the weight products (bf16 or fp32 weights, fp32
// activations and accumulation), our kernels for everything else (RMSNorm, RoPE, the fused key
// append, the selectors and flash-decoding attention of cuda_backend.h). A batch of sequences
// decodes one token each per step; the step can be replayed as a CUDA graph. No CUDA types here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "adamas/dtype.h"
#include "adamas/model/llama_model.h"
#include "adamas/model/model_config.h"
#include "adamas/model/weight_source.h"

namespace adamas::cuda {

struct CudaDecoderOptions {
  RuntimeOptions runtime;            // policy, budget, dense layers, page size, KV dtype, max_context,
                                     // code bits/rotation and estimator (asymmetric: 2-bit codes only)
  int max_batch = 1;
  DType weight_dtype = DType::kBF16;  // kF32 for parity checks, kBF16 for speed
  // Weight products: kOwn is our GEMV with the step's elementwise work folded into its write
  // (bf16 weights, batch <= 16; src/cuda/gemv.h), kCublas the cuBLAS products and separate kernels.
  // kAuto takes kOwn up to batch 8 (kGemvAutoMaxBatch) unless the environment says
  // ADAMAS_GEMV=cublas (or ADAMAS_GEMV=own: up to batch 16).
  enum class Gemv { kAuto, kOwn, kCublas };
  Gemv gemv = Gemv::kAuto;
};

// Time of one decode step by kind of work, milliseconds (events around each launch group, so a
// little slower than a graph replay).
struct StepProfile {
  double matmul_ms = 0, attention_ms = 0, other_ms = 0, total_ms = 0;
};

class CudaDecoder {
 public:
  struct Impl;
  // Validates like the CPU runtime (plus the CUDA backend's shape support) and allocates weights,
  // cache and workspaces. Throws adamas::Error without a GPU or on unsupported shapes/options.
  CudaDecoder(const ModelConfig& config, const CudaDecoderOptions& options);
  ~CudaDecoder();
  CudaDecoder(const CudaDecoder&) = delete;
  CudaDecoder& operator=(const CudaDecoder&) = delete;

  const ModelConfig& config() const;
  const CudaDecoderOptions& options() const;
  // The weight products this decoder runs: "own" (src/cuda/gemv.h) or "cublas" (options().gemv).
  std::string gemv_in_use() const;
  // Copies weights (Hugging Face names, as WeightSource gives them).
  void load_weights(const WeightSource& weights);
  // Same, from a model already in host memory.
  void load_weights(const LlamaModel& model);
  // Random weights (normal, std 0.02; norms 1) for speed measurements: same bytes, same work.
  void randomize_weights(uint64_t seed);

  // Empties every sequence (batch = max_batch, all at position 0).
  void reset();
  int position(int seq) const;
  // Fills every sequence's cache with `context` tokens of random post-RoPE K/V in every layer
  // (through the fused append kernel, so codes and page bounds are real): decode-only benchmarks.
  void fill_random_context(int context, uint64_t seed);

  // One decode step for every sequence: tokens [max_batch] (host), at each sequence's position;
  // logits (host, may be null) [max_batch][vocab]; dense_attention: every layer attends densely
  // (prompt tokens). Throws on a bad token or a full cache. Each variant (dense_attention, logits
  // or not) runs eagerly once and is then replayed as a CUDA graph (ADAMAS_NO_GRAPH=1 at
  // construction: always eager); both give bit-identical results.
  void decode(const int32_t* tokens, float* logits, bool dense_attention = false);
  // Dense causal prefill of `count` tokens (host) of sequence `seq` at its position, in chunks of
  // up to runtime.prefill_chunk tokens: batched products over the chunk's rows, the fused append,
  // and the prefill attention kernel (each token attends to every cached position up to its own).
  // logits (host, may be null): [count][vocab] when all_positions, else the last token's [vocab].
  // Throws on a bad sequence, a bad token or a full cache.
  void prefill(int seq, const int32_t* tokens, int count, float* logits, bool all_positions = false);
  // Cuts sequence `seq` back to its first `length` tokens (DecoderRuntime::rewind): page bounds
  // of a partially kept page are rebuilt; the next token goes to position `length`.
  void rewind(int seq, int length);
  // Switches the policy/budget/selector options of the decode steps (DecoderRuntime::set_selector:
  // thresholds and estimator stay those of construction). Plans a new DecodePlan and drops the
  // captured step graphs; not for the per-token path.
  void set_selector(const SelectorOptions& selector);
  // Calibrated code books (RuntimeOptions::calibrate_after_tokens): fits every layer's book to the
  // keys cached now, with the CPU runtime's rule and numbers (calibrate_device_code_books of
  // cuda_backend.h), and re-encodes them; reset_code_books returns to the initial books
  // (initial_code_book of kv_cache.h: the options' thresholds at 2 bits), as the CPU runtime.
  // Synchronous; drops the captured step graphs. code_book: the layer's book in use.
  void calibrate_code_books(const std::vector<double>& quantiles);
  void reset_code_books();
  const CodeBook& code_book(int layer) const;
  // Attention observer of the decode steps (DecoderRuntime::set_observer; null: none), batch 1
  // only. While one is set, steps run eagerly (no graph) and synchronize in every layer: the
  // layer's cache, lengths and q are copied to the host for on_decode_attention, and a sparse
  // layer's selection, once made, for on_decode_selection.
  void set_observer(AttentionObserver* observer);
  // Median milliseconds of a decode step replayed as a CUDA graph (tokens fixed; positions do not
  // advance: each replay redoes the same step).
  double graph_step_ms(int iterations);
  // Captures of a step graph found invalidated so far (another thread's device-synchronizing call
  // during the capture; capture_lock.cuh keeps CudaDecoders from doing that): the step had run
  // eagerly and the capture is redone later. 0 unless something outside the lock interfered.
  int graph_capture_retries() const;
  // Diagnostics: cache appends chained behind the grid step on its own stream so far
  // (ADAMAS_STEP_APPEND=chain), counted as steps are enqueued (eager runs and graph captures, not
  // replays).
  int chained_appends() const;
  StepProfile profile_step();
  // Timing probe for graph-mode splits (bench-e2e --graph-split): the step graphs captured after
  // this leave out the named parts, each of norms, append, attention, products (none: the whole
  // step); the step time without a part, against the whole step's, is what that part costs inside
  // the graph (launch gaps and overlaps included, which the eager profile_step cannot see). The
  // steps' results are then meaningless. Drops the captured graphs; throws on an unknown part.
  void set_graph_skip(const std::vector<std::string>& parts);
  // Bytes a decode step must read: weights plus the attention's cache reads (decode_step_bytes).
  double step_bytes() const;

 private:
  std::unique_ptr<Impl> impl_;
};

// Built-in shapes for speed runs: "longchat-7b", "llama3-8b" (or a config.json path).
ModelConfig model_shape(const std::string& name);

// A batch-1 DecoderRuntime over CudaDecoder (chunked dense prefill, graph-replayed decode steps).
std::unique_ptr<DecoderRuntime> make_cuda_runtime(const LlamaModel& model, const RuntimeOptions& options);

}  // namespace adamas::cuda

namespace adamas {

// `adamas bench-e2e`: end-to-end decode speed of a model shape with random weights on the GPU.
// The cache of every sequence is filled directly with `context` random post-RoPE K/V (through the
// fused append kernel), then decode steps are timed as CUDA-graph replays.
struct BenchE2eOptions {
  std::string shape = "longchat-7b";  // or llama3-8b, or a config.json path
  std::vector<int> contexts = {8192, 32768, 131072};
  std::vector<Policy> policies = {Policy::kFull, Policy::kAdamas};
  std::vector<int> budgets = {64, 256, 1024};
  std::vector<int> batches = {1};
  // Weight products per configuration: "auto" (CudaDecoder's choice), "own" (our GEMV, gemv.h),
  // "cublas": several for an A/B in one run.
  std::vector<std::string> gemvs = {"auto"};
  int dense_layers = 2;
  DType weight_dtype = DType::kBF16;
  DType kv_dtype = DType::kF16;
  int iterations = 20;
  uint64_t seed = 1;
  double memory_limit_gib = 120;  // configurations whose weights + cache exceed this are skipped
  bool graph_split = false;       // also time the step graph without each part (BenchE2eRow::graph_ms_without)
  // When set, a path prefix: each configuration's kernels in one graph replay (CUPTI's records,
  // kernel_timeline.h) go to <prefix>_<shape>_c<context>_<policy>_b<budget>_n<batch>.jsonl. CUPTI is
  // then on for the whole run, timings included.
  std::string timeline;
};

struct BenchE2eRow {
  std::string shape;
  int batch = 1, context = 0, budget = 0;
  Policy policy = Policy::kFull;
  std::string gemv = "own";          // what ran: "own" or "cublas" (gemv_in_use)
  bool skipped = false;               // did not fit in memory_limit_gib
  double ms_per_step = 0;             // CUDA-graph replay, median
  double tokens_per_second = 0;       // batch / step time
  double matmul_ms = 0, attention_ms = 0, other_ms = 0;  // one profiled (un-graphed) step
  double bytes_per_step = 0, achieved_gb_per_s = 0;
  double speedup_vs_full = 0;         // same shape, batch, context
  // BenchE2eOptions::graph_split: graph-replay step time without each part (norms, append,
  // attention, products; CudaDecoder::set_graph_skip), then without all four, without all but the
  // products and without all but the attention (names joined by '+'), median ms. Empty otherwise.
  std::vector<std::pair<std::string, double>> graph_ms_without;
};

struct BenchE2eReport {
  std::string device_name;
  double copy_gb_per_s = 0;
  std::vector<BenchE2eRow> rows;
};

BenchE2eReport run_bench_e2e(const BenchE2eOptions& options);

}  // namespace adamas
