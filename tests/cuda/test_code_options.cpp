// The estimator study's selector options on the GPU (issue 8): code books of 1, 2 and 3 bits,
// Hadamard on and off, fixed and calibrated thresholds; estimators l1, l2, hamming (and asymmetric
// on unrotated 2-bit codes). Against the CPU: key codes bit for bit with encode_with_code_book (the
// append path, prefill and decode, and the re-encode after calibration), calibrated books equal to
// calibrate_cache_code_books, per-candidate distances equal to code_distance_ref, selected sets
// identical to select_tokens_ref; and the CUDA runtime against the CPU runtime's logits.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <tuple>

#include "adamas/code_calibration.h"
#include "adamas/cuda_decoder.h"
#include "adamas/error.h"
#include "adamas/hadamard.h"
#include "adamas/model/llama_model.h"
#include "adamas/selector.h"
#include "cuda_test_support.h"
#include "runtime_observer.h"
#include "tiny_model_dir.h"
#include "select/code_scores.h"
#include "test_util.h"

namespace adamas::cuda::test {
namespace {

struct BookCase {
  int bits;
  bool hadamard;
  bool calibrated;
};

std::string book_name(const BookCase& b) {
  return std::to_string(b.bits) + "bit" + (b.hadamard ? "" : "_nohad") + (b.calibrated ? "_cal" : "_fixed");
}

std::vector<BookCase> book_cases() {
  std::vector<BookCase> cases;
  for (int bits : {1, 2, 3})
    for (bool hadamard : {true, false})
      for (bool calibrated : {false, true}) cases.push_back({bits, hadamard, calibrated});
  return cases;
}

KvCacheConfig code_config(const BookCase& b, int head_dim, int kv_heads, DType dtype) {
  KvCacheConfig config;
  config.num_kv_heads = kv_heads;
  config.head_dim = head_dim;
  config.dtype = dtype;
  config.code_bits = b.bits;
  config.code_hadamard = b.hadamard;
  // 2-bit fixed thresholds at the keys' scale (stddev 10); 1 and 3 bits use initial_code_book's.
  config.code_thresholds = Thresholds{-8.0f, 0.0f, 8.0f};
  return config;
}

// Counts (and reports the first few) tokens whose stored code differs between two code buffers of
// the same layout, over every cached (sequence, head, token) of `view`.
int code_mismatches(const PagedKvView& view, const uint8_t* want, const std::vector<uint8_t>& got) {
  const int stride = code_stride_bytes(view.code_bits(), view.head_dim);
  int mismatches = 0;
  for (int s = 0; s < view.batch; ++s)
    for (int h = 0; h < view.num_kv_heads; ++h)
      for (int t = 0; t < view.seq_lens[s]; ++t) {
        const size_t offset = view.code_offset(s, h, t);
        if (std::memcmp(want + offset, got.data() + offset, stride) == 0) continue;
        if (mismatches++ < 5) ADD_FAILURE() << "key code differs at seq " << s << " head " << h << " token " << t;
      }
  return mismatches;
}

void expect_same_book(const CodeBook& got, const CodeBook& want) {
  EXPECT_EQ(got.bits, want.bits);
  EXPECT_EQ(got.hadamard, want.hadamard);
  for (int k = 0; k < want.levels() - 1; ++k) EXPECT_EQ(got.thresholds[k], want.thresholds[k]) << "threshold " << k;
  for (int k = 0; k < want.levels(); ++k) EXPECT_EQ(got.centroids[k], want.centroids[k]) << "centroid " << k;
}

// ---------------------------------------------------------------- append and calibration

struct AppendShape {
  DType dtype;
  int head_dim, kv_heads, page_size;
};

class CodeOptionsAppendTest : public ::testing::TestWithParam<std::tuple<AppendShape, BookCase>> {};

// Ragged prefills through DeviceKvCache::append, then (calibrated: calibrate_device_code_books on
// the device, calibrate_cache_code_books on the host) single-token decode appends across page
// boundaries; every code equal to KvCache's, which are encode_with_code_book's.
TEST_P(CodeOptionsAppendTest, CodesMatchCpuCache) {
  SKIP_WITHOUT_GPU();
  const auto [c, b] = GetParam();
  const uint64_t seed = test_seed();
  std::mt19937_64 rng(seed);
  SCOPED_TRACE(::testing::Message() << "seed " << seed << " dtype " << dtype_name(c.dtype) << " d " << c.head_dim
                                    << " kv_heads " << c.kv_heads << " page " << c.page_size << " book " << book_name(b));
  KvCacheConfig config = code_config(b, c.head_dim, c.kv_heads, c.dtype);
  config.page_size = c.page_size;
  config.max_batch = 3;
  config.max_tokens_per_seq = 700;
  KvCache host(config);
  const int row = c.kv_heads * c.head_dim;
  std::uniform_int_distribution<int> length(1, 600);
  const std::vector<int> prefill = {length(rng), length(rng) | 1, c.page_size};  // odd; one ends on a page boundary
  const int decode_steps = c.page_size + 3;                                    // crosses a page boundary
  std::vector<std::vector<float>> prefill_keys, prefill_values;
  for (int s = 0; s < 3; ++s) {
    host.add_sequence();
    prefill_keys.push_back(random_normal(rng, static_cast<size_t>(prefill[s]) * row, 10.0f));
    prefill_values.push_back(random_normal(rng, static_cast<size_t>(prefill[s]) * row, 1.0f));
    host.append(s, prefill_keys[s].data(), prefill_values[s].data(), prefill[s]);
  }
  DeviceKvCache device(config);
  expect_same_book(device.code_book(0), host.code_book(0));
  const PagedKvView prefill_view = host.view(0);
  std::vector<int32_t> table(prefill_view.page_table, prefill_view.page_table + 3 * prefill_view.max_pages_per_seq);
  device.set_page_table(table, prefill);
  for (int s = 0; s < 3; ++s) {
    DeviceArray<float> keys(prefill_keys[s]), values(prefill_values[s]);
    DeviceArray<int32_t> first(std::vector<int32_t>{0});
    device.append(0, keys.data, values.data, first.data, s, 1, prefill[s]);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
  std::vector<uint8_t> keys, values, codes;
  std::vector<float> page_min, page_max;
  device.download(0, keys, values, codes, page_min, page_max);
  EXPECT_EQ(code_mismatches(host.view(0), host.view(0).key_codes, codes), 0) << "after the prefill";

  if (b.calibrated) {
    const std::vector<CodeBook> want = calibrate_cache_code_books(host, CalibrationOptions{});
    const std::vector<CodeBook> got = calibrate_device_code_books(device, {});
    ASSERT_EQ(got.size(), want.size());
    expect_same_book(got[0], want[0]);
    expect_same_book(device.code_book(0), host.code_book(0));
    device.download(0, keys, values, codes, page_min, page_max);
    EXPECT_EQ(code_mismatches(host.view(0), host.view(0).key_codes, codes), 0) << "after the re-encode";
  }

  // Decode appends (with the calibrated book, when there is one), all sequences in one launch.
  std::vector<int32_t> lens = prefill;
  for (int step = 0; step < decode_steps; ++step) {
    const auto step_keys = random_normal(rng, 3 * static_cast<size_t>(row), 10.0f);
    const auto step_values = random_normal(rng, 3 * static_cast<size_t>(row), 1.0f);
    for (int s = 0; s < 3; ++s) host.append(s, step_keys.data() + s * row, step_values.data() + s * row, 1);
    const PagedKvView view = host.view(0);
    table.assign(view.page_table, view.page_table + 3 * view.max_pages_per_seq);
    device.set_page_table(table, lens);  // the new pages; lengths as before the step
    DeviceArray<float> step_keys_device(step_keys), step_values_device(step_values);
    DeviceArray<int32_t> first(lens);
    device.append(0, step_keys_device.data, step_values_device.data, first.data, 0, 3, 1);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    for (auto& n : lens) ++n;
  }
  device.download(0, keys, values, codes, page_min, page_max);
  EXPECT_EQ(code_mismatches(host.view(0), host.view(0).key_codes, codes), 0) << "after the decode steps";
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CodeOptionsAppendTest,
    ::testing::Combine(::testing::Values(AppendShape{DType::kF16, 128, 2, 16}, AppendShape{DType::kBF16, 64, 3, 7},
                                         AppendShape{DType::kF32, 128, 1, 16}, AppendShape{DType::kF16, 64, 1, 1},
                                         AppendShape{DType::kF16, 256, 2, 32}),
                       ::testing::ValuesIn(book_cases())),
    [](const auto& info) {
      const AppendShape& c = std::get<0>(info.param);
      return dtype_name(c.dtype) + "_d" + std::to_string(c.head_dim) + "_h" + std::to_string(c.kv_heads) + "_p" +
             std::to_string(c.page_size) + "_" + book_name(std::get<1>(info.param));
    });

// ---------------------------------------------------------------- selection

struct SelectShape {
  int head_dim, q_heads, kv_heads;
  std::vector<int> lens;
};

std::string shape_name(const SelectShape& c) {
  std::ostringstream out;
  out << "d" << c.head_dim << "_q" << c.q_heads << "_kv" << c.kv_heads << "_b" << c.lens.size() << "_n"
      << *std::max_element(c.lens.begin(), c.lens.end());
  return out.str();
}

struct EstimatorBook {
  Estimator estimator;
  BookCase book;
};

std::vector<EstimatorBook> estimator_books() {
  std::vector<EstimatorBook> cases;
  for (Estimator estimator : {Estimator::kL1, Estimator::kL2, Estimator::kHamming})
    for (const BookCase& book : book_cases()) cases.push_back({estimator, book});
  // Asymmetric on unrotated 2-bit codes also takes the generic estimate (the fused kernels rotate).
  for (bool calibrated : {false, true}) cases.push_back({Estimator::kAsymmetric, {2, false, calibrated}});
  return cases;
}

class CodeOptionsSelectTest : public ::testing::TestWithParam<std::tuple<SelectShape, EstimatorBook>> {};

// Host cache with fresh random keys, uploaded; calibrated books fitted on the device and given to
// the host. Then, for budgets from 1 to past the context, shared and per-query-head rows: the
// plan's selection equals select_tokens_ref's, and its distances code_distance_ref's.
TEST_P(CodeOptionsSelectTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  const auto& [c, e] = GetParam();
  const uint64_t seed = test_seed();
  std::mt19937_64 rng(seed);
  SCOPED_TRACE(::testing::Message() << "seed " << seed << " shape " << shape_name(c) << " estimator "
                                    << estimator_name(e.estimator) << " book " << book_name(e.book));
  KvCacheConfig config = code_config(e.book, c.head_dim, c.kv_heads, DType::kF16);
  const int batch = static_cast<int>(c.lens.size());
  const int longest = *std::max_element(c.lens.begin(), c.lens.end());
  config.max_batch = batch;
  config.max_tokens_per_seq = longest;
  KvCache host(config);
  const size_t row = static_cast<size_t>(c.kv_heads) * c.head_dim;
  for (int s = 0; s < batch; ++s) {
    host.add_sequence();
    const auto keys = random_normal(rng, c.lens[s] * row, 10.0f);
    const auto values = random_normal(rng, c.lens[s] * row, 1.0f);
    host.append(s, keys.data(), values.data(), c.lens[s]);
  }
  DeviceKvCache device(config);
  device.upload(host);
  if (e.book.calibrated) {
    calibrate_device_code_books(device, {});
    host.set_code_book(0, device.code_book(0));
    std::vector<uint8_t> keys, values, codes;
    std::vector<float> page_min, page_max;
    device.download(0, keys, values, codes, page_min, page_max);
    EXPECT_EQ(code_mismatches(host.view(0), host.view(0).key_codes, codes), 0) << "re-encoded codes";
  }
  const PagedKvView host_view = host.view(0), device_view = device.view(0);
  const CodeBook& book = host.code_book(0);
  const std::vector<float> q_host = random_normal(rng, batch * c.q_heads * c.head_dim, 10.0f);
  DeviceArray<float> q(q_host);
  const int candidate_stride = (longest + 7) / 8 * 8;  // DecodePlan's row stride (max_context rounded to 8)
  for (int budget : {1, 2, 3, 17, longest / 2 + 1, longest - 1, longest, longest + 5}) {
    if (budget < 1) continue;
    for (bool per_query_head : {false, true}) {
      if (per_query_head && c.q_heads == c.kv_heads) continue;
      SCOPED_TRACE(::testing::Message() << "budget " << budget << " per_query_head " << per_query_head);
      SelectorOptions options;
      options.policy = Policy::kAdamas;
      options.estimator = e.estimator;
      options.token_budget = budget;
      options.per_query_head = per_query_head;
      TokenSelection expected, actual;
      select_tokens_ref(options, host_view, q_host.data(), c.q_heads, expected);
      const DecodePlanConfig plan_config =
          plan_config_for(batch, c.q_heads, c.kv_heads, c.head_dim, config.dtype, longest, options);
      DecodePlan plan(plan_config);
      plan.select(device_view, q.data);
      plan.select(device_view, q.data);  // twice: counters and histograms reset by the step itself
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      plan.download_selection(batch, actual);
      ASSERT_NO_FATAL_FAILURE(expect_same_selection(expected, actual, batch, "selection"));
      // Distances of the generic estimate (the fused 2-bit Hadamard l1 ones: test_select_attention.cpp):
      // the minimum over the row's heads of code_distance_ref to the query's code.
      const bool fused_l1 = e.estimator == Estimator::kL1 && e.book.bits == 2 && e.book.hadamard;
      if (budget != 2 || e.estimator == Estimator::kAsymmetric || fused_l1) continue;
      std::vector<uint16_t> distances;
      plan.download_distances(distances);
      const int group = c.q_heads / c.kv_heads, heads = per_query_head ? 1 : group;
      std::vector<uint8_t> query_code(code_stride_bytes(book.bits, c.head_dim));
      int wrong = 0;
      for (int s = 0; s < batch; ++s) {
        if (expected.dense[s]) continue;
        for (int r = 0; r < expected.rows_per_seq; ++r) {
          const int kv_head = per_query_head ? r / group : r, first_head = per_query_head ? r : r * group;
          std::vector<int> want(c.lens[s] - 1, 1 << 30);
          for (int j = 0; j < heads; ++j) {
            encode_with_code_book(q_host.data() + (static_cast<size_t>(s) * c.q_heads + first_head + j) * c.head_dim,
                                  c.head_dim, book, query_code.data());
            for (int t = 0; t < c.lens[s] - 1; ++t)
              want[t] = std::min(want[t], code_distance_ref(e.estimator, query_code.data(),
                                                            host_view.key_codes + host_view.code_offset(s, kv_head, t),
                                                            book.bits, c.head_dim));
          }
          const uint16_t* got = distances.data() + (static_cast<size_t>(s) * expected.rows_per_seq + r) * candidate_stride;
          for (int t = 0; t < c.lens[s] - 1; ++t)
            if (got[t] != want[t] && wrong++ < 5)
              ADD_FAILURE() << "distance of seq " << s << " row " << r << " token " << t << ": " << got[t] << ", expected "
                            << want[t];
        }
      }
      EXPECT_EQ(wrong, 0);
    }
  }
}

std::vector<SelectShape> select_shapes() {
  return {
      {64, 4, 4, {1, 37, 300, 4500}},  // group 1, ragged, a single-token sequence, two chunks of 4096
      {128, 8, 2, {5, 999, 4097}},     // group 4, a candidate just past one chunk
      {128, 16, 2, {2, 301, 1201}},    // group 8
      {64, 8, 1, {4100, 77}},          // group 8, one KV head: many ties (1-bit hamming) across chunks
      {256, 4, 1, {333}},
  };
}

INSTANTIATE_TEST_SUITE_P(Shapes, CodeOptionsSelectTest,
                         ::testing::Combine(::testing::ValuesIn(select_shapes()), ::testing::ValuesIn(estimator_books())),
                         [](const auto& info) {
                           const EstimatorBook& e = std::get<1>(info.param);
                           return shape_name(std::get<0>(info.param)) + "_" + estimator_name(e.estimator) + "_" +
                                  book_name(e.book);
                         });

// ---------------------------------------------------------------- runtime

// The CUDA runtime against the CPU runtime with the ablation options: fp32 weights and cache on
// both sides, so keys (hence books, codes and selections) differ only by the order of fp32 sums.
// Both runtimes are observed in every layer of every step (runtime_observer.h): each one's codes
// must be its keys encoded with its book, and the CUDA selection select_tokens_ref's over the CUDA
// runtime's own cache and q (exact, whatever the rounding); a code that differs between the
// runtimes must belong to a key at a threshold (compare_codes). Logits within 1e-4 as in
// test_cuda_decoder.cpp as long as the two runtimes' selections agree; a near-tie that makes them
// differ ends the logit comparison of that case.
struct RuntimeCodeCase {
  int bits;
  bool hadamard;
  Estimator estimator;
  int calibrate_after;  // 0: the initial book's fixed thresholds
};

TEST(CudaRuntimeCodeOptionsTest, MatchesCpuRuntime) {
  SKIP_WITHOUT_GPU();
  const uint32_t seed = static_cast<uint32_t>(test_seed() % 100000);  // ADAMAS_TEST_SEED repeats a run
  const std::vector<RuntimeCodeCase> cases = {
      {3, true, Estimator::kL2, 24},
      {2, false, Estimator::kL1, 0},
      {1, true, Estimator::kHamming, 24},
      {3, false, Estimator::kHamming, 0},
      {2, false, Estimator::kAsymmetric, 24},
      {2, false, Estimator::kAsymmetric, 0},
      {2, false, Estimator::kL1, 24},
  };
  int compared_steps = 0;
  for (const RuntimeCodeCase& rc : cases) {
    SCOPED_TRACE("seed=" + std::to_string(seed) + " bits=" + std::to_string(rc.bits) + " hadamard=" +
                 std::to_string(rc.hadamard) + " estimator=" + estimator_name(rc.estimator) + " calibrate_after=" +
                 std::to_string(rc.calibrate_after));
    const adamas::test::TinyModelDir m(seed, 8, 2, "codes");
    const adamas::test::TinyLlamaSpec& spec = m.spec;
    const LlamaModel model = m.load_model();

    RuntimeOptions options;
    options.selector.policy = Policy::kAdamas;
    options.selector.estimator = rc.estimator;
    options.selector.token_budget = 12;
    options.selector.thresholds = {-0.5f, 0.0f, 0.5f};
    options.code_bits = rc.bits;
    options.code_hadamard = rc.hadamard;
    options.calibrate_after_tokens = rc.calibrate_after;
    options.dense_layers = 1;
    options.kv_dtype = DType::kF32;
    options.max_context = 128;
    auto cpu = make_cpu_runtime(model, options);
    auto gpu = make_cuda_runtime(model, options);
    for (int layer = 0; layer < spec.num_layers; ++layer) expect_same_book(gpu->code_book(layer), cpu->code_book(layer));
    adamas::test::RecordingObserver cpu_seen(spec.num_layers, options.selector, options.dense_layers);
    adamas::test::RecordingObserver gpu_seen(spec.num_layers, options.selector, options.dense_layers);
    cpu->set_observer(&cpu_seen);
    gpu->set_observer(&gpu_seen);
    const int d = spec.head_dim, kv_heads = spec.num_kv_heads, stride = code_stride_bytes(rc.bits, d);
    std::mt19937 rng(seed);
    const double worst = adamas::test::decode_side_by_side(*cpu, *gpu, spec.vocab_size, rng, [&](int step) {
      // A layer's new key comes from the layers below it at this step: once the two runtimes'
      // references differ in a layer (a near-tie), the layers above it hold different keys, and
      // only each runtime's own codes are checked there (seed 35169).
      const int diverged = static_cast<int>(adamas::test::first_diverging_layer(cpu_seen, gpu_seen));
      for (int layer = 0; layer < spec.num_layers; ++layer) {
        const adamas::test::ObservedLayer& c = cpu_seen.layers[layer];
        const adamas::test::ObservedLayer& g = gpu_seen.layers[layer];
        for (const adamas::test::ObservedLayer* o : {&c, &g}) {  // each runtime's codes: its keys under its book
          std::vector<uint8_t> want(stride);
          int wrong = 0;
          for (int row = 0; row < o->seq_len * kv_heads; ++row) {
            encode_with_code_book(o->keys.data() + static_cast<size_t>(row) * d, d, o->book, want.data());
            wrong += std::memcmp(want.data(), o->codes.data() + static_cast<size_t>(row) * stride, stride) != 0;
          }
          EXPECT_EQ(wrong, 0) << (o == &c ? "cpu" : "gpu") << " codes not encode_with_code_book of the keys, step "
                              << step << " layer " << layer;
        }
        if (step == 10 && rc.calibrate_after > 0) {  // calibrated at position 24 on both sides
          EXPECT_EQ(g.book.bits, rc.bits);
          EXPECT_EQ(g.book.hadamard, rc.hadamard);
          for (int k = 0; k < c.book.levels() - 1; ++k)
            EXPECT_NEAR(g.book.thresholds[k], c.book.thresholds[k], 1e-4 * std::max(1.0f, std::abs(c.book.thresholds[k])))
                << "layer " << layer << " threshold " << k;
          for (int k = 0; k < c.book.levels(); ++k)  // the asymmetric estimator scores with these
            EXPECT_NEAR(g.book.centroids[k], c.book.centroids[k], 1e-4 * std::max(1.0f, std::abs(c.book.centroids[k])))
                << "layer " << layer << " centroid " << k;
        }
        if (layer > diverged) continue;
        std::string detail;
        EXPECT_NE(adamas::test::compare_codes(c, g, kv_heads, d, detail), adamas::test::CodeMatch::kDifferent)
            << "step " << step << " layer " << layer << ": " << detail;
        if (!detail.empty() && std::getenv("ADAMAS_TEST_VERBOSE"))
          std::printf("step %d layer %d: keys at a threshold coded differently: %s\n", step, layer, detail.c_str());
      }
      const bool agree = adamas::test::selections_agree(cpu_seen, gpu_seen, step);
      compared_steps += agree;
      return agree;
    });
    EXPECT_LT(worst, 1e-4);
    cpu->set_observer(nullptr);
    gpu->set_observer(nullptr);
    gpu->reset();  // back to the initial book, as the CPU runtime
    cpu->reset();
    for (int layer = 0; layer < spec.num_layers; ++layer) expect_same_book(gpu->code_book(layer), cpu->code_book(layer));
  }
  // Near-ties end a case early now and then; most steps of most cases must still be compared.
  EXPECT_GE(compared_steps, static_cast<int>(cases.size()) * 50 / 2);
}

}  // namespace
}  // namespace adamas::cuda::test
