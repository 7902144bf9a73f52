// CPU forward pass of a Llama-family decoder. Activations are fp32 row-major [tokens][features];
// weights are [out_features][in_features] (Hugging Face layout), so every projection is
// Y = X * W^T: one cblas_sgemm per projection and chunk in prefill, cblas_sgemv in decode.
// 16-bit weights are widened in row tiles right before the BLAS call.
#include "adamas/model/llama_model.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "adamas/attention.h"
#include "adamas/cuda_decoder.h"
#include "adamas/bench_attn.h"
#include "adamas/code_book.h"
#include "adamas/error.h"
#include "adamas/hadamard.h"
#include "attention/prefill_attention.h"
#include "cpu/cpu_features.h"
#include "model/rope.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace adamas {

namespace {

// Rows of a 16-bit weight widened to fp32 per sgemm call in prefill: 256 rows x 4096 columns is
// 4 MiB of fp32, small next to the activations and large enough for sgemm to run at speed.
constexpr int64_t kWidenTileRows = 256;

WeightMatrix make_matrix(const std::vector<float>& values, int64_t rows, int64_t cols, DType dtype) {
  WeightMatrix matrix;
  matrix.rows = rows;
  matrix.cols = cols;
  matrix.dtype = dtype;
  if (dtype == DType::kF32) {
    matrix.f32 = values;
  } else {
    matrix.bits.resize(values.size());
    for (size_t i = 0; i < values.size(); ++i)
      matrix.bits[i] = dtype == DType::kBF16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
  }
  return matrix;
}

void widen_row(const WeightMatrix& w, int64_t row, float* out) {
  const size_t base = static_cast<size_t>(row) * w.cols;
  if (w.dtype == DType::kF32) {
    std::copy(w.f32.begin() + base, w.f32.begin() + base + w.cols, out);
  } else {
    for (int64_t c = 0; c < w.cols; ++c) out[c] = load_as_f32(w.bits.data(), w.dtype, base + c);
  }
}

float dot_16bit_scalar(const uint16_t* row, DType dtype, const float* x, int64_t n) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t i = 0; i < n; ++i) lane[i & 7] += load_as_f32(row, dtype, i) * x[i];
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma,f16c"))) inline __m256 widen8_avx2(const uint16_t* p, DType dtype) {
  const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return dtype == DType::kF16 ? _mm256_cvtph_ps(bits)
                              : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
}

__attribute__((target("avx2,fma,f16c"))) float dot_16bit_avx2(const uint16_t* row, DType dtype, const float* x,
                                                               int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(widen8_avx2(row + i, dtype), _mm256_loadu_ps(x + i), acc0);
    acc1 = _mm256_fmadd_ps(widen8_avx2(row + i + 8, dtype), _mm256_loadu_ps(x + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(widen8_avx2(row + i, dtype), _mm256_loadu_ps(x + i), acc0);
  const __m256 sum = _mm256_add_ps(acc0, acc1);
  __m128 half = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
  half = _mm_add_ps(half, _mm_movehl_ps(half, half));
  half = _mm_add_ss(half, _mm_movehdup_ps(half));
  float result = _mm_cvtss_f32(half);
  for (; i < n; ++i) result += load_as_f32(row, dtype, i) * x[i];
  return result;
}
#endif

float dot_f32_scalar(const float* a, const float* b, int64_t n) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t i = 0; i < n; ++i) lane[i & 7] += a[i] * b[i];
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) float dot_f32_avx2(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  const __m256 sum = _mm256_add_ps(acc0, acc1);
  __m128 half = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
  half = _mm_add_ps(half, _mm_movehl_ps(half, half));
  half = _mm_add_ss(half, _mm_movehdup_ps(half));
  float result = _mm_cvtss_f32(half);
  for (; i < n; ++i) result += a[i] * b[i];
  return result;
}
#endif

// One row of w times x.
float row_dot(const WeightMatrix& w, int64_t row, const float* x, bool use_avx2) {
  const size_t base = static_cast<size_t>(row) * w.cols;
#if defined(__x86_64__)
  if (use_avx2)
    return w.dtype == DType::kF32 ? dot_f32_avx2(w.f32.data() + base, x, w.cols)
                                  : dot_16bit_avx2(w.bits.data() + base, w.dtype, x, w.cols);
#endif
  (void)use_avx2;
  return w.dtype == DType::kF32 ? dot_f32_scalar(w.f32.data() + base, x, w.cols)
                                : dot_16bit_scalar(w.bits.data() + base, w.dtype, x, w.cols);
}

