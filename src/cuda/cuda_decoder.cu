// CudaDecoder: the Llama decode step on the GPU (include/adamas/cuda_decoder.h).
// Per layer: RMSNorm -> fused QKV product (cuBLAS) -> RoPE, split into q / k / v -> fused key
// append (K/V, codes, page bounds) -> selection + flash-decoding attention (DecodePlan) -> output
// product -> residual -> RMSNorm -> fused gate/up product -> SwiGLU -> down product -> residual.
// Activations stay fp32; weight products read bf16 (or fp32) weights with fp32 accumulation.
// At batch <= 8 with bf16 weights (CudaDecoderOptions::gemv) the products are our GEMV (gemv.h),
// which also does RoPE/split, SwiGLU, the residual adds and the attention output's cast in its
// reads and writes: 2 small kernels per layer (the RMSNorms) instead of 7.
#include <cublas_v2.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <type_traits>

#include "adamas/bench_attn.h"
#include "adamas/cuda_backend.h"
#include "adamas/cuda_decoder.h"
#include "cuda/capture_lock.cuh"
#include "cuda/cuda_common.cuh"
#include "cuda/device_buffer.cuh"
#include "cuda/event_timer.cuh"
#include "cuda/gemv.h"
#include "cuda/kernel_variants.cuh"
#include "cuda/launch.cuh"
#include "cuda/prefill_attention.cuh"
#include "cuda/random_fill.cuh"
#include "model/rope.h"

namespace adamas::cuda {

namespace {

#define ADAMAS_CUBLAS_CHECK(call)                                                                  \
  do {                                                                                             \
    const cublasStatus_t adamas_blas_status_ = (call);                                             \
    if (adamas_blas_status_ != CUBLAS_STATUS_SUCCESS)                                              \
      throw ::adamas::Error(::adamas::detail::concat("cuBLAS error ", static_cast<int>(adamas_blas_status_), \
                                                     " in ", #call));                             \
  } while (0)

constexpr int kThreads = 256;
// The decode step's RMSNorms: one row per sequence, so one wide block per row (4 elements per
// thread at hidden 4096: all of the row's loads in flight at once, the block's latency is the step's).
constexpr int kNormThreads = 1024;

__device__ __forceinline__ float weight_to_float(const float* w, size_t i) { return w[i]; }
__device__ __forceinline__ float weight_to_float(const __nv_bfloat16* w, size_t i) { return __bfloat162float(w[i]); }

// One block a sequence. A thread requests its first kEmbedCached elements at once and then stores
// them: the plain loop's loads waited for the stores before them (x might alias the table), 16
// DRAM round trips in a row at hidden 4096, 7 us a decode step (kernel timeline, bench/results/
// 2026-12-01-s25). Decode steps also pass the sequence lengths staged with the tokens
// (`staged_lens`, copied to the cache's `seq_lens`): one upload a step instead of three.
constexpr int kEmbedCached = 16;
template <typename W>
__global__ void embed_kernel(const int32_t* tokens, const W* embed, float* x, int hidden, const int32_t* staged_lens = nullptr,
                             int32_t* seq_lens = nullptr) {
  const int seq = blockIdx.x;
  if (staged_lens != nullptr && threadIdx.x == 0) seq_lens[seq] = staged_lens[seq];
  const size_t row = static_cast<size_t>(tokens[seq]) * hidden;
  float* out = x + static_cast<size_t>(seq) * hidden;
  float cached[kEmbedCached];
#pragma unroll
  for (int j = 0; j < kEmbedCached; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    cached[j] = i < hidden ? weight_to_float(embed, row + i) : 0.0f;
  }
#pragma unroll
  for (int j = 0; j < kEmbedCached; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i < hidden) out[i] = cached[j];
  }
  for (int i = threadIdx.x + kEmbedCached * blockDim.x; i < hidden; i += blockDim.x) out[i] = weight_to_float(embed, row + i);
}

// Hugging Face LlamaRMSNorm in fp32: weight * (x * rsqrt(mean(x^2) + eps)); output in the GEMM
// input type. A thread requests its first kNormCached elements of the row and of the norm's weight
// at once: a second round trip for the weight, behind the next product's weight requests, made the
// norm 7 us long end to end (bench/results/2026-11-30-s21: 2.5-5.3 us with them requested first).
// The next product may start requesting its weights at once (trigger at the start: measured 0.8%
// faster end to end than a trigger after the norm's loads). kProgrammatic: the norm is launched
// programmatically (ADAMAS_NORM_PDL, CudaDecoder::Impl::enqueue_step): the weight is requested,
// then the kernel waits for the product before it, which writes x.
constexpr int kNormCached = 4;  // hidden <= 4096 at 1024 threads; longer rows read the rest twice
template <typename W, bool kProgrammatic = false>
__global__ void rms_norm_kernel(const float* x, const float* weight, float eps, W* out, int hidden) {
  __shared__ float partial[32];  // one per warp; blocks of up to 1024 threads
  grid_dependency_trigger();     // the product after the norm may start requesting its weights
  const int seq = blockIdx.x;
  const float* row = x + static_cast<size_t>(seq) * hidden;
  float xs[kNormCached], ws[kNormCached];
  if constexpr (kProgrammatic) {
#pragma unroll
    for (int k = 0; k < kNormCached; ++k) {
      const int i = threadIdx.x + k * blockDim.x;
      ws[k] = i < hidden ? weight[i] : 0.0f;
    }
    grid_dependency_wait();
  }
#pragma unroll
  for (int k = 0; k < kNormCached; ++k) {
    const int i = threadIdx.x + k * blockDim.x;
    xs[k] = i < hidden ? row[i] : 0.0f;
    if constexpr (!kProgrammatic) ws[k] = i < hidden ? weight[i] : 0.0f;
  }
  float sum = 0.0f;  // element by element in the order of the loop before the cache: same bits
#pragma unroll
  for (int k = 0; k < kNormCached; ++k) sum += xs[k] * xs[k];
  for (int i = threadIdx.x + kNormCached * blockDim.x; i < hidden; i += blockDim.x) sum += row[i] * row[i];
  for (int width = 16; width > 0; width /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, width);
  if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = sum;
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) total += partial[w];
  const float scale = rsqrtf(total / hidden + eps);
  auto store = [&](int i, float y) {
    if constexpr (sizeof(W) == 4) out[static_cast<size_t>(seq) * hidden + i] = y;
    else out[static_cast<size_t>(seq) * hidden + i] = __float2bfloat16_rn(y);
  };
#pragma unroll
  for (int k = 0; k < kNormCached; ++k) {
    const int i = threadIdx.x + k * blockDim.x;
    if (i < hidden) store(i, ws[k] * (xs[k] * scale));
  }
  for (int i = threadIdx.x + kNormCached * blockDim.x; i < hidden; i += blockDim.x) store(i, weight[i] * (row[i] * scale));
}

// RoPE (rotate_half) on q and k of the fused projection, written out as separate [batch][heads][d]
// arrays: q for the attention, k and v for the cache append.
__global__ void rope_split_kernel(const float* qkv, const int32_t* positions, const float* inv_freq, int q_heads,
                                  int kv_heads, int head_dim, float* q, float* k, float* v) {
  const int seq = blockIdx.x, half = head_dim / 2;
  const int row = (q_heads + 2 * kv_heads) * head_dim;
  const float* in = qkv + static_cast<size_t>(seq) * row;
  const float pos = static_cast<float>(positions[seq]);
  for (int p = threadIdx.x; p < (q_heads + kv_heads) * half; p += blockDim.x) {
    const int head = p / half, i = p % half;
    const float angle = pos * inv_freq[i];  // fp32 product, as transformers
    const float c = static_cast<float>(cos(static_cast<double>(angle))), s = static_cast<float>(sin(static_cast<double>(angle)));
    const float x1 = in[head * head_dim + i], x2 = in[head * head_dim + i + half];
    float* out = head < q_heads ? q + (static_cast<size_t>(seq) * q_heads + head) * head_dim
                                : k + (static_cast<size_t>(seq) * kv_heads + head - q_heads) * head_dim;
    out[i] = x1 * c - x2 * s;
    out[i + half] = x2 * c + x1 * s;
  }
  for (int i = threadIdx.x; i < kv_heads * head_dim; i += blockDim.x)
    v[static_cast<size_t>(seq) * kv_heads * head_dim + i] = in[(q_heads + kv_heads) * head_dim + i];
}

template <typename W>
__global__ void to_gemm_input_kernel(const float* x, W* out, size_t count) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    if constexpr (sizeof(W) == 4) out[i] = x[i];
    else out[i] = __float2bfloat16_rn(x[i]);
  }
}

__global__ void add_kernel(float* x, const float* y, size_t count) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count; i += static_cast<size_t>(gridDim.x) * blockDim.x) x[i] += y[i];
}

