// Weight products at small batch (gemv.h): a warp per pair of weight rows, 16-byte streaming loads,
// fp32 accumulation, warp-shuffle reductions, and the decode step's elementwise work in the write.
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda/cuda_common.cuh"
#include "cuda/gemv.h"
#include "cuda/kernel_variants.cuh"
#include "cuda/launch.cuh"

namespace adamas::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kChunk = 8;  // bf16 per 16-byte load

__device__ __forceinline__ float round_to_bf16(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }

// bf16 is the high half of an fp32: element 2j is the low half of word j (little-endian).
__device__ __forceinline__ void bf16x8_to_float(const uint4& bits, float (&f)[kChunk]) {
  const uint32_t words[4] = {bits.x, bits.y, bits.z, bits.w};
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    f[2 * j] = __uint_as_float(words[j] << 16);
    f[2 * j + 1] = __uint_as_float(words[j] & 0xffff0000u);
  }
}

// The two rows a warp computes. Pairs are what the epilogues combine: gate with up (r, r + out/2),
// the two halves rotate_half mixes (head * d + i, head * d + i + d/2); plain products take two
// neighbouring rows (the second may fall past `out` for odd out).
template <GemvEpilogue kEpilogue>
__device__ __forceinline__ void pair_rows(const GemvProblem& p, int pair, int& r0, int& r1) {
  if constexpr (kEpilogue == GemvEpilogue::kSwiGlu) {
    r0 = pair;
    r1 = pair + p.out / 2;
  } else if constexpr (kEpilogue == GemvEpilogue::kRopeSplit) {
    const int half = p.head_dim / 2;
    r0 = (pair / half) * p.head_dim + pair % half;
    r1 = r0 + half;
  } else {
    r0 = 2 * pair;
    r1 = 2 * pair + 1;
  }
}

template <GemvEpilogue kEpilogue>
__device__ __forceinline__ void write_pair(const GemvProblem& p, int pair, int seq, int r0, int r1, float dot0, float dot1) {
  if constexpr (kEpilogue == GemvEpilogue::kStore) {
    p.y[static_cast<size_t>(seq) * p.out + r0] = dot0;
    if (r1 < p.out) p.y[static_cast<size_t>(seq) * p.out + r1] = dot1;
  } else if constexpr (kEpilogue == GemvEpilogue::kAccumulate) {
    p.y[static_cast<size_t>(seq) * p.out + r0] += dot0;
    if (r1 < p.out) p.y[static_cast<size_t>(seq) * p.out + r1] += dot1;
  } else if constexpr (kEpilogue == GemvEpilogue::kSwiGlu) {
    const int inter = p.out / 2;
    const float act = dot0 / (1.0f + expf(-dot0)) * dot1;  // as swiglu_kernel
    reinterpret_cast<__nv_bfloat16*>(p.act)[static_cast<size_t>(seq) * inter + pair] = __float2bfloat16_rn(act);
  } else {
    const int half = p.head_dim / 2, head = pair / half, i = pair % half;
    float out0 = dot0, out1 = dot1;
    if (head < p.q_heads + p.kv_heads) {  // q and k rotate; v passes through
      const float angle = static_cast<float>(p.positions[seq]) * p.inv_freq[i];  // fp32 product, as transformers
      const float c = static_cast<float>(cos(static_cast<double>(angle)));
      const float s = static_cast<float>(sin(static_cast<double>(angle)));
      out0 = dot0 * c - dot1 * s;
      out1 = dot1 * c + dot0 * s;
    }
    float* dst = head < p.q_heads ? p.q + (static_cast<size_t>(seq) * p.q_heads + head) * p.head_dim
                 : head < p.q_heads + p.kv_heads
                     ? p.k + (static_cast<size_t>(seq) * p.kv_heads + head - p.q_heads) * p.head_dim
                     : p.v + (static_cast<size_t>(seq) * p.kv_heads + head - p.q_heads - p.kv_heads) * p.head_dim;
    dst[i] = out0;
    dst[i + half] = out1;
  }
}