// y[T][w.rows] = x[T][w.cols] * w^T (+ y when accumulate).
// Threading is OpenMP's alone: each thread multiplies its own block of weight rows, with OpenBLAS
// running single-threaded inside it (CpuRuntime sets that). Letting OpenBLAS's thread pool and
// OpenMP's spinning workers alternate cost 3-6x in decode on a 2-core machine.
void linear(const WeightMatrix& w, const float* x, int T, float* y, bool accumulate) {
  const int64_t rows = w.rows, cols = w.cols;
  if (T == 1) {
    bool use_avx2 = false;
#if defined(__x86_64__)
    use_avx2 = cpu_has_avx2() && vector_paths_enabled();
#endif
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t r = 0; r < rows; ++r) {
      const float value = row_dot(w, r, x, use_avx2);
      y[r] = accumulate ? y[r] + value : value;
    }
    return;
  }
  const float beta = accumulate ? 1.0f : 0.0f;
#pragma omp parallel
  {
    const int threads = omp_get_num_threads(), thread = omp_get_thread_num();
    // Row blocks in multiples of 16 (sgemm's register tile), one contiguous range per thread.
    const int64_t per_thread = ((rows + threads - 1) / threads + 15) / 16 * 16;
    const int64_t begin = std::min<int64_t>(rows, per_thread * thread), end = std::min<int64_t>(rows, begin + per_thread);
    if (w.dtype == DType::kF32) {
      if (end > begin)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, static_cast<int>(end - begin), static_cast<int>(cols),
                    1.0f, x, static_cast<int>(cols), w.f32.data() + static_cast<size_t>(begin) * cols,
                    static_cast<int>(cols), beta, y + begin, static_cast<int>(rows));
    } else {
      std::vector<float> tile(static_cast<size_t>(std::min<int64_t>(kWidenTileRows, std::max<int64_t>(1, end - begin))) * cols);
      for (int64_t r0 = begin; r0 < end; r0 += kWidenTileRows) {
        const int64_t tile_rows = std::min<int64_t>(kWidenTileRows, end - r0);
        for (int64_t r = 0; r < tile_rows; ++r) widen_row(w, r0 + r, tile.data() + static_cast<size_t>(r) * cols);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, static_cast<int>(tile_rows), static_cast<int>(cols),
                    1.0f, x, static_cast<int>(cols), tile.data(), static_cast<int>(cols), beta, y + r0,
                    static_cast<int>(rows));
      }
    }
  }
}

// Hugging Face LlamaRMSNorm in fp32: weight * (x * rsqrt(mean(x^2) + eps)).
void rms_norm(const float* x, const std::vector<float>& weight, float eps, int T, int n, float* out) {
#pragma omp parallel for schedule(static) if (T > 1)
  for (int t = 0; t < T; ++t) {
    const float* row = x + static_cast<size_t>(t) * n;
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += static_cast<double>(row[i]) * row[i];
    const float variance = static_cast<float>(sum / n);
    const float inverse = 1.0f / std::sqrt(variance + eps);
    float* result = out + static_cast<size_t>(t) * n;
    for (int i = 0; i < n; ++i) result[i] = weight[i] * (row[i] * inverse);
  }
}

std::vector<float> load_vector(const WeightSource& weights, const std::string& name, const std::string& source_name) {
  std::vector<float> values = weights.load_f32(name);
  for (const float v : values) ADAMAS_CHECK(std::isfinite(v), source_name, ": tensor '", name, "' holds a non-finite value");
  return values;
}

// layer_kv_bytes_read's shape of one batch-1 step, for decode_step_bytes.
BenchAttnOptions kv_bytes_model(const RuntimeOptions& options, const ModelConfig& config, int context) {
  BenchAttnOptions model;
  model.batch = 1;
  model.num_q_heads = static_cast<int>(config.num_heads);
  model.num_kv_heads = static_cast<int>(config.num_kv_heads);
  model.head_dim = static_cast<int>(config.head_dim);
  model.context = context;
  model.token_budget = options.selector.token_budget;
  model.dtype = options.kv_dtype;
  model.page_size = options.page_size;
  return model;
}

