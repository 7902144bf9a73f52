// The Llama-family decoder runtime: weights loaded from a Checkpoint, a dense chunked prefill and
// one-token decode steps over the paged KvCache, where each decode step's attention goes through
// the selection policy (full, streaming, quest, adamas, oracle). Evaluation code talks to the
// abstract DecoderRuntime, so the CUDA forward path can replace the CPU one behind it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "adamas/code_book.h"
#include "adamas/dtype.h"
#include "adamas/kv_cache.h"
#include "adamas/model/checkpoint.h"
#include "adamas/model/model_config.h"
#include "adamas/selector.h"

namespace adamas {

// A weight matrix [rows][cols], row-major (Hugging Face [out_features, in_features]), held in
// fp32, or in a 16-bit type (bf16/f16) and widened to fp32 per use.
struct WeightMatrix {
  int64_t rows = 0, cols = 0;
  DType dtype = DType::kF32;
  std::vector<float> f32;      // rows * cols when dtype == kF32
  std::vector<uint16_t> bits;  // rows * cols when dtype is kF16 or kBF16
  size_t bytes() const { return f32.size() * 4 + bits.size() * 2; }
};

struct LlamaLayerWeights {
  WeightMatrix q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj;
  std::vector<float> input_norm, post_attention_norm;
};

// How weights are held in memory. kAuto: fp32 when all weights in fp32 take at most
// max_f32_bytes, else bf16 (exact for bf16 checkpoints, one rounding for fp32/f16 ones).
enum class WeightPrecision { kAuto, kF32, kBF16 };
WeightPrecision parse_weight_precision(const std::string& name);  // "auto", "f32", "bf16"; throws

struct LoadOptions {
  WeightPrecision precision = WeightPrecision::kAuto;
  size_t max_f32_bytes = size_t{8} << 30;
};

class LlamaModel {
 public:
  // Reads every tensor of a Llama decoder of shape `config` (validate_llama_weights first: a
  // missing tensor or a wrong shape throws adamas::Error naming it). Throws on unsupported
  // configs (head_dim odd, rope parameters out of range) and non-finite weights.
  static LlamaModel load(const ModelConfig& config, const WeightSource& weights, const LoadOptions& options = {},
                         const std::string& source_name = "checkpoint");
  static LlamaModel load(const Checkpoint& checkpoint, const LoadOptions& options = {});

  const ModelConfig& config() const { return config_; }
  const WeightMatrix& embed_tokens() const { return embed_tokens_; }
  const WeightMatrix& lm_head() const { return config_.tie_word_embeddings ? embed_tokens_ : lm_head_; }
  const LlamaLayerWeights& layer(int index) const { return layers_.at(index); }
  const std::vector<float>& final_norm() const { return final_norm_; }
  size_t weight_bytes() const;
  int64_t parameter_count() const;

