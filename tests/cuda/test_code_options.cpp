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
#include <iomanip>
#include <set>
#include <tuple>

#include "adamas/code_calibration.h"
#include "adamas/cuda_decoder.h"
#include "adamas/error.h"
#include "adamas/model/llama_model.h"
#include "adamas/selector.h"
#include "cuda_test_support.h"
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
// both sides, so keys (hence books, codes and selections) differ only by the order of fp32 sums;
// logits within 1e-4 as in test_cuda_decoder.cpp.
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
    std::mt19937 rng(seed);
    const double worst = adamas::test::decode_side_by_side(*cpu, *gpu, spec.vocab_size, rng, [&](int step) {
      if (step != 10 || rc.calibrate_after <= 0) return;  // calibrated at position 24 on both sides
      for (int layer = 0; layer < spec.num_layers; ++layer) {
        const CodeBook want = cpu->code_book(layer), got = gpu->code_book(layer);
        EXPECT_EQ(got.bits, rc.bits);
        EXPECT_EQ(got.hadamard, rc.hadamard);
        for (int k = 0; k < want.levels() - 1; ++k)
          EXPECT_NEAR(got.thresholds[k], want.thresholds[k], 1e-4 * std::max(1.0f, std::abs(want.thresholds[k])))
              << "layer " << layer << " threshold " << k;
        for (int k = 0; k < want.levels(); ++k)  // the asymmetric estimator scores with these
          EXPECT_NEAR(got.centroids[k], want.centroids[k], 1e-4 * std::max(1.0f, std::abs(want.centroids[k])))
              << "layer " << layer << " centroid " << k;
      }
    });
    EXPECT_LT(worst, 1e-4);
    gpu->reset();  // back to the initial book, as the CPU runtime
    cpu->reset();
    for (int layer = 0; layer < spec.num_layers; ++layer) expect_same_book(gpu->code_book(layer), cpu->code_book(layer));
  }
}


// ---------------------------------------------------------------- runtime, observed layer by layer

// One layer of one decode step as a runtime's AttentionObserver saw it, in logical order (token,
// KV head), so that two runtimes' caches compare entry by entry.
struct ObservedLayer {
  int seq_len = 0;
  CodeBook book;
  std::vector<float> q;        // [q_heads][head_dim]
  std::vector<float> keys;     // [token][kv_head][head_dim], fp32
  std::vector<uint8_t> codes;  // [token][kv_head][code stride]
  TokenSelection selection;    // the runtime's own (on_decode_selection), when it reports one
  bool has_selection = false;
};

class RecordingObserver : public AttentionObserver {
 public:
  explicit RecordingObserver(int layers) : layers(layers) {}
  void on_decode_attention(int layer, const PagedKvView& view, const float* q, int num_q_heads) override {
    ASSERT_NE(view.code_book, nullptr);
    ObservedLayer& o = layers.at(layer);
    const int n = view.seq_lens[0], d = view.head_dim, heads = view.num_kv_heads;
    const int stride = code_stride_bytes(view.code_bits(), d);
    o.seq_len = n;
    o.book = *view.code_book;
    o.q.assign(q, q + static_cast<size_t>(num_q_heads) * d);
    o.keys.resize(static_cast<size_t>(n) * heads * d);
    o.codes.resize(static_cast<size_t>(n) * heads * stride);
    for (int t = 0; t < n; ++t)
      for (int h = 0; h < heads; ++h) {
        const size_t row = static_cast<size_t>(t) * heads + h;
        for (int i = 0; i < d; ++i) o.keys[row * d + i] = load_as_f32(view.keys, view.dtype, view.kv_offset(0, h, t) + i);
        std::memcpy(o.codes.data() + row * stride, view.key_codes + view.code_offset(0, h, t), stride);
      }
    o.has_selection = false;
  }
  void on_decode_selection(int layer, const TokenSelection& selection) override {
    layers.at(layer).selection = selection;
    layers.at(layer).has_selection = true;
  }
  std::vector<ObservedLayer> layers;
};