// The layers that attend densely at every decode step.
bool dense_layer(const RuntimeOptions& options, int layer) {
  return layer < options.dense_layers || options.selector.policy == Policy::kFull;
}

class CpuDecodeAttention : public DecodeAttention {
 public:
  CpuDecodeAttention(const RuntimeOptions& options, const ModelConfig& config) : options_(options), config_(config) {}

  void attend(int layer, const PagedKvView& view, const float* q, int num_q_heads, float* out) override {
    if (dense(layer)) {
      decode_attention_cpu(view, q, num_q_heads, nullptr, out);
      return;
    }
    select_tokens_cpu(options_.selector, view, q, num_q_heads, selection_);
    decode_attention_cpu(view, q, num_q_heads, &selection_, out);
  }

  double bytes_read(int layer, int context) const override {
    return layer_kv_bytes_read(options_, config_, layer, context);
  }

 private:
  bool dense(int layer) const { return dense_layer(options_, layer); }

  RuntimeOptions options_;
  ModelConfig config_;
  TokenSelection selection_;
};

class CpuRuntime : public DecoderRuntime {
 public:
  CpuRuntime(const LlamaModel& model, const RuntimeOptions& options, std::unique_ptr<DecodeAttention> attention)
      : model_(model),
        config_(model.config()),
        options_(options),
        rope_(static_cast<int>(config_.head_dim), config_.rope_theta, config_.rope_scaling),
        cache_(cache_config(config_, options)),
        own_attention_(attention == nullptr),
        attention_(attention ? std::move(attention) : make_cpu_decode_attention(options, config_)) {
    check_runtime_options(options, config_);
    cache_.add_sequence();
    initial_code_book_ = cache_.code_book(0);
    openblas_set_num_threads(1);  // see linear(): OpenMP owns the threads
  }

  const ModelConfig& config() const override { return config_; }
  const RuntimeOptions& options() const override { return options_; }
  std::string device_name() const override { return "cpu"; }
  void reset() override {
    cache_.clear();
    cache_.add_sequence();
    if (calibrated_) {
      for (int layer = 0; layer < config_.num_layers; ++layer) cache_.set_code_book(layer, initial_code_book_);
      calibrated_ = false;
    }
  }
  int position() const override { return cache_.seq_len(0); }
  const DecodeStepStats& last_step() const override { return stats_; }
  void set_observer(AttentionObserver* observer) override { observer_ = observer; }
  CodeBook code_book(int layer) const override { return cache_.code_book(layer); }

  void rewind(int length) override {
    ADAMAS_CHECK(length >= 0 && length <= position(), "rewind: length ", length, " is outside [0, ", position(), "]");
    cache_.truncate(0, length);
    // A fresh prefill of `length` tokens calibrates on exactly those tokens (or not at all below
    // calibrate_after_tokens): keep a calibration fitted on them, redo any other.
    if (calibrated_ && calibrated_at_ != length) {
      for (int layer = 0; layer < config_.num_layers; ++layer) cache_.set_code_book(layer, initial_code_book_);
      calibrated_ = false;
      maybe_calibrate();
    }
  }

  void set_selector(const SelectorOptions& selector) override {
    RuntimeOptions next = options_;
    next.selector = selector;
    check_runtime_options(next, config_);
    check_same_thresholds(selector.thresholds, options_.selector.thresholds);
    ADAMAS_CHECK(own_attention_, "set_selector: this runtime was built with a custom attention step");
    attention_ = make_cpu_decode_attention(next, config_);
    options_ = next;
  }

  void prefill(const std::vector<int32_t>& tokens, std::vector<float>* logits, bool all_positions) override {
    const int count = static_cast<int>(tokens.size());
    check_tokens(tokens.data(), count);
    const int64_t vocab = config_.vocab_size;
    if (logits) logits->assign(static_cast<size_t>(all_positions ? count : (count > 0 ? 1 : 0)) * vocab, 0.0f);
    for (int begin = 0; begin < count; begin += options_.prefill_chunk) {
      const int chunk = std::min(options_.prefill_chunk, count - begin);
      const bool last_chunk = begin + chunk == count;
      float* out = nullptr;
      bool chunk_all = false;
      if (logits && all_positions) {
        out = logits->data() + static_cast<size_t>(begin) * vocab;
        chunk_all = true;
      } else if (logits && last_chunk) {
        out = logits->data();
      }
      forward(tokens.data() + begin, chunk, /*decode_step=*/false, out, chunk_all);
    }
    maybe_calibrate();
  }