// gate_up: [batch][2 * inter] (gate first); act = silu(gate) * up.
template <typename W>
__global__ void swiglu_kernel(const float* gate_up, W* act, int inter, int batch) {
  const size_t count = static_cast<size_t>(batch) * inter;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t seq = i / inter, j = i % inter;
    const float g = gate_up[seq * 2 * inter + j], u = gate_up[seq * 2 * inter + inter + j];
    const float y = g / (1.0f + expf(-g)) * u;
    if constexpr (sizeof(W) == 4) act[i] = y;
    else act[i] = __float2bfloat16_rn(y);
  }
}

int grid_for(size_t count) { return static_cast<int>(std::min<size_t>(4096, (count + kThreads - 1) / kThreads)); }

}  // namespace

ModelConfig model_shape(const std::string& name) {
  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.num_layers = 32;
  c.hidden_size = 4096;
  c.num_heads = 32;
  c.head_dim = 128;
  c.rms_norm_eps = 1e-5;
  if (name == "longchat-7b") {
    c.vocab_size = 32000;
    c.intermediate_size = 11008;
    c.num_kv_heads = 32;
    c.rope_theta = 10000.0;
    c.rope_scaling.type = RopeScaling::Type::kLinear;
    c.rope_scaling.factor = 8.0;
    c.max_position_embeddings = 32768;
  } else if (name == "llama3-8b") {
    c.vocab_size = 128256;
    c.intermediate_size = 14336;
    c.num_kv_heads = 8;
    c.rope_theta = 500000.0;
    c.max_position_embeddings = 8192;
  } else {
    std::ifstream file(name);
    ADAMAS_CHECK(file, "model shape '", name, "': expected longchat-7b, llama3-8b or a config.json path");
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    c = parse_hf_config(text, name);
  }
  c.validate(name);
  return c;
}

namespace {

// Host fp32 -> device weight buffer in the decoder's type, at an element offset.
void upload(DeviceBuffer<uint8_t>& buffer, size_t element_offset, const std::vector<float>& values, bool bf16) {
  DeviceSyncScope sync_scope;  // synchronous copies: not while another thread captures (capture_lock.cuh)
  if (bf16) {
    std::vector<uint16_t> bits(values.size());
    for (size_t i = 0; i < values.size(); ++i) bits[i] = f32_to_bf16(values[i]);
    ADAMAS_CUDA_CHECK(cudaMemcpy(buffer.data() + element_offset * 2, bits.data(), bits.size() * 2, cudaMemcpyHostToDevice));
  } else {
    ADAMAS_CUDA_CHECK(cudaMemcpy(buffer.data() + element_offset * 4, values.data(), values.size() * 4, cudaMemcpyHostToDevice));
  }
}

void upload_floats(DeviceBuffer<float>& buffer, const std::vector<float>& values) {
  ADAMAS_CHECK(values.size() == buffer.size(), "CudaDecoder: a norm weight has ", values.size(), " values, expected ", buffer.size());
  DeviceSyncScope sync_scope;
  ADAMAS_CUDA_CHECK(cudaMemcpy(buffer.data(), values.data(), values.size() * 4, cudaMemcpyHostToDevice));
}

}  // namespace

struct CudaDecoder::Impl {
  ModelConfig config;
  CudaDecoderOptions options;
  int batch = 1, hidden = 0, q_heads = 0, kv_heads = 0, head_dim = 0, inter = 0, vocab = 0, layers = 0, qkv_rows = 0;
  size_t weight_element = 2;
  cublasHandle_t blas = nullptr;
  cudaStream_t stream = nullptr;
  // The sparse layers' cache appends, off the step's critical path (enqueue_step): each runs after
  // its layer's step, beside the products that follow, and the next layer waits for it before its
  // q|k|v product rewrites k and v.
  cudaStream_t append_stream = nullptr;
  cudaEvent_t step_done = nullptr, append_done = nullptr;
  bool append_pending = false;
  // ADAMAS_STEP_APPEND=chain (KernelVariants::append_chain): behind a grid step the append is chained
  // on `stream` instead (DeviceKvCache::append_chained), and the graph keeps one stream.
  const bool append_chain = kernel_variants_from_env().append_chain;
  // ADAMAS_DECODE_UPLOADS=three (diagnostics, A/B): the step's inputs in three uploads, the lengths
  // straight into the cache, as before the twenty-fifth session; "one" (the default): step_inputs.
  const bool three_uploads = env_choice("ADAMAS_DECODE_UPLOADS", "one", {"one", "three"}) == "three";
  // The decode step's RMSNorms launched programmatically behind the product before them, which then
  // lets them launch once its weights are read (GemvProblem::late_trigger), so that the product the
  // norm triggers requests its first weights while the one before ends. ADAMAS_NORM_PDL=auto (the
  // default): in the steps with sparse layers, where LongChat-7B at 32K gained 1.5-1.9% a token
  // (adamas, B = 256); never in dense steps (full attention), which lost 1.5-1.9% with them, for
  // reasons not understood (bench/results/2026-12-01-s27, calls 4-6). on | off: every step | none.
  // Decided per enqueued step, only where the products before the norms have their late-trigger
  // kernels (enqueue_step).
  const std::string norm_pdl_choice = env_choice("ADAMAS_NORM_PDL", "auto", {"auto", "on", "off"});
  int chained_appends = 0;  // so far (CudaDecoder::chained_appends)
  DeviceBuffer<uint8_t> blas_workspace;
  struct Layer {
    DeviceBuffer<uint8_t> qkv, o, gate_up, down;
    DeviceBuffer<float> input_norm, post_norm;
  };
  std::vector<Layer> weights;
  DeviceBuffer<uint8_t> embed, lm_head;
  DeviceBuffer<float> final_norm, inv_freq;
  DeviceBuffer<float> x, qkv, q, k, v, attn, proj, gate_up, logits;
  DeviceBuffer<uint8_t> gemm_input;  // the next product's input in the weight type
  // A decode step's inputs, [3][batch]: token ids, positions, sequence lengths (one upload a step;
  // the embed kernel copies the lengths into the cache's).
  DeviceBuffer<int32_t> step_inputs;
  int32_t* step_inputs_host = nullptr;  // pinned, same layout
  int32_t* tokens_host() { return step_inputs_host; }
  int32_t* positions_host() { return step_inputs_host + batch; }
  int32_t* seq_lens_host() { return step_inputs_host + 2 * batch; }
  int32_t* tokens_device() { return step_inputs.data(); }
  int32_t* positions_device() { return step_inputs.data() + batch; }
  int32_t* staged_lens_device() { return step_inputs.data() + 2 * batch; }
  std::unique_ptr<DeviceKvCache> cache;
  std::unique_ptr<DecodePlan> dense_plan, policy_plan;
  std::vector<int> positions;
  // Decode steps replayed as CUDA graphs, one per variant [dense_attention][want_logits], captured
  // lazily after the variant's first (eager) step. Every kernel of a step reads tokens, positions
  // and sequence lengths from device memory, refreshed by the step's first copies from the pinned
  // host buffers; grids, page table and workspaces depend only on the plan (max_context), so a
  // replay after rewriting the pinned buffers is the next step. ADAMAS_NO_GRAPH=1: eager steps.
  bool use_graphs = true;
  cudaGraphExec_t step_graphs[2][2] = {{nullptr, nullptr}, {nullptr, nullptr}};
  // Chunked dense prefill of one sequence (prefill()): workspaces for `prefill_rows` tokens,
  // allocated at the first prefill; rows are tokens of the chunk, [rows][features] fp32.
  int prefill_rows = 0;
  struct PrefillBuffers {
    DeviceBuffer<float> x, qkv, q, k, v, attn, proj, gate_up, logits;
    DeviceBuffer<uint8_t> gemm_input;
    DeviceBuffer<int32_t> tokens, positions;
  } pre;
  // Attention observer (set_observer): eager steps, each layer's cache and q copied to the host.
  AttentionObserver* observer = nullptr;
  std::vector<int32_t> page_table_host;  // the device page table (reset() plans it)
  struct ObservedLayer {
    std::vector<uint8_t> keys, values, key_codes;
    std::vector<float> page_min, page_max, q;
  } observed;
  // set_graph_skip: parts the step leaves out (a timing probe; the step's results are then meaningless).
  struct GraphSkip {
    bool norms = false, append = false, attention = false, products = false;
  } skip;
  // Profiling: events around the launch groups when `profile` is set.
  bool profile = false;
  std::vector<std::pair<cudaEvent_t, int>> marks;  // (event, kind of the interval it closes)

  bool bf16() const { return options.weight_dtype == DType::kBF16; }

  void mark(int kind) {
    if (!profile) return;
    cudaEvent_t event;
    ADAMAS_CUDA_CHECK(cudaEventCreate(&event));
    ADAMAS_CUDA_CHECK(cudaEventRecord(event, stream));
    marks.push_back({event, kind});
  }