// Block = 8 warps; warp w takes pair blockIdx.x * (8 / slices) + w / slices and slice w % slices of
// `in` (slices 1, 2 or 4, gemv_k_slices), for up to kBatch sequences (p.batch <= kBatch at run
// time). Each lane keeps kUnroll 16-byte loads per row in flight (2 * kUnroll * 16 B), so that
// about 60 KiB per SM are outstanding at batch 1, enough to cover the memory latency at the copy
// bandwidth. Weights are read once per step: __ldcs (evict-first) keeps them from pushing the
// inputs out of L1/L2. The inputs (batch * in bf16) are re-read by every warp from L1. Split pairs
// meet in shared memory: the pair's slice-0 warp adds the slices in order and writes.
// kLateTrigger (GemvProblem::late_trigger): the dependents launch once the block's weights are read.
template <int kBatch, int kUnroll, GemvEpilogue kEpilogue, bool kF32Input, int kMinBlocks, bool kLateTrigger = false>
__global__ void __launch_bounds__(kWarpsPerBlock * 32, kMinBlocks) gemv_bf16_kernel(const GemvProblem p, int pairs, int slices) {
  __shared__ float slice_sums[kWarpsPerBlock][2][kBatch];
  if constexpr (!kLateTrigger) grid_dependency_trigger();  // the next product's blocks may start prefetching its weights
  const int lane = threadIdx.x & 31, warp = static_cast<int>(threadIdx.x >> 5);
  const int pair = blockIdx.x * (kWarpsPerBlock / slices) + warp / slices, slice = warp % slices;
  const bool active = pair < pairs;  // uniform across the warp; no early return: the block may meet below
  int r0 = 0, r1 = 0;
  if (active) pair_rows<kEpilogue>(p, pair, r0, r1);
  const int r1_read = r1 < p.out ? r1 : r0;  // a single last row of odd `out` reads row r0 twice
  const __nv_bfloat16* w0 = reinterpret_cast<const __nv_bfloat16*>(p.weight) + static_cast<size_t>(r0) * p.in;
  const __nv_bfloat16* w1 = reinterpret_cast<const __nv_bfloat16*>(p.weight) + static_cast<size_t>(r1_read) * p.in;
  const __nv_bfloat16* x = reinterpret_cast<const __nv_bfloat16*>(p.input);
  const float* x_f32 = p.input_f32;

  float acc0[kBatch], acc1[kBatch];
#pragma unroll
  for (int s = 0; s < kBatch; ++s) acc0[s] = acc1[s] = 0.0f;

  // Rows start 16-byte aligned only when in % 8 == 0; otherwise the element loop below does all
  // (with one slice: gemv_bf16 splits only whole chunks).
  const int chunks = p.in % kChunk == 0 ? p.in / kChunk : 0;
  const int slice_chunks = (chunks + slices - 1) / slices;
  const int first = active ? min(chunks, slice * slice_chunks) : chunks, last = min(chunks, first + slice_chunks);
  const uint4* w0_chunks = reinterpret_cast<const uint4*>(w0);
  const uint4* w1_chunks = reinterpret_cast<const uint4*>(w1);
  uint4 a[kUnroll], b[kUnroll];
  auto load_round = [&](int base) {  // all of a round's loads first: 2 * kUnroll in flight per lane
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = base + u * 32 + lane;
      a[u] = c < last ? __ldcs(w0_chunks + c) : make_uint4(0, 0, 0, 0);
      b[u] = c < last ? __ldcs(w1_chunks + c) : make_uint4(0, 0, 0, 0);
    }
  };
  // The weights are no kernel's output: the first round is requested before the wait, so under
  // programmatic launch (GemvProblem::programmatic) it overlaps the end of the kernel before.
  load_round(first);
  grid_dependency_wait();
  for (int base = first; base < last; base += 32 * kUnroll) {
    if (base != first) load_round(base);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = base + u * 32 + lane;
      if (c < last) {
        float wa[kChunk], wb[kChunk];
        bf16x8_to_float(a[u], wa);
        bf16x8_to_float(b[u], wb);
#pragma unroll
        for (int s = 0; s < kBatch; ++s) {
          if (s < p.batch) {
            float xs[kChunk];
            if constexpr (kF32Input) {
              const float4* row = reinterpret_cast<const float4*>(x_f32 + static_cast<size_t>(s) * p.in) + 2 * c;
              const float4 lo = __ldg(row), hi = __ldg(row + 1);
              xs[0] = round_to_bf16(lo.x), xs[1] = round_to_bf16(lo.y), xs[2] = round_to_bf16(lo.z), xs[3] = round_to_bf16(lo.w);
              xs[4] = round_to_bf16(hi.x), xs[5] = round_to_bf16(hi.y), xs[6] = round_to_bf16(hi.z), xs[7] = round_to_bf16(hi.w);
            } else {
              bf16x8_to_float(__ldg(reinterpret_cast<const uint4*>(x + static_cast<size_t>(s) * p.in) + c), xs);
            }
#pragma unroll
            for (int j = 0; j < kChunk; ++j) {
              acc0[s] = fmaf(wa[j], xs[j], acc0[s]);
              acc1[s] = fmaf(wb[j], xs[j], acc1[s]);
            }
          }
        }
      }
    }
  }
  if constexpr (kLateTrigger) grid_dependency_trigger();  // every weight of the block is read
  if (active && slice == 0) {
    for (int i = chunks * kChunk + lane; i < p.in; i += 32) {
      const float wa = __bfloat162float(w0[i]), wb = __bfloat162float(w1[i]);
#pragma unroll
      for (int s = 0; s < kBatch; ++s) {
        if (s < p.batch) {
          const float xs = kF32Input ? round_to_bf16(x_f32[static_cast<size_t>(s) * p.in + i])
                                     : __bfloat162float(x[static_cast<size_t>(s) * p.in + i]);
          acc0[s] = fmaf(wa, xs, acc0[s]);
          acc1[s] = fmaf(wb, xs, acc1[s]);
        }
      }
    }
  }