  void decode(int32_t token, float* logits) override {
    check_tokens(&token, 1);
    const auto start = std::chrono::steady_clock::now();
    attention_seconds_ = 0;
    forward(&token, 1, /*decode_step=*/true, logits, false);
    maybe_calibrate();
    stats_.context = position();
    stats_.kv_bytes_read = 0;
    for (int layer = 0; layer < config_.num_layers; ++layer)
      stats_.kv_bytes_read += attention_->bytes_read(layer, stats_.context);
    stats_.dense_kv_bytes = dense_kv_bytes_read(options_, config_, stats_.context);
    stats_.attention_seconds = attention_seconds_;
    stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

 private:
  static KvCacheConfig cache_config(const ModelConfig& config, const RuntimeOptions& options) {
    check_runtime_options(options, config);
    KvCacheConfig cache;
    cache.num_layers = static_cast<int>(config.num_layers);
    cache.num_kv_heads = static_cast<int>(config.num_kv_heads);
    cache.head_dim = static_cast<int>(config.head_dim);
    cache.page_size = options.page_size;
    cache.dtype = options.kv_dtype;
    cache.max_batch = 1;
    cache.max_tokens_per_seq = options.max_context;
    cache.code_thresholds = options.selector.thresholds;
    cache.code_bits = options.code_bits;
    cache.code_hadamard = options.code_hadamard;
    return cache;
  }

  void check_tokens(const int32_t* tokens, int count) const {
    for (int i = 0; i < count; ++i)
      ADAMAS_CHECK(tokens[i] >= 0 && tokens[i] < config_.vocab_size, "token id ", tokens[i], " at index ", i,
                   " is outside the model's vocabulary [0, ", config_.vocab_size, ")");
    ADAMAS_CHECK(position() + count <= options_.max_context, "context of ", position() + count,
                 " tokens exceeds the cache capacity (max_context ", options_.max_context, ")");
  }

  // Once the sequence reaches calibrate_after_tokens: per layer, pool the (rotated) stored keys of
  // every cached token and KV head, fit the code book, re-encode the layer's codes with it.
  void maybe_calibrate() {
    if (options_.calibrate_after_tokens <= 0 || calibrated_ || position() < options_.calibrate_after_tokens) return;
    const int d = static_cast<int>(config_.head_dim), n = position();
    const std::vector<double> quantiles = options_.calibration_quantiles.empty()
                                              ? equal_mass_quantiles(options_.code_bits)
                                              : options_.calibration_quantiles;
    std::vector<float> values(static_cast<size_t>(n) * config_.num_kv_heads * d);
    for (int layer = 0; layer < config_.num_layers; ++layer) {
      const PagedKvView view = cache_.view(layer);
#pragma omp parallel for schedule(static)
      for (int t = 0; t < n; ++t)
        for (int h = 0; h < view.num_kv_heads; ++h) {
          float* key = values.data() + (static_cast<size_t>(t) * view.num_kv_heads + h) * d;
          const size_t offset = view.kv_offset(0, h, t);
          for (int c = 0; c < d; ++c) key[c] = load_as_f32(view.keys, view.dtype, offset + c);
          if (options_.code_hadamard) hadamard_transform(key, d);
        }
      cache_.set_code_book(layer, calibrate_code_book(values, options_.code_bits, options_.code_hadamard, quantiles));
    }
    calibrated_ = true;
    calibrated_at_ = n;
  }

  template <typename T>
  static T* sized(std::vector<T>& buffer, size_t count) {
    if (buffer.size() < count) buffer.resize(count);
    return buffer.data();
  }

  // Runs `count` tokens through the decoder: dense causal attention (prefill) or the policy's
  // attention step (decode_step, count == 1). logits: [count][vocab] when all_logits, else the
  // last token's [vocab]; null for none.
  void forward(const int32_t* tokens, int count, bool decode_step, float* logits, bool all_logits) {
    const int hidden = static_cast<int>(config_.hidden_size);
    const int num_q_heads = static_cast<int>(config_.num_heads), num_kv_heads = static_cast<int>(config_.num_kv_heads);
    const int head_dim = static_cast<int>(config_.head_dim);
    const int q_features = num_q_heads * head_dim, kv_features = num_kv_heads * head_dim;
    const int intermediate = static_cast<int>(config_.intermediate_size);
    const float eps = static_cast<float>(config_.rms_norm_eps);
    const size_t n = static_cast<size_t>(count);

    float* x = sized(x_, n * hidden);
    float* normed = sized(normed_, n * hidden);
    float* q = sized(q_, n * q_features);
    float* k = sized(k_, n * kv_features);
    float* v = sized(v_, n * kv_features);
    float* attn = sized(attn_, n * q_features);
    float* gate = sized(gate_, n * intermediate);
    float* up = sized(up_, n * intermediate);
    float* cos_table = sized(cos_, n * head_dim / 2);
    float* sin_table = sized(sin_, n * head_dim / 2);

    const int first = cache_.reserve_tokens(0, count);
#pragma omp parallel for schedule(static) if (count > 1)
    for (int t = 0; t < count; ++t) {
      widen_row(model_.embed_tokens(), tokens[t], x + static_cast<size_t>(t) * hidden);
      rope_.angles(first + t, cos_table + static_cast<size_t>(t) * head_dim / 2,
                   sin_table + static_cast<size_t>(t) * head_dim / 2);
    }

    for (int layer = 0; layer < config_.num_layers; ++layer) {
      const LlamaLayerWeights& w = model_.layer(layer);
      rms_norm(x, w.input_norm, eps, count, hidden, normed);
      linear(w.q_proj, normed, count, q, false);
      linear(w.k_proj, normed, count, k, false);
      linear(w.v_proj, normed, count, v, false);
#pragma omp parallel for schedule(static) if (count > 1)
      for (int t = 0; t < count; ++t) {
        const float* c = cos_table + static_cast<size_t>(t) * head_dim / 2;
        const float* s = sin_table + static_cast<size_t>(t) * head_dim / 2;
        rope_.rotate(q + static_cast<size_t>(t) * q_features, num_q_heads, c, s);
        rope_.rotate(k + static_cast<size_t>(t) * kv_features, num_kv_heads, c, s);
      }
      cache_.write_tokens(layer, 0, first, count, k, v);
      const PagedKvView view = cache_.view(layer);
      if (decode_step) {
        if (observer_) observer_->on_decode_attention(layer, view, q, num_q_heads);
        const auto start = std::chrono::steady_clock::now();
        attention_->attend(layer, view, q, num_q_heads, attn);
        attention_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      } else {
        prefill_attention_cpu(view, 0, first, count, q, num_q_heads, attn);
      }
      linear(w.o_proj, attn, count, x, true);

      rms_norm(x, w.post_attention_norm, eps, count, hidden, normed);
      linear(w.gate_proj, normed, count, gate, false);
      linear(w.up_proj, normed, count, up, false);
      const size_t mlp_elements = n * intermediate;
#pragma omp parallel for schedule(static) if (mlp_elements > 4096)
      for (size_t i = 0; i < mlp_elements; ++i) {
        const float g = gate[i];
        gate[i] = g / (1.0f + std::exp(-g)) * up[i];  // SiLU(gate) * up
      }
      linear(w.down_proj, gate, count, x, true);
    }

    if (!logits) return;
    const int rows = all_logits ? count : 1;
    const float* last = x + (all_logits ? 0 : static_cast<size_t>(count - 1) * hidden);
    rms_norm(last, model_.final_norm(), eps, rows, hidden, normed);
    linear(model_.lm_head(), normed, rows, logits, false);
  }

  const LlamaModel& model_;
  ModelConfig config_;
  RuntimeOptions options_;
  RotaryEmbedding rope_;
  KvCache cache_;
  const bool own_attention_;  // attention_ is make_cpu_decode_attention's (set_selector may replace it)
  std::unique_ptr<DecodeAttention> attention_;
  AttentionObserver* observer_ = nullptr;
  DecodeStepStats stats_;
  double attention_seconds_ = 0;
  CodeBook initial_code_book_;
  bool calibrated_ = false;
  int calibrated_at_ = 0;  // tokens the calibration was fitted on
  // Workspaces, grown to the largest chunk seen and then reused (no allocation per decode step).
  std::vector<float> x_, normed_, q_, k_, v_, attn_, gate_, up_, cos_, sin_;
};

}  // namespace