  // Our GEMV (gemv.h) or cuBLAS, decided once per decoder: bf16 weights and batch <= 16 only;
  // kAuto: batch <= kGemvAutoMaxBatch unless ADAMAS_GEMV=cublas (ADAMAS_GEMV=own: up to 16).
  int own_gemv_choice = -1;  // -1: not decided yet
  // Our GEMV's split of `in`, programmatic launch and blocks per SM (ADAMAS_GEMV_SPLIT, ADAMAS_GEMV_PDL,
  // ADAMAS_GEMV_BLOCKS), read once per decoder (a bad value throws from the constructor), not at
  // every product of every step.
  const int gemv_slices = gemv_k_slices_from_env();
  // Diagnostics (A/B of one product's split of `in`): ADAMAS_GEMV_SPLIT_{QKV,O,GATE_UP,DOWN,HEAD} =
  // auto | 1 | 2 | 4 override ADAMAS_GEMV_SPLIT for that product only. Every override measured
  // slower than auto at LongChat-7B 32K batch 1 (bench/results/2026-12-01-s25, call 6).
  enum Product { kQkv, kO, kGateUp, kDown, kHead };
  const std::array<int, 5> product_slices = [] {
    std::array<int, 5> slices{};
    const char* names[5] = {"ADAMAS_GEMV_SPLIT_QKV", "ADAMAS_GEMV_SPLIT_O", "ADAMAS_GEMV_SPLIT_GATE_UP", "ADAMAS_GEMV_SPLIT_DOWN",
                            "ADAMAS_GEMV_SPLIT_HEAD"};
    for (int i = 0; i < 5; ++i) {
      const std::string value = env_choice(names[i], "auto", {"auto", "1", "2", "4"});
      slices[i] = value == "auto" ? 0 : std::stoi(value);
    }
    return slices;
  }();
  const bool gemv_programmatic = gemv_programmatic_from_env();
  const int gemv_min_blocks = gemv_min_blocks_from_env();
  bool resolve_own_gemv() const {
    const char* env = std::getenv("ADAMAS_GEMV");
    const std::string env_choice = env ? env : "";
    const bool wanted = options.gemv == CudaDecoderOptions::Gemv::kOwn ||
                        (options.gemv == CudaDecoderOptions::Gemv::kAuto && env_choice != "cublas" &&
                         (batch <= kGemvAutoMaxBatch || env_choice == "own"));
    return wanted && bf16() && batch <= kGemvMaxBatch;
  }
  bool own_gemv() {
    if (own_gemv_choice < 0) own_gemv_choice = resolve_own_gemv() ? 1 : 0;
    return own_gemv_choice == 1;
  }
  // The GEMV on the step's bf16 input (gemm_input unless given), rows W [out][in].
  GemvProblem gemv_problem(const DeviceBuffer<uint8_t>& w, int out, int in, GemvEpilogue epilogue, Product product,
                           const void* input = nullptr) const {
    GemvProblem p;
    p.weight = reinterpret_cast<const uint16_t*>(w.data());
    p.input = reinterpret_cast<const uint16_t*>(input ? input : gemm_input.data());
    p.out = out;
    p.in = in;
    p.batch = batch;
    p.epilogue = epilogue;
    p.k_slices = product_slices[product] != 0 ? product_slices[product] : gemv_slices;
    p.programmatic = gemv_programmatic;
    p.min_blocks = gemv_min_blocks;
    return p;
  }