#pragma unroll
  for (int s = 0; s < kBatch; ++s) {
#pragma unroll
    for (int width = 16; width > 0; width /= 2) {
      acc0[s] += __shfl_xor_sync(0xffffffffu, acc0[s], width);
      acc1[s] += __shfl_xor_sync(0xffffffffu, acc1[s], width);
    }
  }
  if (slices > 1) {  // uniform across the block
    if (lane == 0) {
#pragma unroll
      for (int s = 0; s < kBatch; ++s) {
        slice_sums[warp][0][s] = acc0[s];
        slice_sums[warp][1][s] = acc1[s];
      }
    }
    __syncthreads();
    if (slice != 0) return;
#pragma unroll
    for (int s = 0; s < kBatch; ++s) {
      acc0[s] = slice_sums[warp][0][s];
      acc1[s] = slice_sums[warp][1][s];
      for (int j = 1; j < slices; ++j) {
        acc0[s] += slice_sums[warp + j][0][s];
        acc1[s] += slice_sums[warp + j][1][s];
      }
    }
  }
  if (!active) return;
  // Lane s writes sequence s (every lane holds every sum after the xor reduction).
#pragma unroll
  for (int s = 0; s < kBatch; ++s)
    if (s < p.batch && lane == s) write_pair<kEpilogue>(p, pair, s, r0, r1, acc0[s], acc1[s]);
}

// Fewer loads in flight per lane as the batch grows: the inputs' registers (4 per sequence and
// load) and the accumulators take the room, and more FMAs per load hide latency anyway.
constexpr int unroll_for_batch(int batch) { return batch <= 2 ? 4 : batch <= 4 ? 2 : 1; }

// Pairs of rows (one warp's work without a split).
int pair_count(const GemvProblem& p) {
  return p.epilogue == GemvEpilogue::kSwiGlu || p.epilogue == GemvEpilogue::kRopeSplit ? p.out / 2 : (p.out + 1) / 2;
}

template <int kBatch, GemvEpilogue kEpilogue>
void launch(const GemvProblem& p, int pairs, int slices, cudaStream_t stream) {
  const int pairs_per_block = kWarpsPerBlock / slices;
  const int blocks = (pairs + pairs_per_block - 1) / pairs_per_block;
  constexpr int kUnroll = unroll_for_batch(kBatch);
  auto go = [&](auto f32_input, auto min_blocks) {
    constexpr bool kF32 = decltype(f32_input)::value;
    constexpr int kMin = decltype(min_blocks)::value;
    auto run = [&](auto* kernel) {
      launch_with_dependency(kernel, dim3(blocks), dim3(kWarpsPerBlock * 32), 0, stream, p.programmatic, p, pairs, slices);
    };
    if constexpr (kEpilogue == GemvEpilogue::kAccumulate && gemv_late_trigger_compiled(kBatch, kMin))
      if (p.late_trigger) return run(gemv_bf16_kernel<kBatch, kUnroll, kEpilogue, kF32, kMin, true>);
    run(gemv_bf16_kernel<kBatch, kUnroll, kEpilogue, kF32, kMin>);
  };
  auto with_input = [&](auto min_blocks) {
    // fp32 inputs only where the decode step has them (the attention output into the o projection).
    if constexpr (kEpilogue == GemvEpilogue::kAccumulate)
      if (p.input_f32) return go(std::true_type{}, min_blocks);
    go(std::false_type{}, min_blocks);
  };
  if (kBatch <= 2 && p.min_blocks == 4) with_input(std::integral_constant<int, 4>{});
  else with_input(std::integral_constant<int, 1>{});  // 1: no bound beyond the block size
}