// select_tokens_ref over observed codes with a book and queries that may come from different
// runtimes: a batch-1 view of page size 1, so the logical order is the paged layout.
TokenSelection select_observed(const SelectorOptions& options, const ObservedLayer& codes_from, const CodeBook& book,
                               const std::vector<float>& q, int kv_heads, int head_dim) {
  const int n = codes_from.seq_len;
  std::vector<int32_t> table(n);
  for (int t = 0; t < n; ++t) table[t] = t;
  PagedKvView view;
  view.batch = 1;
  view.num_kv_heads = kv_heads;
  view.head_dim = head_dim;
  view.page_size = 1;
  view.dtype = DType::kF32;
  view.keys = codes_from.keys.data();
  view.values = codes_from.keys.data();  // the selection reads no values
  view.key_codes = codes_from.codes.data();
  view.page_table = table.data();
  view.max_pages_per_seq = n;
  view.seq_lens = &n;
  view.code_book = &book;
  TokenSelection selection;
  select_tokens_ref(options, view, q.data(), static_cast<int>(q.size()) / head_dim, selection);
  return selection;
}

std::set<int32_t> row_set(const TokenSelection& s, int r) { return {s.row(0, r), s.row(0, r) + s.count(0, r)}; }

bool same_sets(const TokenSelection& a, const TokenSelection& b) {
  if (a.dense[0] != b.dense[0] || a.rows_per_seq != b.rows_per_seq) return false;
  for (int r = 0; r < (a.dense[0] ? 0 : a.rows_per_seq); ++r)
    if (row_set(a, r) != row_set(b, r)) return false;
  return true;
}

std::string set_text(const std::set<int32_t>& tokens) {
  std::ostringstream text;
  text << "{";
  for (int32_t t : tokens) text << (t == *tokens.begin() ? "" : " ") << t;
  text << "}";
  return text.str();
}

std::string book_text(const CodeBook& book) {
  char buffer[256];
  std::snprintf(buffer, sizeof(buffer), "thresholds (%.9g, %.9g, %.9g) centroids (%.9g, %.9g, %.9g, %.9g)",
                book.thresholds[0], book.thresholds[1], book.thresholds[2], book.centroids[0], book.centroids[1],
                book.centroids[2], book.centroids[3]);
  return buffer;
}

// The asymmetric score of token t in row r (one row per KV head: the max over its group's heads),
// from one runtime's q and book and another's (or the same) codes.
float observed_score(const ObservedLayer& codes_from, const CodeBook& book, const std::vector<float>& q, int r, int t,
                     int kv_heads, int head_dim) {
  const int group = static_cast<int>(q.size()) / head_dim / kv_heads, stride = code_stride_bytes(2, head_dim);
  const uint8_t* code = codes_from.codes.data() + (static_cast<size_t>(t) * kv_heads + r) * stride;
  float best = -INFINITY;
  for (int j = 0; j < group; ++j)
    best = std::max(best, asymmetric_score_ref(q.data() + static_cast<size_t>(r * group + j) * head_dim, code, book, head_dim));
  return best;
}