  // y[batch][out] = gemm_input[batch][in] * W^T, W row-major [out][in] (Hugging Face layout).
  void product(const DeviceBuffer<uint8_t>& w, int out, int in, float* y) {
    if (skip.products) return;
    if (own_gemv()) {
      GemvProblem p = gemv_problem(w, out, in, GemvEpilogue::kStore, kHead);  // own products: the LM head only
      p.y = y;
      gemv_bf16(p, stream);
      return;
    }
    const float one = 1.0f, zero = 0.0f;
    const cudaDataType type = bf16() ? CUDA_R_16BF : CUDA_R_32F;
    ADAMAS_CUBLAS_CHECK(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, out, batch, in, &one, w.data(), type, in,
                                     gemm_input.data(), type, in, &zero, y, CUDA_R_32F, out, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT));
  }
  template <typename W>
  void to_input(const float* src, size_t count) {
    to_gemm_input_kernel<W><<<grid_for(count), kThreads, 0, stream>>>(src, reinterpret_cast<W*>(gemm_input.data()), count);
  }
  // `programmatic`: launched programmatically behind the product before it (ADAMAS_NORM_PDL).
  void norm_to_input(const float* src, const DeviceBuffer<float>& weight, bool programmatic) {
    if (skip.norms) return;
    const float eps = static_cast<float>(config.rms_norm_eps);
    auto launch = [&](auto* out) {
      using W = std::remove_pointer_t<decltype(out)>;
      if (programmatic)
        launch_with_dependency(rms_norm_kernel<W, true>, batch, kNormThreads, 0, stream, true, src, weight.data(), eps, out,
                               hidden);
      else
        rms_norm_kernel<W><<<batch, kNormThreads, 0, stream>>>(src, weight.data(), eps, out, hidden);
    };
    if (bf16()) launch(reinterpret_cast<__nv_bfloat16*>(gemm_input.data()));
    else launch(reinterpret_cast<float*>(gemm_input.data()));
  }

  template <typename Get>
  void load_all(Get&& get) {
    Impl& m = *this;
    const bool bf16 = m.bf16();
    const size_t qd = static_cast<size_t>(m.q_heads) * m.head_dim, kd = static_cast<size_t>(m.kv_heads) * m.head_dim;
    for (int layer = 0; layer < m.layers; ++layer) {
      const std::string p = "model.layers." + std::to_string(layer) + ".";
      auto& w = m.weights[layer];
      upload(w.qkv, 0, get(p + "self_attn.q_proj.weight"), bf16);
      upload(w.qkv, qd * m.hidden, get(p + "self_attn.k_proj.weight"), bf16);
      upload(w.qkv, (qd + kd) * m.hidden, get(p + "self_attn.v_proj.weight"), bf16);
      upload(w.o, 0, get(p + "self_attn.o_proj.weight"), bf16);
      upload(w.gate_up, 0, get(p + "mlp.gate_proj.weight"), bf16);
      upload(w.gate_up, static_cast<size_t>(m.inter) * m.hidden, get(p + "mlp.up_proj.weight"), bf16);
      upload(w.down, 0, get(p + "mlp.down_proj.weight"), bf16);
      upload_floats(w.input_norm, get(p + "input_layernorm.weight"));
      upload_floats(w.post_norm, get(p + "post_attention_layernorm.weight"));
    }
    upload(m.embed, 0, get("model.embed_tokens.weight"), bf16);
    if (!m.config.tie_word_embeddings) upload(m.lm_head, 0, get("lm_head.weight"), bf16);
    upload_floats(m.final_norm, get("model.norm.weight"));
  }

  void destroy_graphs() {
    for (auto& row : step_graphs)
      for (cudaGraphExec_t& graph : row) {
        if (graph) cudaGraphExecDestroy(graph);
        graph = nullptr;
      }
  }
  // Records the step of one variant into step_graphs (nothing runs). The variant must have run
  // eagerly once before: lazy launch attributes and cuBLAS's heuristics are settled outside the
  // capture.
  // Threads: the capture holds the process-wide CaptureScope (capture_lock.cuh), so no other
  // thread's CudaDecoder allocates, frees, uploads, prefills or runs a first eager step meanwhile
  // (those synchronize the device and would invalidate the capture). Should a capture still be
  // invalidated by a call outside those scopes, the step is not lost: the variant stays eager
  // and is captured again after its next step (a few times at most, then the error is thrown).
  cudaGraphExec_t capture_step(bool dense_attention, bool want_logits) {
    cudaGraphExec_t& exec = step_graphs[dense_attention][want_logits];
    if (exec) return exec;
    CaptureScope exclusive;
    cudaGraph_t graph = nullptr;
    ADAMAS_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    try {
      enqueue_step(dense_attention, want_logits);
    } catch (...) {
      // Leave the stream usable; the error is the launch's unless the capture was invalidated.
      const cudaError_t end = cudaStreamEndCapture(stream, &graph);
      if (graph) cudaGraphDestroy(graph);
      if (capture_invalidated(end)) return nullptr;
      throw;
    }
    const cudaError_t end = cudaStreamEndCapture(stream, &graph);
    if (capture_invalidated(end)) {
      if (graph) cudaGraphDestroy(graph);
      return nullptr;
    }
    ADAMAS_CUDA_CHECK(end);
    const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    ADAMAS_CUDA_CHECK(status);
    // Upload now, under the scope, rather than at the first replay.
    ADAMAS_CUDA_CHECK(cudaGraphUpload(exec, stream));
    return exec;
  }
  // An invalidated capture (cudaErrorStreamCaptureInvalidated; not a sticky error): cleared and
  // tolerated kMaxCaptureRetries times per decoder.
  static constexpr int kMaxCaptureRetries = 3;
  int capture_retries = 0;
  bool capture_invalidated(cudaError_t end) {
    if (end != cudaErrorStreamCaptureInvalidated || capture_retries >= kMaxCaptureRetries) return false;
    ++capture_retries;
    (void)cudaGetLastError();
    std::fprintf(stderr, "warning: CudaDecoder: a CUDA graph capture was invalidated (%d of %d); the step ran "
                 "eagerly and is captured again\n", capture_retries, kMaxCaptureRetries);
    return true;
  }
  // One decode step from the pinned host buffers: a graph replay when the variant was captured,
  // else an eager step (after which the variant is captured for the next call). No sync here.
  bool run_step(bool dense_attention, bool want_logits) {
    if (observer) {  // it synchronizes inside the step: no capture, no replay
      enqueue_step(dense_attention, want_logits);
      return false;
    }
    if (use_graphs && step_graphs[dense_attention][want_logits]) {
      ADAMAS_CUDA_CHECK(cudaGraphLaunch(step_graphs[dense_attention][want_logits], stream));
      return false;
    }
    enqueue_step(dense_attention, want_logits);
    return use_graphs;  // capture after this step completes
  }

  // y[rows][out] = pre.gemm_input[rows][in] * W^T: the prefill's products over a chunk's rows.
  void prefill_product(const DeviceBuffer<uint8_t>& w, int out, int in, int rows, float* y) {
    const float one = 1.0f, zero = 0.0f;
    const cudaDataType type = bf16() ? CUDA_R_16BF : CUDA_R_32F;
    ADAMAS_CUBLAS_CHECK(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, &one, w.data(), type, in,
                                     pre.gemm_input.data(), type, in, &zero, y, CUDA_R_32F, out, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT));
  }
  template <typename W>
  void prefill_norm(const float* src, const DeviceBuffer<float>& weight, int rows) {
    rms_norm_kernel<W><<<rows, kThreads, 0, stream>>>(src, weight.data(), static_cast<float>(config.rms_norm_eps),
                                                      reinterpret_cast<W*>(pre.gemm_input.data()), hidden);
    ADAMAS_CUDA_CHECK_LAUNCH();
  }
  void ensure_prefill_buffers(size_t logits_rows) {
    if (prefill_rows == 0) {
      prefill_rows = std::min(options.runtime.prefill_chunk, options.runtime.max_context);
      const size_t R = prefill_rows;
      pre.x.resize(R * hidden);
      pre.qkv.resize(R * qkv_rows);
      pre.q.resize(R * q_heads * head_dim);
      pre.k.resize(R * kv_heads * head_dim);
      pre.v.resize(R * kv_heads * head_dim);
      pre.attn.resize(R * q_heads * head_dim);
      pre.proj.resize(R * hidden);
      pre.gate_up.resize(R * 2 * inter);
      pre.gemm_input.resize(R * std::max({hidden, inter, q_heads * head_dim}) * 4);
      pre.tokens.resize(R);
      pre.positions.resize(R);
    }
    if (pre.logits.size() < logits_rows * vocab) pre.logits.resize(logits_rows * vocab);
  }
  // One chunk of `rows` tokens of sequence `seq` at positions start.. (tokens already on the
  // device in pre.tokens, positions in pre.positions): the layers with dense causal attention over
  // the cache, then the logits of every row (all_logits) or of the last row (last_logits) into
  // pre.logits.
  template <typename W>
  void prefill_chunk(int seq, int start, int rows, bool all_logits, bool last_logits) {
    const size_t R = rows;
    embed_kernel<W><<<rows, kThreads, 0, stream>>>(pre.tokens.data(), reinterpret_cast<const W*>(embed.data()), pre.x.data(), hidden);
    ADAMAS_CUDA_CHECK_LAUNCH();
    for (int layer = 0; layer < layers; ++layer) {
      const Layer& w = weights[layer];
      prefill_norm<W>(pre.x.data(), w.input_norm, rows);
      prefill_product(w.qkv, qkv_rows, hidden, rows, pre.qkv.data());
      rope_split_kernel<<<rows, kThreads, 0, stream>>>(pre.qkv.data(), pre.positions.data(), inv_freq.data(), q_heads,
                                                       kv_heads, head_dim, pre.q.data(), pre.k.data(), pre.v.data());
      ADAMAS_CUDA_CHECK_LAUNCH();
      // pre.positions[0] is the chunk's first position: the append's first_position of one sequence.
      cache->append(layer, pre.k.data(), pre.v.data(), pre.positions.data(), seq, 1, rows, stream);
      const PagedKvView view = cache->view(layer);
      PrefillAttentionArgs a{};
      set_cache_view(a, view);
      a.seq = seq;
      a.first = start;
      a.count = rows;
      a.q = pre.q.data();
      a.out = pre.attn.data();
      a.num_q_heads = q_heads;
      a.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));  // as prefill_attention_cpu
      launch_prefill_attention(a, stream);
      const size_t attn_count = R * q_heads * head_dim;
      to_gemm_input_kernel<W><<<grid_for(attn_count), kThreads, 0, stream>>>(pre.attn.data(), reinterpret_cast<W*>(pre.gemm_input.data()), attn_count);
      prefill_product(w.o, hidden, q_heads * head_dim, rows, pre.proj.data());
      add_kernel<<<grid_for(R * hidden), kThreads, 0, stream>>>(pre.x.data(), pre.proj.data(), R * hidden);
      prefill_norm<W>(pre.x.data(), w.post_norm, rows);
      prefill_product(w.gate_up, 2 * inter, hidden, rows, pre.gate_up.data());
      swiglu_kernel<W><<<grid_for(R * inter), kThreads, 0, stream>>>(pre.gate_up.data(), reinterpret_cast<W*>(pre.gemm_input.data()), inter, rows);
      prefill_product(w.down, hidden, inter, rows, pre.proj.data());
      add_kernel<<<grid_for(R * hidden), kThreads, 0, stream>>>(pre.x.data(), pre.proj.data(), R * hidden);
      ADAMAS_CUDA_CHECK_LAUNCH();
    }
    const DeviceBuffer<uint8_t>& head = config.tie_word_embeddings ? embed : lm_head;
    if (all_logits) {
      prefill_norm<W>(pre.x.data(), final_norm, rows);
      prefill_product(head, vocab, hidden, rows, pre.logits.data());
    } else if (last_logits) {
      prefill_norm<W>(pre.x.data() + (R - 1) * hidden, final_norm, 1);
      prefill_product(head, vocab, hidden, 1, pre.logits.data());
    }
  }

  // The observer's view of `layer` (device view `view`) once the step's append has run: host
  // copies of the layer's buffers and of q; the lengths are the step's (seq_lens_host()).
  void observe_attention(int layer, const PagedKvView& view) {
    ADAMAS_CUDA_CHECK(cudaStreamSynchronize(stream));
    ObservedLayer& o = observed;
    cache->download(layer, o.keys, o.values, o.key_codes, o.page_min, o.page_max);
    o.q.resize(q.size());
    ADAMAS_CUDA_CHECK(cudaMemcpy(o.q.data(), q.data(), q.bytes(), cudaMemcpyDeviceToHost));
    PagedKvView host = view;
    host.keys = o.keys.data();
    host.values = o.values.data();
    host.key_codes = o.key_codes.data();
    host.page_min = o.page_min.data();
    host.page_max = o.page_max.data();
    host.page_table = page_table_host.data();
    host.seq_lens = seq_lens_host();
    observer->on_decode_attention(layer, host, o.q.data(), q_heads);
  }
  void observe_selection(int layer) {
    TokenSelection selection;
    policy_plan->download_selection(batch, selection);  // synchronizes the device
    observer->on_decode_selection(layer, selection);
  }

  // gemv_bf16 unless the timing probe leaves the products out.
  void step_gemv(const GemvProblem& p) {
    if (!skip.products) gemv_bf16(p, stream);
  }

  // `stream` waits for the append left on append_stream, if any.
  void join_append() {
    if (!append_pending) return;
    ADAMAS_CUDA_CHECK(cudaStreamWaitEvent(stream, append_done, 0));
    append_pending = false;
  }

  // The next step's inputs into step_inputs_host: `tokens` (nullptr: token 1 % vocab, for timing),
  // each sequence's next position, and its length with that token.
  void stage_inputs(const int32_t* tokens) {
    for (int s = 0; s < batch; ++s) {
      tokens_host()[s] = tokens != nullptr ? tokens[s] : 1 % vocab;
      positions_host()[s] = positions[s];
      seq_lens_host()[s] = positions[s] + 1;
    }
  }

  // The whole step on `stream` (host-side copies of tokens/positions included, from pinned memory).
  void enqueue_step(bool dense_attention, bool want_logits) {
    append_pending = false;  // only a step that threw leaves it set: its capture was discarded
    const bool sparse_layers = !dense_attention && options.runtime.selector.policy != Policy::kFull &&
                               options.runtime.dense_layers < layers;
    // Only behind our residual products' late-trigger kernels: at batch 4 (none) the norms so launched
    // took an SM's threads from the products and the step lost 6-9%.
    const bool late_trigger = own_gemv() && gemv_late_trigger_compiled(batch, gemv_min_blocks);
    const bool norm_pdl = late_trigger && (norm_pdl_choice == "on" || (norm_pdl_choice == "auto" && sparse_layers));
    if (three_uploads) {
      ADAMAS_CUDA_CHECK(cudaMemcpyAsync(tokens_device(), tokens_host(), sizeof(int32_t) * batch, cudaMemcpyHostToDevice, stream));
      ADAMAS_CUDA_CHECK(cudaMemcpyAsync(positions_device(), positions_host(), sizeof(int32_t) * batch, cudaMemcpyHostToDevice, stream));
      ADAMAS_CUDA_CHECK(cudaMemcpyAsync(cache->device_seq_lens(), seq_lens_host(), sizeof(int32_t) * batch, cudaMemcpyHostToDevice, stream));
    } else {
      ADAMAS_CUDA_CHECK(cudaMemcpyAsync(step_inputs.data(), step_inputs_host, sizeof(int32_t) * 3 * batch, cudaMemcpyHostToDevice, stream));
    }
    mark(2);
    const int32_t* staged_lens = three_uploads ? nullptr : staged_lens_device();  // the embed copies them to the cache
    if (bf16())
      embed_kernel<__nv_bfloat16><<<batch, kThreads, 0, stream>>>(tokens_device(), reinterpret_cast<const __nv_bfloat16*>(embed.data()),
                                                                  x.data(), hidden, staged_lens, cache->device_seq_lens());
    else
      embed_kernel<float><<<batch, kThreads, 0, stream>>>(tokens_device(), reinterpret_cast<const float*>(embed.data()), x.data(),
                                                          hidden, staged_lens, cache->device_seq_lens());
    ADAMAS_CUDA_CHECK_LAUNCH();
    for (int layer = 0; layer < layers; ++layer) {
      const Layer& w = weights[layer];
      join_append();  // the last layer's append reads k and v, which this layer's product rewrites
      norm_to_input(x.data(), w.input_norm, norm_pdl);
      mark(2);
      if (own_gemv()) {  // RoPE and the q/k/v split in the product's write
        GemvProblem p = gemv_problem(w.qkv, qkv_rows, hidden, GemvEpilogue::kRopeSplit, kQkv);
        p.positions = positions_device();
        p.inv_freq = inv_freq.data();
        p.q_heads = q_heads;
        p.kv_heads = kv_heads;
        p.head_dim = head_dim;
        p.q = q.data();
        p.k = k.data();
        p.v = v.data();
        step_gemv(p);
        mark(0);
      } else {
        product(w.qkv, qkv_rows, hidden, qkv.data());
        mark(0);
        if (!skip.products)
          rope_split_kernel<<<batch, kThreads, 0, stream>>>(qkv.data(), positions_device(), inv_freq.data(), q_heads,
                                                            kv_heads, head_dim, q.data(), k.data(), v.data());
        ADAMAS_CUDA_CHECK_LAUNCH();
        mark(2);
      }
      const PagedKvView view = cache->view(layer);
      const bool dense = dense_attention || layer < options.runtime.dense_layers ||
                         options.runtime.selector.policy == Policy::kFull;
      // A one-launch step takes the current token's K/V from k and v, so the append waits for no
      // step: it runs after the step beside the products (measured: bench/results/2026-11-30-s19).
      // The observer copies the cache with the token in it, so it keeps the append first.
      const bool append_after = !dense && !observer && !skip.append && policy_plan->step_reads_current(view);
      if (!skip.append && !append_after) cache->append(layer, k.data(), v.data(), positions_device(), 0, batch, 1, stream);
      if (observer) observe_attention(layer, view);
      if (!skip.attention) {
        if (dense) dense_plan->attend(view, q.data(), attn.data(), /*use_selection=*/false, stream);
        else policy_plan->step(view, q.data(), attn.data(), stream, append_after ? CurrentToken{k.data(), v.data()} : CurrentToken{});
      }
      const bool chained = append_after && append_chain && !skip.attention && policy_plan->step_path(view) == "grid" &&
                           cache->append_chained(layer, k.data(), v.data(), positions_device(), 0, batch, 1, stream);
      chained_appends += chained ? 1 : 0;
      if (append_after && !chained) {
        ADAMAS_CUDA_CHECK(cudaEventRecord(step_done, stream));
        ADAMAS_CUDA_CHECK(cudaStreamWaitEvent(append_stream, step_done, 0));
        cache->append(layer, k.data(), v.data(), positions_device(), 0, batch, 1, append_stream);
        ADAMAS_CUDA_CHECK(cudaEventRecord(append_done, append_stream));
        append_pending = true;
      }
      if (observer && !dense) observe_selection(layer);
      mark(1);
      if (!own_gemv()) {  // our o-projection GEMV rounds attn to bf16 as it reads it instead
        if (bf16()) to_input<__nv_bfloat16>(attn.data(), static_cast<size_t>(batch) * q_heads * head_dim);
        else to_input<float>(attn.data(), static_cast<size_t>(batch) * q_heads * head_dim);
        mark(2);
      }
      if (own_gemv()) {
        // x += bf16(attn) * Wo^T; then gate|up with SwiGLU in the write, into the (otherwise unused)
        // gate_up buffer as bf16 [batch][inter]: the down product's input; x += act * Wdown^T.
        GemvProblem o = gemv_problem(w.o, hidden, q_heads * head_dim, GemvEpilogue::kAccumulate, kO);
        o.input = nullptr;
        o.input_f32 = attn.data();
        o.y = x.data();
        o.late_trigger = norm_pdl;  // the norm after it
        step_gemv(o);
        mark(0);
        norm_to_input(x.data(), w.post_norm, norm_pdl);
        mark(2);
        GemvProblem gate_up_swiglu = gemv_problem(w.gate_up, 2 * inter, hidden, GemvEpilogue::kSwiGlu, kGateUp);
        gate_up_swiglu.act = reinterpret_cast<uint16_t*>(gate_up.data());
        step_gemv(gate_up_swiglu);
        GemvProblem down = gemv_problem(w.down, hidden, inter, GemvEpilogue::kAccumulate, kDown, gate_up.data());
        down.y = x.data();
        down.late_trigger = norm_pdl;  // the next layer's norm, or the final one
        step_gemv(down);
        mark(0);
        continue;
      }
      product(w.o, hidden, q_heads * head_dim, proj.data());
      mark(0);
      if (!skip.products) add_kernel<<<grid_for(static_cast<size_t>(batch) * hidden), kThreads, 0, stream>>>(x.data(), proj.data(), static_cast<size_t>(batch) * hidden);
      norm_to_input(x.data(), w.post_norm, norm_pdl);
      mark(2);
      product(w.gate_up, 2 * inter, hidden, gate_up.data());
      mark(0);
      if (!skip.products) {
        if (bf16()) swiglu_kernel<__nv_bfloat16><<<grid_for(static_cast<size_t>(batch) * inter), kThreads, 0, stream>>>(gate_up.data(), reinterpret_cast<__nv_bfloat16*>(gemm_input.data()), inter, batch);
        else swiglu_kernel<float><<<grid_for(static_cast<size_t>(batch) * inter), kThreads, 0, stream>>>(gate_up.data(), reinterpret_cast<float*>(gemm_input.data()), inter, batch);
      }
      mark(2);
      product(w.down, hidden, inter, proj.data());
      mark(0);
      if (!skip.products) add_kernel<<<grid_for(static_cast<size_t>(batch) * hidden), kThreads, 0, stream>>>(x.data(), proj.data(), static_cast<size_t>(batch) * hidden);
      ADAMAS_CUDA_CHECK_LAUNCH();
    }
    join_append();  // every append is in the cache when the step ends
    if (want_logits) {
      norm_to_input(x.data(), final_norm, norm_pdl);
      mark(2);
      product(config.tie_word_embeddings ? embed : lm_head, vocab, hidden, logits.data());
      mark(0);
    }
  }
};