template <GemvEpilogue kEpilogue>
void launch_for_batch(const GemvProblem& p, int slices, cudaStream_t stream) {
  const int pairs = pair_count(p);
  if (p.batch <= 1) launch<1, kEpilogue>(p, pairs, slices, stream);
  else if (p.batch <= 2) launch<2, kEpilogue>(p, pairs, slices, stream);
  else if (p.batch <= 4) launch<4, kEpilogue>(p, pairs, slices, stream);
  else if (p.batch <= 8) launch<8, kEpilogue>(p, pairs, slices, stream);
  else launch<16, kEpilogue>(p, pairs, slices, stream);
}

void check_problem(const GemvProblem& p) {
  ADAMAS_CHECK(p.batch >= 1 && p.batch <= kGemvMaxBatch, "gemv_bf16: batch ", p.batch, " outside 1..", kGemvMaxBatch);
  ADAMAS_CHECK(p.out >= 1 && p.in >= 1, "gemv_bf16: empty product ", p.out, " x ", p.in);
  ADAMAS_CHECK(p.weight && (p.input != nullptr) != (p.input_f32 != nullptr), "gemv_bf16: null weight, or not exactly one input");
  ADAMAS_CHECK(!p.input_f32 || p.epilogue == GemvEpilogue::kAccumulate, "gemv_bf16: fp32 input is built for kAccumulate only");
  ADAMAS_CHECK(p.k_slices == 0 || p.k_slices == 1 || p.k_slices == 2 || p.k_slices == 4,
               "gemv_bf16: k_slices must be 0 (auto), 1, 2 or 4, got ", p.k_slices);
  ADAMAS_CHECK(p.min_blocks == 0 || p.min_blocks == 4, "gemv_bf16: min_blocks must be 0 or 4, got ", p.min_blocks);
  ADAMAS_CHECK(!p.late_trigger || p.epilogue == GemvEpilogue::kAccumulate, "gemv_bf16: late_trigger is built for kAccumulate only");
  ADAMAS_CHECK(p.k_slices <= 1 || p.in % kChunk == 0, "gemv_bf16: a split of in needs in % 8 == 0, got in ", p.in);
  switch (p.epilogue) {
    case GemvEpilogue::kStore:
    case GemvEpilogue::kAccumulate:
      ADAMAS_CHECK(p.y, "gemv_bf16: null output");
      break;
    case GemvEpilogue::kSwiGlu:
      ADAMAS_CHECK(p.out % 2 == 0 && p.act, "gemv_bf16: SwiGLU needs an even number of rows (gate|up) and an output, got ", p.out);
      break;
    case GemvEpilogue::kRopeSplit:
      ADAMAS_CHECK(p.head_dim >= 2 && p.head_dim % 2 == 0 && p.q_heads >= 1 && p.kv_heads >= 1 &&
                       p.out == (p.q_heads + 2 * p.kv_heads) * p.head_dim,
                   "gemv_bf16: RoPE split needs (q_heads + 2 kv_heads) * head_dim rows, got ", p.out, " rows for ",
                   p.q_heads, "/", p.kv_heads, " heads of ", p.head_dim);
      ADAMAS_CHECK(p.positions && p.inv_freq && p.q && p.k && p.v, "gemv_bf16: RoPE split needs positions, inv_freq, q, k, v");
      break;
  }
}

}  // namespace

int gemv_k_slices(const GemvProblem& p, int sm_count) {
  if (p.in % kChunk != 0) return 1;
  const int chunks = p.in / kChunk, round = 32 * unroll_for_batch(p.batch);
  // The residual products (o, down) of the 4-per-SM kernel at batch 1-2: the largest split of 4 or
  // 2 whose blocks all fit at once, so that every warp's first round is requested while the kernel
  // before runs and its next rounds follow it with no second wave of blocks to launch and ramp up.
  if (p.batch <= 2 && p.min_blocks == 4 && p.epilogue == GemvEpilogue::kAccumulate)
    for (int slices = 4; slices >= 2; slices /= 2)
      if (static_cast<long long>(pair_count(p)) * slices <= 4LL * kWarpsPerBlock * sm_count && chunks / slices >= round)
        return slices;
  // Eight waves of 32 warps per SM at batch 1-2 (4 blocks), two above: measured at batch 1 only, and
  // the products at batch 4 were 2.6% slower with the batch-1 rule and bound (ninth session).
  const long long target_warps = (p.batch <= 2 ? 8LL : 2LL) * 32 * sm_count;
  int slices = 1;
  while (slices < 4 && static_cast<long long>(pair_count(p)) * slices < target_warps && chunks / (2 * slices) >= round)
    slices *= 2;
  return slices;
}