WeightPrecision parse_weight_precision(const std::string& name) {
  if (name == "auto") return WeightPrecision::kAuto;
  if (name == "f32" || name == "fp32") return WeightPrecision::kF32;
  if (name == "bf16") return WeightPrecision::kBF16;
  throw Error("weight precision '" + name + "': expected auto, f32 or bf16");
}

LlamaModel LlamaModel::load(const ModelConfig& config, const WeightSource& weights, const LoadOptions& options,
                            const std::string& source_name) {
  config.validate(source_name);
  validate_llama_weights(config, weights, source_name);
  ADAMAS_CHECK(config.head_dim % 2 == 0, source_name, ": head_dim ", config.head_dim, " is odd; RoPE needs it even");
  check_head_dim(static_cast<int>(config.head_dim));
  rope_inv_freq(static_cast<int>(config.head_dim), config.rope_theta, config.rope_scaling);  // validates rope params

  LlamaModel model;
  model.config_ = config;
  const int64_t hidden = config.hidden_size, q_features = config.num_heads * config.head_dim;
  const int64_t kv_features = config.num_kv_heads * config.head_dim, intermediate = config.intermediate_size;
  int64_t params = config.vocab_size * hidden * (config.tie_word_embeddings ? 1 : 2) + hidden;
  params += config.num_layers * (hidden * (2 * q_features + 2 * kv_features) + 3 * hidden * intermediate + 2 * hidden);
  DType dtype = DType::kF32;
  if (options.precision == WeightPrecision::kBF16 ||
      (options.precision == WeightPrecision::kAuto && static_cast<size_t>(params) * 4 > options.max_f32_bytes))
    dtype = DType::kBF16;

  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols) {
    return make_matrix(load_vector(weights, name, source_name), rows, cols, dtype);
  };
  model.embed_tokens_ = matrix("model.embed_tokens.weight", config.vocab_size, hidden);
  if (!config.tie_word_embeddings) model.lm_head_ = matrix("lm_head.weight", config.vocab_size, hidden);
  model.layers_.resize(config.num_layers);
  for (int64_t layer = 0; layer < config.num_layers; ++layer) {
    const std::string prefix = "model.layers." + std::to_string(layer) + ".";
    LlamaLayerWeights& w = model.layers_[layer];
    w.q_proj = matrix(prefix + "self_attn.q_proj.weight", q_features, hidden);
    w.k_proj = matrix(prefix + "self_attn.k_proj.weight", kv_features, hidden);
    w.v_proj = matrix(prefix + "self_attn.v_proj.weight", kv_features, hidden);
    w.o_proj = matrix(prefix + "self_attn.o_proj.weight", hidden, q_features);
    w.gate_proj = matrix(prefix + "mlp.gate_proj.weight", intermediate, hidden);
    w.up_proj = matrix(prefix + "mlp.up_proj.weight", intermediate, hidden);
    w.down_proj = matrix(prefix + "mlp.down_proj.weight", hidden, intermediate);
    w.input_norm = load_vector(weights, prefix + "input_layernorm.weight", source_name);
    w.post_attention_norm = load_vector(weights, prefix + "post_attention_layernorm.weight", source_name);
  }
  model.final_norm_ = load_vector(weights, "model.norm.weight", source_name);
  return model;
}