CudaDecoder::CudaDecoder(const ModelConfig& config, const CudaDecoderOptions& options) : impl_(std::make_unique<Impl>()) {
  DeviceSyncScope sync_scope;  // allocations, handle creation, copies (capture_lock.cuh)
  Impl& m = *impl_;
  config.validate("CudaDecoder");
  check_runtime_options(options.runtime, config);
  ADAMAS_CHECK(gpu_available(), "--device cuda: no CUDA device is present");
  ADAMAS_CHECK(options.max_batch >= 1, "CudaDecoder: max_batch must be positive");
  ADAMAS_CHECK(options.weight_dtype == DType::kBF16 || options.weight_dtype == DType::kF32,
               "CudaDecoder: weights are held in bf16 or f32, not ", dtype_name(options.weight_dtype));
  const RuntimeOptions& r = options.runtime;
  ADAMAS_CHECK(r.selector.estimator != Estimator::kAsymmetric || r.code_bits == 2,
               "the asymmetric estimator reads 2-bit codes; got --code-bits ", r.code_bits);
  m.config = config;
  m.options = options;
  m.batch = options.max_batch;
  m.hidden = static_cast<int>(config.hidden_size);
  m.q_heads = static_cast<int>(config.num_heads);
  m.kv_heads = static_cast<int>(config.num_kv_heads);
  m.head_dim = static_cast<int>(config.head_dim);
  m.inter = static_cast<int>(config.intermediate_size);
  m.vocab = static_cast<int>(config.vocab_size);
  m.layers = static_cast<int>(config.num_layers);
  m.qkv_rows = (m.q_heads + 2 * m.kv_heads) * m.head_dim;
  m.weight_element = dtype_size_bytes(options.weight_dtype);

  ADAMAS_CUDA_CHECK(cudaStreamCreateWithFlags(&m.stream, cudaStreamNonBlocking));
  ADAMAS_CUDA_CHECK(cudaStreamCreateWithFlags(&m.append_stream, cudaStreamNonBlocking));
  ADAMAS_CUDA_CHECK(cudaEventCreateWithFlags(&m.step_done, cudaEventDisableTiming));
  ADAMAS_CUDA_CHECK(cudaEventCreateWithFlags(&m.append_done, cudaEventDisableTiming));
  ADAMAS_CUBLAS_CHECK(cublasCreate(&m.blas));
  ADAMAS_CUBLAS_CHECK(cublasSetStream(m.blas, m.stream));
  m.blas_workspace.resize(size_t{32} << 20);  // set, so products can be captured in a graph
  ADAMAS_CUBLAS_CHECK(cublasSetWorkspace(m.blas, m.blas_workspace.data(), m.blas_workspace.size()));

  const size_t e = m.weight_element;
  m.weights.resize(m.layers);
  for (auto& w : m.weights) {
    w.qkv.resize(static_cast<size_t>(m.qkv_rows) * m.hidden * e);
    w.o.resize(static_cast<size_t>(m.hidden) * m.q_heads * m.head_dim * e);
    w.gate_up.resize(static_cast<size_t>(2) * m.inter * m.hidden * e);
    w.down.resize(static_cast<size_t>(m.hidden) * m.inter * e);
    w.input_norm.resize(m.hidden);
    w.post_norm.resize(m.hidden);
  }
  m.embed.resize(static_cast<size_t>(m.vocab) * m.hidden * e);
  if (!config.tie_word_embeddings) m.lm_head.resize(static_cast<size_t>(m.vocab) * m.hidden * e);
  m.final_norm.resize(m.hidden);
  const std::vector<float> inv_freq = rope_inv_freq(m.head_dim, config.rope_theta, config.rope_scaling);
  m.inv_freq.resize(inv_freq.size());
  ADAMAS_CUDA_CHECK(cudaMemcpy(m.inv_freq.data(), inv_freq.data(), inv_freq.size() * 4, cudaMemcpyHostToDevice));

  const size_t B = m.batch;
  m.x.resize(B * m.hidden);
  m.qkv.resize(B * m.qkv_rows);
  m.q.resize(B * m.q_heads * m.head_dim);
  m.k.resize(B * m.kv_heads * m.head_dim);
  m.v.resize(B * m.kv_heads * m.head_dim);
  m.attn.resize(B * m.q_heads * m.head_dim);
  m.proj.resize(B * m.hidden);
  m.gate_up.resize(B * 2 * m.inter);
  m.logits.resize(B * m.vocab);
  m.gemm_input.resize(B * std::max({m.hidden, m.inter, m.q_heads * m.head_dim}) * 4);
  m.step_inputs.resize(3 * B);
  ADAMAS_CUDA_CHECK(cudaMallocHost(&m.step_inputs_host, 3 * B * sizeof(int32_t)));

  KvCacheConfig cache;
  cache.num_layers = m.layers;
  cache.num_kv_heads = m.kv_heads;
  cache.head_dim = m.head_dim;
  cache.page_size = r.page_size;
  cache.dtype = r.kv_dtype;
  cache.max_batch = m.batch;
  cache.max_tokens_per_seq = r.max_context;
  cache.code_thresholds = r.selector.thresholds;
  cache.code_bits = r.code_bits;
  cache.code_hadamard = r.code_hadamard;
  m.cache = std::make_unique<DeviceKvCache>(cache);
  DecodePlanConfig plan;
  plan.max_batch = m.batch;
  plan.num_q_heads = m.q_heads;
  plan.num_kv_heads = m.kv_heads;
  plan.head_dim = m.head_dim;
  plan.page_size = r.page_size;
  plan.dtype = r.kv_dtype;
  plan.max_context = r.max_context;
  plan.selector = r.selector;
  SelectorOptions full = r.selector;
  full.policy = Policy::kFull;
  DecodePlanConfig dense_config = plan;
  dense_config.selector = full;
  m.dense_plan = std::make_unique<DecodePlan>(dense_config);
  m.policy_plan = std::make_unique<DecodePlan>(plan);
  const char* no_graph = std::getenv("ADAMAS_NO_GRAPH");
  m.use_graphs = !(no_graph && std::string(no_graph) == "1");
  reset();
}