bool gemv_programmatic_from_env() { return env_choice("ADAMAS_GEMV_PDL", "1", {"0", "1"}) == "1"; }

int gemv_min_blocks_from_env() { return env_choice("ADAMAS_GEMV_BLOCKS", "4", {"4", "free"}) == "4" ? 4 : 0; }

int gemv_k_slices_from_env() {
  const std::string value = env_choice("ADAMAS_GEMV_SPLIT", "auto", {"auto", "1", "2", "4"});
  return value == "auto" ? 0 : std::stoi(value);
}

void gemv_bf16(const GemvProblem& p, StreamHandle stream_handle) {
  check_problem(p);
  const cudaStream_t stream = to_stream(stream_handle);
  int slices = p.k_slices;
  if (slices == 0) {
    int device = 0, sm_count = 0;
    ADAMAS_CUDA_CHECK(cudaGetDevice(&device));
    ADAMAS_CUDA_CHECK(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
    slices = gemv_k_slices(p, sm_count);
  }
  switch (p.epilogue) {
    case GemvEpilogue::kStore: launch_for_batch<GemvEpilogue::kStore>(p, slices, stream); break;
    case GemvEpilogue::kAccumulate: launch_for_batch<GemvEpilogue::kAccumulate>(p, slices, stream); break;
    case GemvEpilogue::kSwiGlu: launch_for_batch<GemvEpilogue::kSwiGlu>(p, slices, stream); break;
    case GemvEpilogue::kRopeSplit: launch_for_batch<GemvEpilogue::kRopeSplit>(p, slices, stream); break;
  }
}

void gemv_bf16_ref(const GemvProblem& p) {
  check_problem(p);
  std::vector<float> dots(static_cast<size_t>(p.batch) * p.out);
  for (int s = 0; s < p.batch; ++s)
    for (int r = 0; r < p.out; ++r) {
      double sum = 0;
      for (int i = 0; i < p.in; ++i)
        sum += static_cast<double>(bf16_to_f32(p.weight[static_cast<size_t>(r) * p.in + i])) *
               bf16_to_f32(p.input_f32 ? f32_to_bf16(p.input_f32[static_cast<size_t>(s) * p.in + i])
                                       : p.input[static_cast<size_t>(s) * p.in + i]);
      dots[static_cast<size_t>(s) * p.out + r] = static_cast<float>(sum);
    }
  for (int s = 0; s < p.batch; ++s) {
    const float* dot = dots.data() + static_cast<size_t>(s) * p.out;
    switch (p.epilogue) {
      case GemvEpilogue::kStore:
        for (int r = 0; r < p.out; ++r) p.y[static_cast<size_t>(s) * p.out + r] = dot[r];
        break;
      case GemvEpilogue::kAccumulate:
        for (int r = 0; r < p.out; ++r) p.y[static_cast<size_t>(s) * p.out + r] += dot[r];
        break;
      case GemvEpilogue::kSwiGlu: {
        const int inter = p.out / 2;
        for (int j = 0; j < inter; ++j) {
          const float gate = dot[j], up = dot[inter + j];
          p.act[static_cast<size_t>(s) * inter + j] = f32_to_bf16(gate / (1.0f + std::exp(-gate)) * up);
        }
        break;
      }
      case GemvEpilogue::kRopeSplit: {
        const int d = p.head_dim, half = d / 2;
        for (int head = 0; head < p.q_heads + 2 * p.kv_heads; ++head) {
          const float* in = dot + static_cast<size_t>(head) * d;
          float* dst = head < p.q_heads ? p.q + (static_cast<size_t>(s) * p.q_heads + head) * d
                       : head < p.q_heads + p.kv_heads
                           ? p.k + (static_cast<size_t>(s) * p.kv_heads + head - p.q_heads) * d
                           : p.v + (static_cast<size_t>(s) * p.kv_heads + head - p.q_heads - p.kv_heads) * d;
          for (int i = 0; i < half; ++i) {
            if (head >= p.q_heads + p.kv_heads) {
              dst[i] = in[i];
              dst[i + half] = in[i + half];
              continue;
            }
            const float angle = static_cast<float>(p.positions[s]) * p.inv_freq[i];
            const float c = static_cast<float>(std::cos(static_cast<double>(angle)));
            const float sn = static_cast<float>(std::sin(static_cast<double>(angle)));
            dst[i] = in[i] * c - in[i + half] * sn;
            dst[i + half] = in[i + half] * c + in[i] * sn;
          }
        }
        break;
      }
    }
  }
}

}  // namespace adamas::cuda