LlamaModel LlamaModel::load(const Checkpoint& checkpoint, const LoadOptions& options) {
  ADAMAS_CHECK(checkpoint.weights != nullptr, checkpoint.path, ": checkpoint has no weights");
  return load(checkpoint.config, *checkpoint.weights, options, checkpoint.path);
}

size_t LlamaModel::weight_bytes() const {
  size_t total = embed_tokens_.bytes() + lm_head_.bytes() + final_norm_.size() * 4;
  for (const LlamaLayerWeights& w : layers_)
    total += w.q_proj.bytes() + w.k_proj.bytes() + w.v_proj.bytes() + w.o_proj.bytes() + w.gate_proj.bytes() +
             w.up_proj.bytes() + w.down_proj.bytes() + (w.input_norm.size() + w.post_attention_norm.size()) * 4;
  return total;
}

int64_t LlamaModel::parameter_count() const {
  auto count = [](const WeightMatrix& w) { return w.rows * w.cols; };
  int64_t total = count(embed_tokens_) + count(lm_head_) + static_cast<int64_t>(final_norm_.size());
  for (const LlamaLayerWeights& w : layers_)
    total += count(w.q_proj) + count(w.k_proj) + count(w.v_proj) + count(w.o_proj) + count(w.gate_proj) +
             count(w.up_proj) + count(w.down_proj) + static_cast<int64_t>(w.input_norm.size() + w.post_attention_norm.size());
  return total;
}