CudaDecoder::~CudaDecoder() {
  if (!impl_) return;
  DeviceSyncScope sync_scope;  // frees synchronize the device (capture_lock.cuh)
  Impl& m = *impl_;
  m.destroy_graphs();
  for (auto& [event, kind] : m.marks) cudaEventDestroy(event);
  if (m.step_inputs_host) cudaFreeHost(m.step_inputs_host);
  if (m.blas) cublasDestroy(m.blas);
  if (m.step_done) cudaEventDestroy(m.step_done);
  if (m.append_done) cudaEventDestroy(m.append_done);
  cudaStream_t stream = m.stream, append_stream = m.append_stream;
  impl_.reset();  // the device buffers, cache and plans, inside the scope
  if (stream) cudaStreamDestroy(stream);
  if (append_stream) cudaStreamDestroy(append_stream);
}

const ModelConfig& CudaDecoder::config() const { return impl_->config; }
int CudaDecoder::graph_capture_retries() const { return impl_->capture_retries; }

int CudaDecoder::chained_appends() const { return impl_->chained_appends; }
std::string CudaDecoder::gemv_in_use() const { return impl_->resolve_own_gemv() ? "own" : "cublas"; }
const CudaDecoderOptions& CudaDecoder::options() const { return impl_->options; }

namespace {

std::vector<float> widen(const WeightMatrix& w) {
  if (w.dtype == DType::kF32) return w.f32;
  std::vector<float> out(w.bits.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = w.dtype == DType::kBF16 ? bf16_to_f32(w.bits[i]) : f16_to_f32(w.bits[i]);
  return out;
}

}  // namespace

void CudaDecoder::load_weights(const WeightSource& weights) {
  impl_->load_all([&](const std::string& name) { return weights.load_f32(name); });
}

void CudaDecoder::load_weights(const LlamaModel& model) {
  impl_->load_all([&](const std::string& name) -> std::vector<float> {
    const std::string prefix = "model.layers.";
    if (name == "model.embed_tokens.weight") return widen(model.embed_tokens());
    if (name == "lm_head.weight") return widen(model.lm_head());
    if (name == "model.norm.weight") return model.final_norm();
    const size_t dot = name.find('.', prefix.size());
    const int layer = std::stoi(name.substr(prefix.size(), dot - prefix.size()));
    const std::string rest = name.substr(dot + 1);
    const LlamaLayerWeights& w = model.layer(layer);
    if (rest == "self_attn.q_proj.weight") return widen(w.q_proj);
    if (rest == "self_attn.k_proj.weight") return widen(w.k_proj);
    if (rest == "self_attn.v_proj.weight") return widen(w.v_proj);
    if (rest == "self_attn.o_proj.weight") return widen(w.o_proj);
    if (rest == "mlp.gate_proj.weight") return widen(w.gate_proj);
    if (rest == "mlp.up_proj.weight") return widen(w.up_proj);
    if (rest == "mlp.down_proj.weight") return widen(w.down_proj);
    if (rest == "input_layernorm.weight") return w.input_norm;
    return w.post_attention_norm;
  });
}

void CudaDecoder::randomize_weights(uint64_t seed) {
  DeviceSyncScope sync_scope;
  Impl& m = *impl_;
  auto fill = [&](DeviceBuffer<uint8_t>& buffer, float stddev) {
    const size_t count = buffer.size() / m.weight_element;
    if (m.bf16()) fill_normal(reinterpret_cast<__nv_bfloat16*>(buffer.data()), count, ++seed, stddev, m.stream);
    else fill_normal(reinterpret_cast<float*>(buffer.data()), count, ++seed, stddev, m.stream);
  };
  auto fill_norm = [&](DeviceBuffer<float>& buffer) {
    fill_normal(buffer.data(), buffer.size(), ++seed, 0.01f, m.stream, /*mean=*/1.0f);
  };
  for (auto& w : m.weights) {
    fill(w.qkv, 0.02f);
    fill(w.o, 0.02f);
    fill(w.gate_up, 0.02f);
    fill(w.down, 0.02f);
    fill_norm(w.input_norm);
    fill_norm(w.post_norm);
  }
  fill(m.embed, 0.02f);
  if (!m.config.tie_word_embeddings) fill(m.lm_head, 0.02f);
  fill_norm(m.final_norm);
  ADAMAS_CUDA_CHECK(cudaStreamSynchronize(m.stream));
}

void CudaDecoder::reset() {
  DeviceSyncScope sync_scope;  // the page table's synchronous copy
  Impl& m = *impl_;
  m.positions.assign(m.batch, 0);
  const int pages_per_seq = (m.options.runtime.max_context + m.options.runtime.page_size - 1) / m.options.runtime.page_size;
  std::vector<int32_t> table(static_cast<size_t>(m.batch) * pages_per_seq);
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(i);  // sequence s owns pages s*P..
  m.cache->set_page_table(table, std::vector<int32_t>(m.batch, 0));
  m.page_table_host = table;
}

int CudaDecoder::position(int seq) const { return impl_->positions.at(seq); }

void CudaDecoder::fill_random_context(int context, uint64_t seed) {
  DeviceSyncScope sync_scope;
  Impl& m = *impl_;
  ADAMAS_CHECK(context >= 1 && context < m.options.runtime.max_context, "fill_random_context: ", context,
               " tokens do not leave room for decoding in max_context ", m.options.runtime.max_context);
  reset();
  const int chunk = std::min(context, 4096);
  const size_t floats = static_cast<size_t>(m.batch) * chunk * m.kv_heads * m.head_dim;
  DeviceBuffer<float> keys(floats), values(floats);
  DeviceBuffer<int32_t> first(m.batch);
  std::vector<int32_t> lens(m.batch);
  for (int start = 0; start < context; start += chunk) {
    const int count = std::min(chunk, context - start);
    std::vector<int32_t> starts(m.batch, start);
    std::fill(lens.begin(), lens.end(), start + count);
    ADAMAS_CUDA_CHECK(cudaMemcpy(first.data(), starts.data(), m.batch * 4, cudaMemcpyHostToDevice));
    ADAMAS_CUDA_CHECK(cudaMemcpy(m.cache->device_seq_lens(), lens.data(), m.batch * 4, cudaMemcpyHostToDevice));
    for (int layer = 0; layer < m.layers; ++layer) {
      // Keys of 7B-model magnitude (std 8, as bench-attn); values std 1. Layout [batch][count][heads][d].
      fill_normal(keys.data(), floats, seed * 1315423911ull + layer * 7919 + start, 8.0f, m.stream);
      fill_normal(values.data(), floats, seed * 2654435761ull + layer * 7919 + start, 1.0f, m.stream);
      m.cache->append(layer, keys.data(), values.data(), first.data(), 0, m.batch, count, m.stream);
    }
  }
  ADAMAS_CUDA_CHECK(cudaStreamSynchronize(m.stream));
  std::fill(m.positions.begin(), m.positions.end(), context);
}

void CudaDecoder::decode(const int32_t* tokens, float* logits, bool dense_attention) {
  Impl& m = *impl_;
  for (int s = 0; s < m.batch; ++s) {
    ADAMAS_CHECK(tokens[s] >= 0 && tokens[s] < m.vocab, "token id ", tokens[s], " of sequence ", s,
                 " is outside the vocabulary [0, ", m.vocab, ")");
    ADAMAS_CHECK(m.positions[s] < m.options.runtime.max_context, "sequence ", s, " is full (max_context ",
                 m.options.runtime.max_context, ")");
  }
  m.stage_inputs(tokens);
  const bool want_logits = logits != nullptr;
  bool capture = false;
  {
    // An eager step (a variant's first, or ADAMAS_NO_GRAPH=1) may load kernels and set up cuBLAS:
    // not while another thread captures. Graph replays need no scope.
    std::optional<DeviceSyncScope> sync_scope;
    if (m.observer || !(m.use_graphs && m.step_graphs[dense_attention][want_logits])) sync_scope.emplace();
    capture = m.run_step(dense_attention, want_logits);
    if (logits)
      ADAMAS_CUDA_CHECK(cudaMemcpyAsync(logits, m.logits.data(), sizeof(float) * m.batch * m.vocab, cudaMemcpyDeviceToHost, m.stream));
    ADAMAS_CUDA_CHECK(cudaStreamSynchronize(m.stream));
  }
  for (int s = 0; s < m.batch; ++s) ++m.positions[s];
  if (capture) m.capture_step(dense_attention, want_logits);
}

void CudaDecoder::prefill(int seq, const int32_t* tokens, int count, float* logits, bool all_positions) {
  Impl& m = *impl_;
  ADAMAS_CHECK(seq >= 0 && seq < m.batch, "prefill: sequence ", seq, " out of range [0, ", m.batch, ")");
  ADAMAS_CHECK(count >= 0, "prefill: negative token count ", count);
  for (int i = 0; i < count; ++i)
    ADAMAS_CHECK(tokens[i] >= 0 && tokens[i] < m.vocab, "token id ", tokens[i], " at index ", i,
                 " is outside the vocabulary [0, ", m.vocab, ")");
  ADAMAS_CHECK(m.positions[seq] + static_cast<int64_t>(count) <= m.options.runtime.max_context, "context of ",
               m.positions[seq] + static_cast<int64_t>(count), " tokens exceeds the cache capacity (max_context ",
               m.options.runtime.max_context, ")");
  if (count == 0) return;
  DeviceSyncScope sync_scope;  // workspace allocation, cuBLAS, first launches (capture_lock.cuh)
  m.ensure_prefill_buffers(all_positions && logits ? std::min(count, m.options.runtime.prefill_chunk) : 1);
  std::vector<int32_t> positions(m.prefill_rows);
  for (int begin = 0; begin < count; begin += m.prefill_rows) {
    const int rows = std::min(m.prefill_rows, count - begin);
    const int start = m.positions[seq] + begin;
    for (int i = 0; i < rows; ++i) positions[i] = start + i;
    // Pageable sources: the copies have read them when the calls return, so `positions` can be
    // rewritten for the next chunk while this one runs.
    ADAMAS_CUDA_CHECK(cudaMemcpyAsync(m.pre.tokens.data(), tokens + begin, sizeof(int32_t) * rows, cudaMemcpyHostToDevice, m.stream));
    ADAMAS_CUDA_CHECK(cudaMemcpyAsync(m.pre.positions.data(), positions.data(), sizeof(int32_t) * rows, cudaMemcpyHostToDevice, m.stream));
    const bool last_chunk = begin + rows == count;
    const bool all_logits = logits && all_positions, last_logits = logits && last_chunk;
    if (m.bf16()) m.prefill_chunk<__nv_bfloat16>(seq, start, rows, all_logits, last_logits);
    else m.prefill_chunk<float>(seq, start, rows, all_logits, last_logits);
    if (all_logits)
      ADAMAS_CUDA_CHECK(cudaMemcpyAsync(logits + static_cast<size_t>(begin) * m.vocab, m.pre.logits.data(),
                                        sizeof(float) * rows * m.vocab, cudaMemcpyDeviceToHost, m.stream));
    else if (last_logits)
      ADAMAS_CUDA_CHECK(cudaMemcpyAsync(logits, m.pre.logits.data(), sizeof(float) * m.vocab, cudaMemcpyDeviceToHost, m.stream));
  }
  ADAMAS_CUDA_CHECK(cudaStreamSynchronize(m.stream));
  m.positions[seq] += count;
}

void CudaDecoder::rewind(int seq, int length) {
  Impl& m = *impl_;
  ADAMAS_CHECK(seq >= 0 && seq < m.batch, "rewind: sequence ", seq, " out of range [0, ", m.batch, ")");
  ADAMAS_CHECK(length >= 0 && length <= m.positions[seq], "rewind: length ", length, " is outside [0, ",
               m.positions[seq], "]");
  DeviceSyncScope sync_scope;
  m.cache->truncate(seq, length, m.stream);
  ADAMAS_CUDA_CHECK(cudaStreamSynchronize(m.stream));
  m.positions[seq] = length;
}

namespace {

// The device lengths are written by each step; after a rewind they still hold the old length, so
// calibration (which reads them) first sets them to the host positions.
void upload_lengths(DeviceKvCache& cache, const std::vector<int>& positions) {
  std::vector<int32_t> lens(positions.begin(), positions.end());
  ADAMAS_CUDA_CHECK(cudaMemcpy(cache.device_seq_lens(), lens.data(), lens.size() * sizeof(int32_t), cudaMemcpyHostToDevice));
}

}  // namespace

void CudaDecoder::calibrate_code_books(const std::vector<double>& quantiles) {
  DeviceSyncScope sync_scope;
  Impl& m = *impl_;
  ADAMAS_CUDA_CHECK(cudaStreamSynchronize(m.stream));
  upload_lengths(*m.cache, m.positions);
  calibrate_device_code_books(*m.cache, quantiles);
  m.destroy_graphs();  // they captured the old books' thresholds and centroids as launch arguments
}

void CudaDecoder::reset_code_books() {
  DeviceSyncScope sync_scope;
  Impl& m = *impl_;
  ADAMAS_CUDA_CHECK(cudaStreamSynchronize(m.stream));
  upload_lengths(*m.cache, m.positions);
  for (int layer = 0; layer < m.layers; ++layer)
    m.cache->set_code_book(layer, initial_code_book(m.cache->config()));
  m.destroy_graphs();
}

const CodeBook& CudaDecoder::code_book(int layer) const { return impl_->cache->code_book(layer); }

void CudaDecoder::set_graph_skip(const std::vector<std::string>& parts) {
  Impl& m = *impl_;
  Impl::GraphSkip skip;
  for (const std::string& part : parts) {
    if (part == "norms") skip.norms = true;
    else if (part == "append") skip.append = true;
    else if (part == "attention") skip.attention = true;
    else if (part == "products") skip.products = true;
    else throw Error("set_graph_skip: unknown part '" + part + "' (expected norms, append, attention, products)");
  }
  DeviceSyncScope sync_scope;
  m.destroy_graphs();
  m.skip = skip;
}

void CudaDecoder::set_observer(AttentionObserver* observer) {
  ADAMAS_CHECK(observer == nullptr || impl_->batch == 1, "CudaDecoder: attention observers need max_batch 1, got ",
               impl_->batch);
  impl_->observer = observer;
}

void CudaDecoder::set_selector(const SelectorOptions& selector) {
  Impl& m = *impl_;
  const SelectorOptions& current = m.options.runtime.selector;
  RuntimeOptions next = m.options.runtime;
  next.selector = selector;
  check_runtime_options(next, m.config);
  check_same_thresholds(selector.thresholds, current.thresholds);
  ADAMAS_CHECK(selector.estimator == current.estimator, "set_selector: the CUDA runtime keeps the estimator it was built with");
  DecodePlanConfig plan = m.policy_plan->config();
  plan.selector = selector;
  DeviceSyncScope sync_scope;  // the plan's allocations, the old plan's frees
  auto policy_plan = std::make_unique<DecodePlan>(plan);  // validates the CUDA selectors' support
  ADAMAS_CUDA_CHECK(cudaStreamSynchronize(m.stream));
  m.destroy_graphs();  // they captured the old plan's launches
  m.policy_plan = std::move(policy_plan);
  m.options.runtime.selector = selector;
}

double CudaDecoder::graph_step_ms(int iterations) {
  Impl& m = *impl_;
  ADAMAS_CHECK(iterations >= 1, "graph_step_ms: iterations must be positive");
  ADAMAS_CHECK(m.observer == nullptr, "graph_step_ms: an attention observer is set (its steps run eagerly)");
  for (int s = 0; s < m.batch; ++s) {
    ADAMAS_CHECK(m.positions[s] < m.options.runtime.max_context, "graph_step_ms: sequence ", s, " is full");
  }
  m.stage_inputs(nullptr);
  for (int attempt = 0; !m.step_graphs[0][1] && attempt <= Impl::kMaxCaptureRetries; ++attempt) {
    {
      DeviceSyncScope sync_scope;
      m.enqueue_step(false, true);  // warm-up outside the capture (plans' lazy attributes, cuBLAS heuristics)
      ADAMAS_CUDA_CHECK(cudaStreamSynchronize(m.stream));
    }
    m.capture_step(false, true);
  }
  cudaGraphExec_t graph = m.step_graphs[0][1];
  ADAMAS_CHECK(graph != nullptr, "graph_step_ms: the decode step could not be captured");
  return median_event_ms(m.stream, /*warmup=*/2, iterations,
                         [&] { ADAMAS_CUDA_CHECK(cudaGraphLaunch(graph, m.stream)); });
}

StepProfile CudaDecoder::profile_step() {
  Impl& m = *impl_;
  m.stage_inputs(nullptr);
  DeviceSyncScope sync_scope;  // an eager step
  m.profile = true;
  m.mark(2);
  m.enqueue_step(false, true);
  m.mark(2);
  m.profile = false;
  ADAMAS_CUDA_CHECK(cudaStreamSynchronize(m.stream));
  StepProfile p;
  for (size_t i = 1; i < m.marks.size(); ++i) {
    float ms = 0;
    ADAMAS_CUDA_CHECK(cudaEventElapsedTime(&ms, m.marks[i - 1].first, m.marks[i].first));
    (m.marks[i].second == 0 ? p.matmul_ms : m.marks[i].second == 1 ? p.attention_ms : p.other_ms) += ms;
  }
  for (auto& [event, kind] : m.marks) cudaEventDestroy(event);
  m.marks.clear();
  p.total_ms = p.matmul_ms + p.attention_ms + p.other_ms;
  return p;
}

double CudaDecoder::step_bytes() const {
  const Impl& m = *impl_;
  double bytes = 0;
  for (const auto& w : m.weights) bytes += w.qkv.size() + w.o.size() + w.gate_up.size() + w.down.size();
  bytes += static_cast<double>(m.config.tie_word_embeddings ? m.embed.size() : m.lm_head.size());
  BenchAttnOptions o;
  o.batch = m.batch;
  o.num_q_heads = m.q_heads;
  o.num_kv_heads = m.kv_heads;
  o.head_dim = m.head_dim;
  o.context = *std::max_element(m.positions.begin(), m.positions.end()) + 1;
  o.token_budget = m.options.runtime.selector.token_budget;
  o.dtype = m.options.runtime.kv_dtype;
  o.page_size = m.options.runtime.page_size;
  for (int layer = 0; layer < m.layers; ++layer) {
    const bool dense = layer < m.options.runtime.dense_layers;
    bytes += decode_step_bytes(o, dense ? Policy::kFull : m.options.runtime.selector.policy);
  }
  return bytes;
}

// ------------------------------------------------------------------ batch-1 DecoderRuntime

namespace {

class CudaRuntime : public DecoderRuntime {
 public:
  CudaRuntime(const LlamaModel& model, const RuntimeOptions& options) : options_(options) {
    CudaDecoderOptions o;
    o.runtime = options;
    o.max_batch = 1;
    o.weight_dtype = DType::kF32;  // the model's own precision: results comparable with --device cpu
    decoder_ = std::make_unique<CudaDecoder>(model.config(), o);
    decoder_->load_weights(model);
  }
  const ModelConfig& config() const override { return decoder_->config(); }
  const RuntimeOptions& options() const override { return options_; }
  std::string device_name() const override { return gpu_name(); }
  void reset() override {
    decoder_->reset();
    if (calibrated_at_ >= 0) decoder_->reset_code_books();
    calibrated_at_ = -1;
  }
  int position() const override { return decoder_->position(0); }
  void prefill(const std::vector<int32_t>& tokens, std::vector<float>* logits, bool all_positions) override {
    const int count = static_cast<int>(tokens.size());
    const int64_t vocab = config().vocab_size;
    if (logits) logits->assign(static_cast<size_t>(all_positions ? count : (count > 0 ? 1 : 0)) * vocab, 0.0f);
    decoder_->prefill(0, tokens.data(), count, logits ? logits->data() : nullptr, all_positions);
    maybe_calibrate();
  }
  void rewind(int length) override {
    decoder_->rewind(0, length);
    if (calibrated_at_ >= 0 && calibrated_at_ != length) {  // as the CPU runtime: redo a calibration on other tokens
      decoder_->reset_code_books();
      calibrated_at_ = -1;
      maybe_calibrate();
    }
  }
  void set_selector(const SelectorOptions& selector) override {
    decoder_->set_selector(selector);
    options_.selector = selector;
  }
  void decode(int32_t token, float* logits) override {
    const auto start = std::chrono::steady_clock::now();
    decoder_->decode(&token, logits, /*dense_attention=*/false);
    maybe_calibrate();
    stats_.context = position();
    stats_.kv_bytes_read = 0;  // the CPU runtime's byte model (llama_model.h), over this runtime's current selector
    for (int layer = 0; layer < config().num_layers; ++layer)
      stats_.kv_bytes_read += layer_kv_bytes_read(options_, config(), layer, stats_.context);
    stats_.dense_kv_bytes = dense_kv_bytes_read(options_, config(), stats_.context);
    stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const DecodeStepStats& last_step() const override { return stats_; }
  void set_observer(AttentionObserver* observer) override { decoder_->set_observer(observer); }
  CodeBook code_book(int layer) const override { return decoder_->code_book(layer); }

 private:
  // The CPU runtime's rule (llama_model.cpp): once the sequence holds calibrate_after_tokens
  // tokens, fit every layer's code book to its cached keys and re-encode them.
  void maybe_calibrate() {
    if (options_.calibrate_after_tokens <= 0 || calibrated_at_ >= 0 || position() < options_.calibrate_after_tokens) return;
    decoder_->calibrate_code_books(options_.calibration_quantiles);
    calibrated_at_ = position();
  }

  RuntimeOptions options_;
  int calibrated_at_ = -1;  // position the code books were fitted at; -1: the options' thresholds
  std::unique_ptr<CudaDecoder> decoder_;
  DecodeStepStats stats_;
};

}  // namespace

std::unique_ptr<DecoderRuntime> make_cuda_runtime(const LlamaModel& model, const RuntimeOptions& options) {
  return std::make_unique<CudaRuntime>(model, options);
}

}  // namespace adamas::cuda