 private:
  ModelConfig config_;
  WeightMatrix embed_tokens_, lm_head_;
  std::vector<LlamaLayerWeights> layers_;
  std::vector<float> final_norm_;
};

struct RuntimeOptions {
  SelectorOptions selector;       // policy, token_budget, sink_tokens, per_query_head, thresholds
  int dense_layers = 2;           // the first layers attend densely at every decode step (as Quest)
  int page_size = kDefaultPageSize;
  DType kv_dtype = DType::kF16;   // cache element type; f32 for parity with a reference
  int max_context = 4096;         // cache capacity in tokens (prompt + generated)
  int prefill_chunk = 512;        // tokens per dense prefill chunk
  int code_bits = 2;              // key-code bits (1..3; 2 is the method), see code_book.h
  bool code_hadamard = true;      // rotate keys before coding (off: an ablation)
  // Fit every layer's code book to the model's own keys (calibrate_code_book of code_book.h:
  // thresholds at `calibration_quantiles` of the rotated cached keys, empty = equal mass) once a
  // sequence holds calibrate_after_tokens tokens; 0 = off, the thresholds above are used as given.
  // Each new sequence (reset) starts from the given thresholds and calibrates again.
  int calibrate_after_tokens = 0;
  std::vector<double> calibration_quantiles;
};
// Throws adamas::Error naming the first bad option (also checks the selector options).
void check_runtime_options(const RuntimeOptions& options, const ModelConfig& config);
// set_selector's rule: a runtime's cached key codes fix its thresholds. Throws unless equal.
void check_same_thresholds(const Thresholds& requested, const Thresholds& runtime);

// What the last decode step did, for reports.
struct DecodeStepStats {
  int context = 0;             // cached tokens the step attended over (the new token included)
  double kv_bytes_read = 0;    // all layers: bytes the attention step must read (decode_step_bytes model)
  double dense_kv_bytes = 0;   // the same for full attention in every layer
  double seconds = 0;          // wall time of the whole step (embedding to logits)
  double attention_seconds = 0;  // selection + attention, all layers
};

// The byte model behind DecodeStepStats, one place for both runtimes: the bytes the attention of
// `layer` must read from the cache at a batch-1 decode step over `context` cached tokens (the new
// one included). decode_step_bytes of Policy::kFull in layers < options.dense_layers (and in every
// layer under Policy::kFull), of options.selector.policy in the others; it counts the selected
// K/V rows plus what the policy's estimate reads (key codes, page min/max, every K for oracle).
double layer_kv_bytes_read(const RuntimeOptions& options, const ModelConfig& config, int layer, int context);
// The same step under full attention in every layer (DecodeStepStats::dense_kv_bytes): K and V of
// all `context` tokens, every KV head, every layer.
double dense_kv_bytes_read(const RuntimeOptions& options, const ModelConfig& config, int context);

// Sees every decode step's attention inputs: called per layer once the new token's K/V are in
// the cache (view includes it) and before the attention step. q: fp32 [num_q_heads][head_dim]
// after RoPE; view and q are in host memory on every runtime. Used by the recall evaluation and
// the CUDA-against-CPU checks; must not keep the pointers.
class AttentionObserver {
 public:
  virtual ~AttentionObserver() = default;
  virtual void on_decode_attention(int layer, const PagedKvView& view, const float* q, int num_q_heads) = 0;
  // The selection the attention step of a sparse `layer` then used, from runtimes whose selector
  // stands apart from the attention (the CUDA runtime); the CPU runtime does not call it.
  virtual void on_decode_selection(int /*layer*/, const TokenSelection& /*selection*/) {}
};

// The attention step of one decode layer: selection by the policy, then attention over the
// selected positions. The swappable piece of a backend.
class DecodeAttention {
 public:
  virtual ~DecodeAttention() = default;
  // view: batch-1 layer view with the current token appended; q, out: fp32 [num_q_heads][head_dim].
  virtual void attend(int layer, const PagedKvView& view, const float* q, int num_q_heads, float* out) = 0;
  // Bytes the attention of `layer` reads at a step with `context` cached tokens.
  virtual double bytes_read(int layer, int context) const = 0;
};

// CPU attention step: layers < dense_layers and policy full attend densely (contiguous path of
// decode_attention_cpu); the others select with select_tokens_cpu, then decode_attention_cpu.
std::unique_ptr<DecodeAttention> make_cpu_decode_attention(const RuntimeOptions& options, const ModelConfig& config);

// One sequence being decoded. prefill() and decode() append to it; reset() empties it.
class DecoderRuntime {
 public:
  virtual ~DecoderRuntime() = default;
  virtual const ModelConfig& config() const = 0;
  virtual const RuntimeOptions& options() const = 0;
  virtual std::string device_name() const = 0;
  virtual void reset() = 0;
  // Tokens in the cache (the position the next token gets).
  virtual int position() const = 0;
  // Dense causal prefill of `tokens` in chunks. logits: when non-null, resized to [count][vocab]
  // fp32 for all_positions, else to [vocab] for the last token. Throws adamas::Error on a token
  // id outside the vocab or a context beyond max_context.
  virtual void prefill(const std::vector<int32_t>& tokens, std::vector<float>* logits, bool all_positions = false) = 0;
  // One decode step of `token` at position(): the policy's attention in every layer.
  // logits: fp32 [vocab] (may be null). Same errors as prefill.
  virtual void decode(int32_t token, float* logits) = 0;
  virtual const DecodeStepStats& last_step() const = 0;
  // Attention observer of the decode steps (null: none); the CUDA runtime then steps eagerly and
  // copies each layer's cache to the host, for checks rather than speed.
  virtual void set_observer(AttentionObserver* observer) = 0;
  // The key-code format of `layer` in use now (changes when calibration runs).
  virtual CodeBook code_book(int layer) const = 0;
  // Forgets every token after the first `length` (0 <= length <= position()): the cache, the
  // Quest page bounds of a partially kept page and the calibration state then equal those of a
  // fresh prefill of the kept tokens, so decoding continues as after that prefill. Evaluations
  // use it to share one prefill across many decode configurations. Throws on a bad length.
  virtual void rewind(int length) = 0;
  // Switches the decode policy, budget and other selector options of this runtime for the next
  // decode steps, validated as at construction. The key codes in the cache were written with the
  // runtime's thresholds, so `selector.thresholds` must equal them (else adamas::Error: build a
  // new runtime); the CUDA runtime also keeps its estimator.
  virtual void set_selector(const SelectorOptions& selector) = 0;
};

// The CPU runtime (OpenBLAS for the matrix products, OpenMP elsewhere). `model` must outlive it.
// attention == nullptr: make_cpu_decode_attention(options).
std::unique_ptr<DecoderRuntime> make_cpu_runtime(const LlamaModel& model, const RuntimeOptions& options,
                                                 std::unique_ptr<DecodeAttention> attention = nullptr);
// "cpu" or "cuda" (throws adamas::Error until the CUDA forward path exists).
std::unique_ptr<DecoderRuntime> make_runtime(const std::string& device, const LlamaModel& model,
                                             const RuntimeOptions& options);

}  // namespace adamas