void check_same_thresholds(const Thresholds& requested, const Thresholds& runtime) {
  ADAMAS_CHECK(requested.t0 == runtime.t0 && requested.t1 == runtime.t1 && requested.t2 == runtime.t2,
               "set_selector: thresholds (", requested.t0, ", ", requested.t1, ", ", requested.t2,
               ") differ from the runtime's (", runtime.t0, ", ", runtime.t1, ", ", runtime.t2,
               "), with which the cached key codes were written; build a new runtime for them");
}

void check_runtime_options(const RuntimeOptions& options, const ModelConfig& config) {
  check_selector_options(options.selector);
  ADAMAS_CHECK(options.dense_layers >= 0, "dense layers must be >= 0, got ", options.dense_layers);
  ADAMAS_CHECK(options.page_size > 0, "page size must be positive, got ", options.page_size);
  ADAMAS_CHECK(options.max_context > 0, "max context must be positive, got ", options.max_context);
  ADAMAS_CHECK(options.prefill_chunk > 0, "prefill chunk must be positive, got ", options.prefill_chunk);
  ADAMAS_CHECK(options.code_bits >= 1 && options.code_bits <= 3, "code bits must be 1, 2 or 3, got ", options.code_bits);
  ADAMAS_CHECK(options.calibrate_after_tokens >= 0, "calibrate-after must be >= 0, got ", options.calibrate_after_tokens);
  if (!options.calibration_quantiles.empty())
    ADAMAS_CHECK(static_cast<int>(options.calibration_quantiles.size()) == (1 << options.code_bits) - 1,
                 "calibration quantiles: ", options.calibration_quantiles.size(), " given, ", options.code_bits,
                 "-bit codes need ", (1 << options.code_bits) - 1);
  ADAMAS_CHECK(config.num_layers > 0 && config.num_heads > 0 && config.num_kv_heads > 0 &&
                   config.num_heads % config.num_kv_heads == 0,
               "model config: ", config.num_heads, " query heads is not a positive multiple of ", config.num_kv_heads,
               " KV heads");
}

double layer_kv_bytes_read(const RuntimeOptions& options, const ModelConfig& config, int layer, int context) {
  ADAMAS_CHECK(layer >= 0 && layer < config.num_layers, "layer_kv_bytes_read: layer ", layer, " is outside [0, ",
               config.num_layers, ")");
  return decode_step_bytes(kv_bytes_model(options, config, context),
                           dense_layer(options, layer) ? Policy::kFull : options.selector.policy);
}

double dense_kv_bytes_read(const RuntimeOptions& options, const ModelConfig& config, int context) {
  return static_cast<double>(config.num_layers) * decode_step_bytes(kv_bytes_model(options, config, context), Policy::kFull);
}

std::unique_ptr<DecodeAttention> make_cpu_decode_attention(const RuntimeOptions& options, const ModelConfig& config) {
  check_runtime_options(options, config);
  return std::make_unique<CpuDecodeAttention>(options, config);
}

std::unique_ptr<DecoderRuntime> make_cpu_runtime(const LlamaModel& model, const RuntimeOptions& options,
                                                 std::unique_ptr<DecodeAttention> attention) {
  return std::make_unique<CpuRuntime>(model, options, std::move(attention));
}

std::unique_ptr<DecoderRuntime> make_runtime(const std::string& device, const LlamaModel& model,
                                             const RuntimeOptions& options) {
  if (device == "cpu") return make_cpu_runtime(model, options);
  if (device == "cuda") return cuda::make_cuda_runtime(model, options);
  throw Error("device '" + device + "': expected cpu or cuda");
}

}  // namespace adamas
