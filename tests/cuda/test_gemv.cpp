// The small-batch GEMV (src/cuda/gemv.h) against its CPU reference, for every epilogue (the fused
// residual add, SwiGLU and RoPE/split against their unfused forms in gemv_bf16_ref), and the whole
// decode step with our GEMV against the cuBLAS path.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "adamas/cuda_decoder.h"
#include "adamas/error.h"
#include "cuda/gemv.h"
#include "cuda_test_support.h"
#include "model/rope.h"
#include "test_util.h"

namespace adamas::cuda::test {
namespace {

struct GemvCase {
  int out, in, batch;
  GemvEpilogue epilogue;
  int q_heads = 0, kv_heads = 0, head_dim = 0;  // kRopeSplit
  bool f32_input = false;                       // kAccumulate: fp32 input rounded as it is read
  int k_slices = 0;                             // 0: gemv_k_slices's choice; 1, 2, 4 forced
  int min_blocks = 4;                           // the kernel's blocks per SM: 4, or 0 (no bound)
  bool late_trigger = false;                    // kAccumulate: dependents launch after the weight reads
};

std::string epilogue_name(GemvEpilogue e) {
  switch (e) {
    case GemvEpilogue::kStore: return "store";
    case GemvEpilogue::kAccumulate: return "accumulate";
    case GemvEpilogue::kSwiGlu: return "swiglu";
    case GemvEpilogue::kRopeSplit: return "rope_split";
  }
  return "?";
}

std::vector<uint16_t> to_bf16(const std::vector<float>& values) {
  std::vector<uint16_t> bits(values.size());
  for (size_t i = 0; i < values.size(); ++i) bits[i] = f32_to_bf16(values[i]);
  return bits;
}

std::vector<float> widen(const std::vector<uint16_t>& bits) {
  std::vector<float> values(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) values[i] = bf16_to_f32(bits[i]);
  return values;
}

class GemvTest : public ::testing::TestWithParam<GemvCase> {};

TEST_P(GemvTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  const GemvCase c = GetParam();
  const uint64_t seed = test_seed();
  std::mt19937_64 rng(seed);
  SCOPED_TRACE(::testing::Message() << "seed " << seed << " out " << c.out << " in " << c.in << " batch " << c.batch
                                    << " epilogue " << epilogue_name(c.epilogue) << " f32 input " << c.f32_input
                                    << " k_slices " << c.k_slices << " min_blocks " << c.min_blocks
                                    << " late_trigger " << c.late_trigger);
  const std::vector<uint16_t> weight = to_bf16(random_normal(rng, static_cast<size_t>(c.out) * c.in, 0.02f));
  const std::vector<float> input_f32 = random_normal(rng, static_cast<size_t>(c.batch) * c.in, 1.0f);
  const std::vector<uint16_t> input = to_bf16(input_f32);
  DeviceArray<uint16_t> weight_device(weight), input_device(input);
  DeviceArray<float> input_f32_device(input_f32);

  GemvProblem host;
  host.weight = weight.data();
  host.input = input.data();
  host.out = c.out;
  host.in = c.in;
  host.batch = c.batch;
  host.epilogue = c.epilogue;
  host.k_slices = c.k_slices;
  host.min_blocks = c.min_blocks;
  host.late_trigger = c.late_trigger;
  GemvProblem device = host;
  device.weight = weight_device.data;
  device.input = input_device.data;
  if (c.f32_input) {  // the kernel rounds the fp32 input; the reference gets it rounded the same way
    host.input = nullptr;
    host.input_f32 = input_f32.data();
    device.input = nullptr;
    device.input_f32 = input_f32_device.data;
  }

  // Outputs: y starts non-zero so kAccumulate's add is seen.
  std::vector<float> y = random_normal(rng, static_cast<size_t>(c.batch) * c.out, 1.0f);
  std::vector<uint16_t> act(static_cast<size_t>(c.batch) * (c.out / 2), 0);
  const size_t q_count = static_cast<size_t>(c.batch) * c.q_heads * c.head_dim;
  const size_t kv_count = static_cast<size_t>(c.batch) * c.kv_heads * c.head_dim;
  std::vector<float> q(q_count), k(kv_count), v(kv_count);
  std::vector<int32_t> positions(c.batch);
  for (int s = 0; s < c.batch; ++s) positions[s] = static_cast<int32_t>(rng() % 200000);
  std::vector<float> inv_freq;
  if (c.epilogue == GemvEpilogue::kRopeSplit) {
    RopeScaling scaling;
    scaling.type = RopeScaling::Type::kLinear;
    scaling.factor = 8.0;
    inv_freq = rope_inv_freq(c.head_dim, 10000.0, scaling);
  }
  DeviceArray<float> y_device(y), q_device(q), k_device(k), v_device(v), inv_freq_device(inv_freq);
  DeviceArray<uint16_t> act_device(act);
  DeviceArray<int32_t> positions_device(positions);
  host.y = y.data();
  host.act = act.data();
  host.positions = positions.data();
  host.inv_freq = inv_freq.data();
  host.q_heads = device.q_heads = c.q_heads;
  host.kv_heads = device.kv_heads = c.kv_heads;
  host.head_dim = device.head_dim = c.head_dim;
  host.q = q.data();
  host.k = k.data();
  host.v = v.data();
  device.y = y_device.data;
  device.act = act_device.data;
  device.positions = positions_device.data;
  device.inv_freq = inv_freq_device.data;
  device.q = q_device.data;
  device.k = k_device.data;
  device.v = v_device.data;

  gemv_bf16(device, nullptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  gemv_bf16_ref(host);

  // fp32 accumulation in 32 lanes against double: about sqrt(in) * 2^-24 of the sum of |w x|,
  // far below 1e-5 of the result's norm. SwiGLU's output is bf16: a dot that lands next to a
  // rounding boundary may round to the neighbour (2^-8 relative), so its bound is the bf16 step;
  // near zero the dots' own error dominates, hence an absolute 1e-5 of the largest output (an H200
  // run, out 22016, in 4096, batch 8, was off by 3.0e-7 where |want| / 128 + 1e-7 allowed 1.7e-7).
  switch (c.epilogue) {
    case GemvEpilogue::kStore:
    case GemvEpilogue::kAccumulate:
      EXPECT_LT(adamas::testing::relative_error(y_device.download(), y), 1e-5);
      break;
    case GemvEpilogue::kSwiGlu: {
      const std::vector<float> got = widen(act_device.download()), want = widen(act);
      EXPECT_LT(adamas::testing::relative_error(got, want), 4e-3);
      float largest = 0.0f;
      for (float w : want) largest = std::max(largest, std::abs(w));
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_LE(std::abs(got[i] - want[i]), std::abs(want[i]) * (1.0f / 128) + 1e-5f * largest) << "element " << i;
      break;
    }
    case GemvEpilogue::kRopeSplit:
      EXPECT_LT(adamas::testing::relative_error(q_device.download(), q), 1e-5);
      EXPECT_LT(adamas::testing::relative_error(k_device.download(), k), 1e-5);
      EXPECT_LT(adamas::testing::relative_error(v_device.download(), v), 1e-5);
      break;
  }
}

std::vector<GemvCase> gemv_cases() {
  std::vector<GemvCase> cases;
  for (int batch : {1, 3, 4, 8, 16}) {
    cases.push_back({4096, 4096, batch, GemvEpilogue::kStore});
    cases.push_back({4096, 11008, batch, GemvEpilogue::kAccumulate});
    cases.push_back({4096, 4096, batch, GemvEpilogue::kAccumulate, 0, 0, 0, /*f32_input=*/true});
    cases.push_back({2 * 11008, 4096, batch, GemvEpilogue::kSwiGlu});
    cases.push_back({(32 + 2 * 32) * 128, 4096, batch, GemvEpilogue::kRopeSplit, 32, 32, 128});
  }
  cases.push_back({32000, 4096, 1, GemvEpilogue::kStore});
  cases.push_back({32000, 4096, 16, GemvEpilogue::kStore});
  cases.push_back({(32 + 2 * 8) * 128, 4096, 5, GemvEpilogue::kRopeSplit, 32, 8, 128});  // GQA
  // Odd sizes: rows past the last full block and pair (odd out), in not a multiple of 8 (no
  // 16-byte loads), in shorter than one warp's first load, every batch bucket's partial use.
  for (int batch : {1, 2, 5, 7, 9, 13, 16}) {
    cases.push_back({1, 8, batch, GemvEpilogue::kStore});
    cases.push_back({17, 24, batch, GemvEpilogue::kAccumulate});
    cases.push_back({333, 1000, batch, GemvEpilogue::kStore});
    cases.push_back({101, 777, batch, GemvEpilogue::kAccumulate});
    cases.push_back({101, 777, batch, GemvEpilogue::kAccumulate, 0, 0, 0, /*f32_input=*/true});
    cases.push_back({77, 136, batch, GemvEpilogue::kAccumulate, 0, 0, 0, /*f32_input=*/true});
    cases.push_back({2 * 193, 264, batch, GemvEpilogue::kSwiGlu});
    cases.push_back({2 * 65, 99, batch, GemvEpilogue::kSwiGlu});
    cases.push_back({(4 + 2 * 2) * 64, 136, batch, GemvEpilogue::kRopeSplit, 4, 2, 64});
  }
  // Forced splits of `in`: slices of unequal length (33 chunks in 4), slices past the last chunk
  // (1 chunk in 4), odd `out` (the second row of the last pair missing), every epilogue.
  for (int slices : {2, 4})
    for (int batch : {1, 3, 16}) {
      cases.push_back({333, 1000, batch, GemvEpilogue::kStore, 0, 0, 0, false, slices});
      cases.push_back({1, 8, batch, GemvEpilogue::kStore, 0, 0, 0, false, slices});
      cases.push_back({101, 776, batch, GemvEpilogue::kAccumulate, 0, 0, 0, /*f32_input=*/true, slices});
      cases.push_back({4096, 11008, batch, GemvEpilogue::kAccumulate, 0, 0, 0, false, slices});
      cases.push_back({2 * 193, 264, batch, GemvEpilogue::kSwiGlu, 0, 0, 0, false, slices});
      cases.push_back({(4 + 2 * 2) * 64, 136, batch, GemvEpilogue::kRopeSplit, 4, 2, 64, false, slices});
    }
  // The kernel without a blocks-per-SM bound (ADAMAS_GEMV_BLOCKS=free): every epilogue, odd sizes,
  // a forced split.
  for (int batch : {1, 2, 5, 8}) {
    cases.push_back({333, 1000, batch, GemvEpilogue::kStore, 0, 0, 0, false, 0, 0});
    cases.push_back({101, 776, batch, GemvEpilogue::kAccumulate, 0, 0, 0, /*f32_input=*/true, 2, 0});
    cases.push_back({4096, 11008, batch, GemvEpilogue::kAccumulate, 0, 0, 0, false, 0, 0});
    cases.push_back({2 * 193, 264, batch, GemvEpilogue::kSwiGlu, 0, 0, 0, false, 0, 0});
    cases.push_back({(4 + 2 * 2) * 64, 136, batch, GemvEpilogue::kRopeSplit, 4, 2, 64, false, 0, 0});
  }
  // The residual products' kernels that let their dependents launch after the weight reads
  // (GemvProblem::late_trigger; compiled for batch 1-2 at 4 blocks per SM, the others ignore it):
  // both inputs, the 7B shapes, odd sizes, forced splits, batches past the compiled ones.
  for (int batch : {1, 2, 3}) {
    cases.push_back({4096, 4096, batch, GemvEpilogue::kAccumulate, 0, 0, 0, /*f32_input=*/true, 0, 4, true});
    cases.push_back({4096, 11008, batch, GemvEpilogue::kAccumulate, 0, 0, 0, false, 0, 4, true});
    cases.push_back({101, 777, batch, GemvEpilogue::kAccumulate, 0, 0, 0, /*f32_input=*/true, 0, 4, true});
    cases.push_back({17, 24, batch, GemvEpilogue::kAccumulate, 0, 0, 0, false, 0, 4, true});
    cases.push_back({101, 776, batch, GemvEpilogue::kAccumulate, 0, 0, 0, /*f32_input=*/true, 4, 4, true});
    cases.push_back({333, 1000, batch, GemvEpilogue::kAccumulate, 0, 0, 0, false, 2, 0, true});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, GemvTest, ::testing::ValuesIn(gemv_cases()));

TEST(GemvErrors, RejectsBadProblems) {
  SKIP_WITHOUT_GPU();
  GemvProblem p;
  uint16_t dummy[16] = {};
  float y[16] = {};
  p.weight = dummy;
  p.input = dummy;
  p.y = y;
  p.out = 2;
  p.in = 8;
  p.batch = kGemvMaxBatch + 1;
  EXPECT_THROW(gemv_bf16_ref(p), adamas::Error);
  p.batch = 1;
  p.k_slices = 3;  // not 0, 1, 2 or 4
  EXPECT_THROW(gemv_bf16(p), adamas::Error);
  p.k_slices = 0;
  p.min_blocks = 3;  // not 0 or 4
  EXPECT_THROW(gemv_bf16(p), adamas::Error);
  p.min_blocks = 4;
  p.k_slices = 2;
  p.in = 12;  // a split needs whole 16-byte chunks
  EXPECT_THROW(gemv_bf16(p), adamas::Error);
  p.k_slices = 0;
  p.in = 8;
  p.late_trigger = true;  // built for kAccumulate only
  EXPECT_THROW(gemv_bf16(p), adamas::Error);
  p.late_trigger = false;
  p.epilogue = GemvEpilogue::kSwiGlu;
  p.out = 3;
  EXPECT_THROW(gemv_bf16_ref(p), adamas::Error);
}

// The split rule on the H200 (132 SMs) at the LongChat-7B shapes: at batch 1 the residual products
// (o, down: 2048 pairs) 2 ways, the largest split whose blocks fit at once (4 x 132 blocks of 8 warps);
// the others 4 ways (eight waves of warps are 33792), a Llama-3 LM head (64128 pairs) not at all;
// nothing splits a row too short for a full round of loads per slice, or one of in % 8 != 0.
TEST(GemvSplit, ChoosesSlicesFromTheGrid) {
  auto problem = [](int out, int in, int batch, GemvEpilogue epilogue) {
    GemvProblem p;
    p.out = out;
    p.in = in;
    p.batch = batch;
    p.epilogue = epilogue;
    return p;
  };
  EXPECT_EQ(gemv_k_slices(problem(4096, 4096, 1, GemvEpilogue::kAccumulate), 132), 2);
  EXPECT_EQ(gemv_k_slices(problem(4096, 11008, 1, GemvEpilogue::kAccumulate), 132), 2);
  EXPECT_EQ(gemv_k_slices(problem(4096, 14336, 2, GemvEpilogue::kAccumulate), 132), 2);  // Llama-3-8B down
  EXPECT_EQ(gemv_k_slices(problem(4096, 4096, 1, GemvEpilogue::kAccumulate), 264), 4);   // 4 ways fit at once
  EXPECT_EQ(gemv_k_slices(problem(8192, 4096, 1, GemvEpilogue::kAccumulate), 132), 4);   // nothing fits: eight waves
  GemvProblem unbounded = problem(4096, 4096, 1, GemvEpilogue::kAccumulate);
  unbounded.min_blocks = 0;  // ADAMAS_GEMV_BLOCKS=free: the eight-wave rule
  EXPECT_EQ(gemv_k_slices(unbounded, 132), 4);
  EXPECT_EQ(gemv_k_slices(problem(4096, 4096, 4, GemvEpilogue::kAccumulate), 132), 4);   // batch 4: two waves
  EXPECT_EQ(gemv_k_slices(problem(96 * 128, 4096, 1, GemvEpilogue::kRopeSplit), 132), 4);
  EXPECT_EQ(gemv_k_slices(problem(2 * 11008, 4096, 1, GemvEpilogue::kSwiGlu), 132), 4);
  EXPECT_EQ(gemv_k_slices(problem(32000, 4096, 1, GemvEpilogue::kStore), 132), 4);
  EXPECT_EQ(gemv_k_slices(problem(128256, 4096, 1, GemvEpilogue::kStore), 132), 1);
  EXPECT_EQ(gemv_k_slices(problem(4096, 1024, 1, GemvEpilogue::kStore), 132), 1);   // 128 chunks: one round
  EXPECT_EQ(gemv_k_slices(problem(4096, 4100, 1, GemvEpilogue::kStore), 132), 1);   // in % 8 != 0
  EXPECT_EQ(gemv_k_slices(problem(4096, 4096, 16, GemvEpilogue::kStore), 132), 4);  // batch 16: rounds of 32 chunks
  // Above batch 2 the grid is filled to two waves only: gate|up (11008 pairs) is not split.
  EXPECT_EQ(gemv_k_slices(problem(2 * 11008, 4096, 4, GemvEpilogue::kSwiGlu), 132), 1);
  EXPECT_EQ(gemv_k_slices(problem(2 * 11008, 4096, 2, GemvEpilogue::kSwiGlu), 132), 4);
}

// The decode step with our GEMV (and the folded RoPE, SwiGLU, residual adds) against the cuBLAS
// path with the separate kernels (chosen by ADAMAS_GEMV=cublas, as on the command line), on the
// LongChat-7B shape cut to 3 layers, 3 sequences, random weights and context, full attention (a
// sparse policy could pick a different boundary token from a last-bit difference in q). Same bf16
// rounding points on both sides; the fp32 sums differ in order, and a bf16 rounding of an
// activation can land on the neighbouring value: 1e-2 on the logits (a wrong fold is O(1)).
TEST(GemvDecoder, OwnGemvMatchesCublasLogits) {
  SKIP_WITHOUT_GPU();
  ModelConfig config = model_shape("longchat-7b");
  config.num_layers = 3;
  const char* saved = std::getenv("ADAMAS_GEMV");
  const std::string saved_value = saved ? saved : "";
  std::vector<std::vector<float>> logits;
  for (const char* env : {"own", "cublas"}) {
    setenv("ADAMAS_GEMV", env, 1);
    CudaDecoderOptions options;
    options.max_batch = 3;
    options.weight_dtype = DType::kBF16;
    options.runtime.selector.policy = Policy::kFull;
    options.runtime.kv_dtype = DType::kF16;
    options.runtime.max_context = 1024;
    CudaDecoder decoder(config, options);
    decoder.randomize_weights(7);
    decoder.fill_random_context(700, 11);
    std::vector<float> all;
    std::vector<float> step(static_cast<size_t>(3) * config.vocab_size);
    for (int t = 0; t < 4; ++t) {
      const int32_t tokens[3] = {1 + t, 500 + 7 * t, 31999 - t};
      decoder.decode(tokens, step.data());
      all.insert(all.end(), step.begin(), step.end());
    }
    logits.push_back(all);
  }
  if (saved) setenv("ADAMAS_GEMV", saved_value.c_str(), 1);
  else unsetenv("ADAMAS_GEMV");
  const double error = adamas::testing::relative_error(logits[0], logits[1]);
  EXPECT_LT(error, 1e-2);
  EXPECT_GT(error, 0.0) << "both decoders ran the same path: ADAMAS_GEMV not read?";
}

}  // namespace
}  // namespace adamas::cuda::test