// MatchesCpuRuntime's calibrated asymmetric case (2-bit unrotated codes, books fitted at position
// 24), same model, seed and tokens, with both runtimes observed in every layer of every step.
// Checks what holds on a correct implementation whatever the rounding: every key code of either
// runtime is encode_with_code_book of its stored key with its current book, and the CUDA
// runtime's selection equals select_tokens_ref's over its own cache and q. Where the two runtimes'
// selections differ it prints the first differences (books, q, codes at full precision, the
// boundary scores, and which one GPU ingredient flips the CPU's selection), so that a rounding
// effect and a bug can be told apart from one run: ADAMAS_TEST_SEED=38546 ADAMAS_TEST_VERBOSE=1.
TEST(CudaRuntimeCodeOptionsTest, ObservedAsymmetricCalibrated) {
  SKIP_WITHOUT_GPU();
  const uint32_t seed = static_cast<uint32_t>(test_seed() % 100000);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  const adamas::test::TinyModelDir m(seed, 8, 2, "codes_observed");
  const adamas::test::TinyLlamaSpec& spec = m.spec;
  const LlamaModel model = m.load_model();
  RuntimeOptions options;
  options.selector.policy = Policy::kAdamas;
  options.selector.estimator = Estimator::kAsymmetric;
  options.selector.token_budget = 12;
  options.selector.thresholds = {-0.5f, 0.0f, 0.5f};
  options.code_bits = 2;
  options.code_hadamard = false;
  options.calibrate_after_tokens = 24;
  options.dense_layers = 1;
  options.kv_dtype = DType::kF32;
  options.max_context = 128;
  auto cpu = make_cpu_runtime(model, options);
  auto gpu = make_cuda_runtime(model, options);
  RecordingObserver cpu_seen(spec.num_layers), gpu_seen(spec.num_layers);
  cpu->set_observer(&cpu_seen);
  gpu->set_observer(&gpu_seen);
  const int d = spec.head_dim, kv_heads = spec.num_kv_heads, stride = code_stride_bytes(2, d);
  const CodeBook initial = cpu->code_book(0);
  int reports = 0, code_reports = 0, invariant_failures = 0;
  std::set<std::tuple<int, int, int, int>> reported_codes;  // (layer, token, head, coordinate)
  std::vector<bool> book_printed(spec.num_layers, false);

  // Every code of `o` against encode_with_code_book of its key with its book.
  auto check_codes = [&](const char* side, int step, int layer, const ObservedLayer& o) {
    std::vector<uint8_t> want(stride);
    for (int t = 0; t < o.seq_len; ++t)
      for (int h = 0; h < kv_heads; ++h) {
        const size_t row = static_cast<size_t>(t) * kv_heads + h;
        encode_with_code_book(o.keys.data() + row * d, d, o.book, want.data());
        const uint8_t* got = o.codes.data() + row * stride;
        for (int i = 0; i < d; ++i) {
          if (code_level(got, 2, i) == code_level(want.data(), 2, i)) continue;
          if (invariant_failures++ < 5)
            ADD_FAILURE() << side << " step " << step << " layer " << layer << " token " << t << " head " << h
                          << " coordinate " << i << ": stored level " << code_level(got, 2, i) << ", its key "
                          << std::setprecision(9) << o.keys[row * d + i] << " under its book (" << book_text(o.book)
                          << ") gives " << code_level(want.data(), 2, i);
          break;
        }
      }
  };

  auto compare_step = [&](int step) {
    for (int layer = 0; layer < spec.num_layers; ++layer) {
      const ObservedLayer& c = cpu_seen.layers[layer];
      const ObservedLayer& g = gpu_seen.layers[layer];
      ASSERT_EQ(c.seq_len, g.seq_len) << "step " << step << " layer " << layer;
      check_codes("cpu", step, layer, c);
      check_codes("gpu", step, layer, g);
      const bool calibrated = std::memcmp(&c.book, &initial, sizeof(CodeBook)) != 0;
      if (calibrated && !book_printed[layer]) {
        book_printed[layer] = true;
        std::printf("[observe] step %d layer %d books: cpu %s\n                             gpu %s\n", step, layer,
                    book_text(c.book).c_str(), book_text(g.book).c_str());
      }
      // Coordinates whose level differs between the runtimes, each reported once.
      for (int t = 0; t < c.seq_len; ++t)
        for (int h = 0; h < kv_heads; ++h)
          for (int i = 0; i < d; ++i) {
            const size_t row = static_cast<size_t>(t) * kv_heads + h;
            const int lc = code_level(c.codes.data() + row * stride, 2, i), lg = code_level(g.codes.data() + row * stride, 2, i);
            if (lc == lg || !reported_codes.insert({layer, t, h, i}).second || code_reports++ >= 8) continue;
            const int k = std::min(lc, lg);  // the threshold between the two levels (adjacent or not)
            const char* coded_by = t < options.calibrate_after_tokens ? "the calibration's re-encode" : "the append";
            std::printf("[observe] step %d layer %d: code of token %d head %d coordinate %d differs (coded by %s): "
                        "cpu level %d key %.9g threshold[%d] %.9g; gpu level %d key %.9g threshold[%d] %.9g\n",
                        step, layer, t, h, i, coded_by, lc, c.keys[row * d + i], k, c.book.thresholds[k], lg,
                        g.keys[row * d + i], k, g.book.thresholds[k]);
          }
      if (layer < options.dense_layers) continue;
      const TokenSelection cpu_ref = select_observed(options.selector, c, c.book, c.q, kv_heads, d);
      const TokenSelection gpu_ref = select_observed(options.selector, g, g.book, g.q, kv_heads, d);
      EXPECT_TRUE(g.has_selection) << "the CUDA runtime reported no selection, step " << step << " layer " << layer;
      const bool gpu_own = !g.has_selection || same_sets(g.selection, gpu_ref);
      if (!gpu_own) {
        const TokenSelection stale = select_observed(options.selector, g, initial, g.q, kv_heads, d);
        ADD_FAILURE() << "step " << step << " layer " << layer << ": the CUDA selection differs from "
                      << "select_tokens_ref over the CUDA runtime's own cache and q"
                      << (same_sets(g.selection, stale) ? " (it equals the selection with the initial book: stale book)" : "");
      }
      const TokenSelection& gpu_used = g.has_selection ? g.selection : gpu_ref;
      const bool differ = !same_sets(cpu_ref, gpu_used);
      // Details for the first few differing layers; ADAMAS_TEST_DIAGNOSE=1: a line for every one.
      if (!(differ && reports++ < 6) && !std::getenv("ADAMAS_TEST_DIAGNOSE")) continue;
      // Which one GPU ingredient, put into the CPU's data, flips the CPU's selection.
      const bool flip_q = !same_sets(cpu_ref, select_observed(options.selector, c, c.book, g.q, kv_heads, d));
      const bool flip_book = !same_sets(cpu_ref, select_observed(options.selector, c, g.book, c.q, kv_heads, d));
      const bool flip_codes = !same_sets(cpu_ref, select_observed(options.selector, g, c.book, c.q, kv_heads, d));
      float q_diff = 0, key_diff = 0, book_diff = 0;
      for (size_t i = 0; i < c.q.size(); ++i) q_diff = std::max(q_diff, std::abs(c.q[i] - g.q[i]));
      for (size_t i = 0; i < c.keys.size(); ++i) key_diff = std::max(key_diff, std::abs(c.keys[i] - g.keys[i]));
      for (int k = 0; k < 3; ++k) book_diff = std::max(book_diff, std::abs(c.book.thresholds[k] - g.book.thresholds[k]));
      for (int k = 0; k < 4; ++k) book_diff = std::max(book_diff, std::abs(c.book.centroids[k] - g.book.centroids[k]));
      std::printf("[observe] step %d layer %d seq_len %d: selections %s (cpu ref vs gpu %s; gpu kernel %s its ref). "
                  "max |cpu - gpu|: q %.3g keys %.3g book %.3g. Flips the cpu selection alone: gpu q %s, gpu book %s, "
                  "gpu codes %s\n",
                  step, layer, c.seq_len, differ ? "DIFFER" : "equal", g.has_selection ? "kernel" : "ref",
                  gpu_own ? "equals" : "DIFFERS FROM", q_diff, key_diff, book_diff, flip_q ? "YES" : "no",
                  flip_book ? "YES" : "no", flip_codes ? "YES" : "no");
      if (!differ || reports > 6) continue;
      for (int r = 0; r < cpu_ref.rows_per_seq; ++r) {
        const std::set<int32_t> want = row_set(cpu_ref, r), got = row_set(gpu_used, r);
        if (want == got) continue;
        std::printf("[observe]   row %d: cpu %s gpu %s\n", r, set_text(want).c_str(), set_text(got).c_str());
        std::set<int32_t> shown;
        for (int32_t t : want) if (!got.count(t)) shown.insert(t);
        for (int32_t t : got) if (!want.count(t)) shown.insert(t);
        for (int32_t t : shown) {
          const size_t row = static_cast<size_t>(t) * kv_heads + r;
          const bool codes_differ = std::memcmp(c.codes.data() + row * stride, g.codes.data() + row * stride, stride) != 0;
          std::printf("[observe]     token %d: score cpu %.9g gpu %.9g (gpu codes, cpu q and book: %.9g); codes %s\n", t,
                      observed_score(c, c.book, c.q, r, t, kv_heads, d), observed_score(g, g.book, g.q, r, t, kv_heads, d),
                      observed_score(g, c.book, c.q, r, t, kv_heads, d), codes_differ ? "DIFFER" : "equal");
        }
      }
    }
  };
  std::mt19937 rng(seed);
  const double worst = adamas::test::decode_side_by_side(*cpu, *gpu, spec.vocab_size, rng, [&](int step) {
    ASSERT_NO_FATAL_FAILURE(compare_step(step));
  });
  std::printf("[observe] largest relative logit error with both runtimes observed: %.3g\n", worst);
  EXPECT_EQ(invariant_failures, 0);
  cpu->set_observer(nullptr);
  gpu->set_observer(nullptr);
}

}  // namespace
}  // namespace adamas::cuda::test
