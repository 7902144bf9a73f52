// GPU selectors and decode attention against the scalar references, on one ragged host cache per
// shape: adamas distances bit-exact, every policy's index sets identical (and the dense flags),
// attention within 1e-3 relative (fp32 accumulation against the double-precision reference).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "adamas/attention.h"
#include "adamas/error.h"
#include "adamas/hadamard.h"
#include "adamas/selector.h"
#include "cuda_test_support.h"

namespace adamas::cuda::test {
namespace {

struct SelectCase {
  DType dtype;
  int head_dim, q_heads, kv_heads;
  std::vector<int> lens;
  std::vector<int> budgets;
  bool adamas_only = false;  // long contexts for the cluster step: the other policies' references cost minutes
  bool full_only = false;    // long contexts for the dense kernels, likewise
};

std::string case_name(const SelectCase& c) {
  std::ostringstream out;
  out << dtype_name(c.dtype) << "_d" << c.head_dim << "_q" << c.q_heads << "_kv" << c.kv_heads << "_b" << c.lens.size()
      << "_n" << *std::max_element(c.lens.begin(), c.lens.end());
  return out.str();
}

struct Fixture {
  KvCacheConfig config;
  std::unique_ptr<KvCache> host;
  std::unique_ptr<DeviceKvCache> device;
  std::vector<float> q;
};

// A cache for the case's shape: its heads, head size and type, a sequence per length, room for the longest.
KvCacheConfig cache_config_for(const SelectCase& c) {
  KvCacheConfig config;
  config.num_kv_heads = c.kv_heads;
  config.head_dim = c.head_dim;
  config.dtype = c.dtype;
  config.max_batch = static_cast<int>(c.lens.size());
  config.max_tokens_per_seq = *std::max_element(c.lens.begin(), c.lens.end());
  return config;
}

Fixture build(const SelectCase& c, std::mt19937_64& rng) {
  Fixture f;
  f.config = cache_config_for(c);
  f.host = std::make_unique<KvCache>(f.config);
  const size_t row = static_cast<size_t>(c.kv_heads) * c.head_dim;
  for (size_t s = 0; s < c.lens.size(); ++s) {
    f.host->add_sequence();
    const auto keys = random_normal(rng, c.lens[s] * row, 8.0f);
    const auto values = random_normal(rng, c.lens[s] * row, 1.0f);
    f.host->append(static_cast<int>(s), keys.data(), values.data(), c.lens[s]);
  }
  f.device = std::make_unique<DeviceKvCache>(f.config);
  f.device->upload(*f.host);
  f.q = random_normal(rng, c.lens.size() * c.q_heads * c.head_dim, 8.0f);
  return f;
}

// Each (sequence, head) output [batch][q_heads][head_dim] within 1e-3 relative (L2 over the head) of
// the reference: fp32 accumulation against a double reference over the same fp16/bf16/fp32 inputs.
void expect_attention_close(const std::vector<float>& gpu_out, const std::vector<float>& reference_out, int batch,
                            int q_heads, int head_dim) {
  for (int s = 0; s < batch; ++s) {
    for (int h = 0; h < q_heads; ++h) {
      double err = 0, norm = 0;
      for (int i = 0; i < head_dim; ++i) {
        const size_t k = (static_cast<size_t>(s) * q_heads + h) * head_dim + i;
        err += (gpu_out[k] - reference_out[k]) * static_cast<double>(gpu_out[k] - reference_out[k]);
        norm += static_cast<double>(reference_out[k]) * reference_out[k];
        if (!std::isfinite(gpu_out[k])) err = INFINITY;
      }
      ASSERT_LE(std::sqrt(err / norm), 1e-3) << "attention of sequence " << s << " head " << h;
    }
  }
}

// One step of `plan` (with `current`, the current token's K/V, where given) into a poisoned output,
// so that an unwritten element cannot pass; its selection downloaded and compared with `expected`.
void step_and_check_selection(DecodePlan& plan, const PagedKvView& device_view, const float* q, DeviceArray<float>& out,
                              int batch, const TokenSelection& expected, const CurrentToken& current = {}) {
  ASSERT_EQ(cudaMemset(out.data, 0xff, out.count * sizeof(float)), cudaSuccess);
  plan.step(device_view, q, out.data, nullptr, current);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  TokenSelection actual;
  plan.download_selection(batch, actual);
  ASSERT_NO_FATAL_FAILURE(expect_same_selection(expected, actual, batch, "selection"));
}

// Every policy and budget of one shape against the references, with the kernel variants the
// environment selects when the plans are built (src/cuda/kernel_variants.cuh).
void check_against_reference(const SelectCase& c) {
  const uint64_t seed = test_seed();
  std::mt19937_64 rng(seed);
  Fixture f = build(c, rng);
  const int batch = static_cast<int>(c.lens.size());
  const PagedKvView host_view = f.host->view(0), device_view = f.device->view(0);
  DeviceArray<float> q(f.q), out;
  out.allocate(f.q.size());
  std::vector<float> reference_out(f.q.size());

  const std::vector<Policy> policies = c.adamas_only ? std::vector<Policy>{Policy::kAdamas}
                                       : c.full_only ? std::vector<Policy>{Policy::kFull}
                                                     : std::vector<Policy>{Policy::kAdamas, Policy::kOracle, Policy::kQuest,
                                                                           Policy::kStreaming, Policy::kFull};
  for (Policy policy : policies) {
    for (int budget : c.budgets) {
      for (bool per_query_head : {false, true}) {
        if (per_query_head && (policy == Policy::kFull || policy == Policy::kStreaming || c.q_heads == c.kv_heads)) continue;
        SCOPED_TRACE(::testing::Message() << "seed " << seed << " shape " << case_name(c) << " policy "
                                          << policy_name(policy) << " budget " << budget << " per_query_head "
                                          << per_query_head);
        SelectorOptions options;
        options.policy = policy;
        options.token_budget = budget;
        options.per_query_head = per_query_head;
        TokenSelection expected;
        select_tokens_ref(options, host_view, f.q.data(), c.q_heads, expected);

        const DecodePlanConfig plan_config =
            plan_config_for(batch, c.q_heads, c.kv_heads, c.head_dim, c.dtype, f.config.max_tokens_per_seq, options);
        DecodePlan plan(plan_config);
        ASSERT_NO_FATAL_FAILURE(step_and_check_selection(plan, device_view, q.data, out, batch, expected));

        if (policy == Policy::kAdamas) {
          // Distances of the estimate pass (the cluster step keeps its own in shared memory):
          // minimum over the row's heads of the exact L1, from the reference pieces.
          std::vector<uint16_t> distances;
          plan.estimate(device_view, q.data);
          plan.download_distances(distances);
          const int stride = static_cast<int>(distances.size() / (static_cast<size_t>(batch) * expected.rows_per_seq));
          const int group = c.q_heads / c.kv_heads, d = c.head_dim;
          int wrong = 0;
          for (int s = 0; s < batch; ++s) {
            const int n = c.lens[s];
            if (n <= budget) continue;
            for (int r = 0; r < expected.rows_per_seq; ++r) {
              const int first = per_query_head ? r : r * group, heads = per_query_head ? 1 : group;
              const int kv_head = per_query_head ? r / group : r;
              std::vector<std::vector<uint8_t>> codes(heads, std::vector<uint8_t>(d / 4));
              for (int j = 0; j < heads; ++j) {
                std::vector<float> rotated(f.q.begin() + (static_cast<size_t>(s) * c.q_heads + first + j) * d,
                                           f.q.begin() + (static_cast<size_t>(s) * c.q_heads + first + j + 1) * d);
                hadamard_transform_ref(rotated.data(), d);
                encode_code_ref(rotated.data(), d, options.thresholds, codes[j].data());
              }
              for (int t = 0; t < n - 1; ++t) {
                int best = 3 * d;
                for (int j = 0; j < heads; ++j)
                  best = std::min(best, l1_distance_ref(codes[j].data(), host_view.key_codes + host_view.code_offset(s, kv_head, t), d));
                wrong += distances[(static_cast<size_t>(s) * expected.rows_per_seq + r) * stride + t] != best;
              }
            }
          }
          EXPECT_EQ(wrong, 0) << "adamas distances differ from l1_distance_ref";
        }

        decode_attention_ref(host_view, f.q.data(), c.q_heads, &expected, reference_out.data());
        ASSERT_NO_FATAL_FAILURE(expect_attention_close(out.download(), reference_out, batch, c.q_heads, c.head_dim));
      }
    }
  }
}

class SelectAttentionTest : public ::testing::TestWithParam<SelectCase> {};

TEST_P(SelectAttentionTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  check_against_reference(GetParam());
}

// The second session's kernel versions together (bounded estimate, 32 KiB dense tiles without the
// warp split, programmatic dependent launch): same exactness contract as the defaults (whose dense
// attention is the warp split since the seventh session).
class NewKernelVariantsTest : public ::testing::TestWithParam<SelectCase> {
  ScopedEnv estimate_{"ADAMAS_ESTIMATE_VARIANT", "new"}, dense_{"ADAMAS_DENSE_VARIANT", "new"}, pdl_{"ADAMAS_PDL", "1"},
      step_{"ADAMAS_STEP", "split"};
};

TEST_P(NewKernelVariantsTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  check_against_reference(GetParam());
}

std::vector<SelectCase> select_cases() {
  std::vector<SelectCase> cases;
  const std::vector<int> ragged = {1500, 37, 1, 900};
  const std::vector<int> budgets = {1, 2, 17, 64, 256, 1000, 4000};
  for (DType dtype : {DType::kF16, DType::kBF16, DType::kF32})
    for (int d : {64, 128, 256})
      for (auto heads : {std::pair{4, 4}, std::pair{8, 2}, std::pair{16, 2}})
        cases.push_back({dtype, d, heads.first, heads.second, ragged, budgets});
  cases.push_back({DType::kF16, 128, 8, 4, {5000, 4097, 4096, 4095, 8193}, {1, 300, 4095, 4096}});
  // Longer than the budget, within one 16-token page (Quest: no candidate page, the list is the page).
  cases.push_back({DType::kF16, 64, 4, 2, {13, 16, 17, 40}, {5, 12}});
  // Groups that are not powers of two: 3 (SmolLM2-135M: 9 query heads, 3 KV heads, d 64) and 6.
  cases.push_back({DType::kF16, 64, 9, 3, ragged, budgets});
  cases.push_back({DType::kBF16, 128, 12, 2, ragged, budgets});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, SelectAttentionTest, ::testing::ValuesIn(select_cases()),
                         [](const auto& info) { return case_name(info.param); });

// The shapes above, plus chunks of several estimate rounds with budgets small enough for the
// bounded estimate's running bound to skip distances (d 64: 2 rounds of 2048, d 256: 8 of 512).
std::vector<SelectCase> new_variant_cases() {
  std::vector<SelectCase> cases = select_cases();
  cases.push_back({DType::kF16, 64, 2, 1, {20000, 9000, 4097}, {1, 64, 256, 3000}});
  cases.push_back({DType::kBF16, 256, 8, 2, {9000, 4100}, {17, 256, 1000}});
  cases.push_back({DType::kF16, 128, 32, 32, {12000}, {256}});
  // Groups 3, 5 and 7 with several estimate rounds (the bounded estimate's running bound).
  cases.push_back({DType::kF16, 64, 9, 3, {9000, 4100}, {17, 256, 1000}});
  cases.push_back({DType::kF32, 256, 5, 1, {5000, 300}, {17, 256}});
  cases.push_back({DType::kBF16, 128, 14, 2, {6000, 37}, {1, 64, 1000}});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, NewKernelVariantsTest, ::testing::ValuesIn(new_variant_cases()),
                         [](const auto& info) { return case_name(info.param); });

// Dense attention on the tensor cores (ADAMAS_DENSE_VARIANT=mma, the default; decode_attention.cu): full
// attention within the same 1e-3 of the double reference, at every shape above (those it does not
// serve, one head per KV head, fp32, d 256, fall back to the warp split), and long ragged contexts
// over several splits with every group size it serves.
class DenseMmaTest : public ::testing::TestWithParam<SelectCase> {
  ScopedEnv dense_{"ADAMAS_DENSE_VARIANT", "mma"}, step_{"ADAMAS_STEP", "split"};
};

TEST_P(DenseMmaTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  check_against_reference(GetParam());
}

std::vector<SelectCase> dense_mma_cases() {
  std::vector<SelectCase> cases = select_cases();
  for (auto heads : {std::pair{32, 8}, std::pair{8, 4}, std::pair{12, 4}, std::pair{10, 2}, std::pair{14, 2}})
    for (DType dtype : {DType::kF16, DType::kBF16}) {
      SelectCase c{dtype, 128, heads.first, heads.second, {20000, 3001, 1, 129}, {256}};
      c.full_only = true;
      cases.push_back(c);
    }
  SelectCase d64{DType::kBF16, 64, 16, 2, {30001, 64, 65}, {256}};  // 16 tokens a warp
  d64.full_only = true;
  cases.push_back(d64);
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, DenseMmaTest, ::testing::ValuesIn(dense_mma_cases()),
                         [](const auto& info) { return case_name(info.param); });

// The warp split (ADAMAS_DENSE_VARIANT=warp), which the mma kernel replaced as the default for
// groups of 2-8 fp16/bf16 heads at d 64/128 and which still serves every other shape: the same
// cases, each on the warp split.
class DenseWarpSplitTest : public ::testing::TestWithParam<SelectCase> {
  ScopedEnv dense_{"ADAMAS_DENSE_VARIANT", "warp"}, step_{"ADAMAS_STEP", "split"};
};

TEST_P(DenseWarpSplitTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  check_against_reference(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Shapes, DenseWarpSplitTest, ::testing::ValuesIn(dense_mma_cases()),
                         [](const auto& info) { return case_name(info.param); });

// v6 estimate (codes copied into shared memory by cp.async.bulk, a page per copy): the same
// exactness contract; the same shapes as the other variants.
class BulkEstimateTest : public ::testing::TestWithParam<SelectCase> {
  ScopedEnv estimate_{"ADAMAS_ESTIMATE_VARIANT", "bulk"}, step_{"ADAMAS_STEP", "split"};
};

TEST_P(BulkEstimateTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  check_against_reference(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Shapes, BulkEstimateTest, ::testing::ValuesIn(new_variant_cases()),
                         [](const auto& info) { return case_name(info.param); });

// List compaction inside the attention kernel (DecodePlan::step with ADAMAS_FUSED_ATTEND=1),
// after the bulk estimate: the lists (written by the attention blocks) and the output as above.
class FusedAttendTest : public ::testing::TestWithParam<SelectCase> {
  ScopedEnv fused_{"ADAMAS_FUSED_ATTEND", "1"}, estimate_{"ADAMAS_ESTIMATE_VARIANT", "bulk"}, step_{"ADAMAS_STEP", "split"};
};

TEST_P(FusedAttendTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  check_against_reference(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Shapes, FusedAttendTest, ::testing::ValuesIn(new_variant_cases()),
                         [](const auto& info) { return case_name(info.param); });

// The default estimate and dense kernels behind the split step (estimate, compaction, attention
// launches), which serves every shape the cluster step does not (ADAMAS_STEP=split).
class SplitStepTest : public ::testing::TestWithParam<SelectCase> {
  ScopedEnv step_{"ADAMAS_STEP", "split"};
};

TEST_P(SplitStepTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  check_against_reference(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Shapes, SplitStepTest, ::testing::ValuesIn(select_cases()),
                         [](const auto& info) { return case_name(info.param); });

// The cluster step (the default, adamas_step.cu) past the shapes above: several scan rounds per
// block with the running bound, clusters of 8 (>= 17 rows) and 16, spans near kStepMaxSpan, the
// largest list (kStepMaxList), ragged batches with dense sequences, programmatic launch.
class ClusterStepTest : public ::testing::TestWithParam<SelectCase> {
  ScopedEnv step_{"ADAMAS_STEP", "cluster"};  // also where auto would not take it
};

TEST_P(ClusterStepTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  check_against_reference(GetParam());
}

std::vector<SelectCase> cluster_step_cases() {
  std::vector<SelectCase> cases = new_variant_cases();
  cases.push_back({DType::kF16, 128, 32, 32, {33000, 70}, {64, 256, 2048}, true});    // 64 rows: clusters of 8
  cases.push_back({DType::kBF16, 64, 24, 24, {150000}, {1, 300}, true});               // spans of 18752
  cases.push_back({DType::kF16, 128, 32, 8, {131072, 9000}, {256, 1024}, true});      // GQA 4: clusters of 16
  cases.push_back({DType::kBF16, 256, 16, 4, {40001, 511}, {17, 512}, true});          // d 256, 4 heads a row
  cases.push_back({DType::kF16, 64, 16, 2, {70000, 4100}, {2, 2048}, true});           // 8 heads a row
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, ClusterStepTest, ::testing::ValuesIn(cluster_step_cases()),
                         [](const auto& info) { return case_name(info.param); });

// The steps launched programmatically (ADAMAS_STEP_PDL=1: their wait after the set-up, q loaded
// after it).
class ClusterStepProgrammaticTest : public ::testing::TestWithParam<SelectCase> {
  ScopedEnv pdl_{"ADAMAS_STEP_PDL", "1"}, step_{"ADAMAS_STEP", "cluster"},
      blocks_{"ADAMAS_STEP_BLOCKS", "2"};  // the other instantiation of one and two heads a row
};

TEST_P(ClusterStepProgrammaticTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  check_against_reference(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Shapes, ClusterStepProgrammaticTest, ::testing::ValuesIn(select_cases()),
                         [](const auto& info) { return case_name(info.param); });

// The grid step (grid_step.cu: 1-4 blocks per multiprocessor, rows meeting through global memory)
// on the cluster step's shapes: both kernels of one head a row (2 blocks per SM up to 33 rows, 4
// beyond), spans up to 13640 (150000 tokens, 11 blocks a row), every head grouping and head size,
// dense rows in ragged batches, lists up to kStepMaxList.
class GridStepTest : public ::testing::TestWithParam<SelectCase> {
  ScopedEnv step_{"ADAMAS_STEP", "grid"};
};

TEST_P(GridStepTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  check_against_reference(GetParam());
  check_against_reference(GetParam());
}

// One plan stepped over three different queries a budget. The grid step's workspaces (the counters,
// and the histograms that the row's blocks poll until written) are put back by each launch for the
// next; a word left over from the launch before would pass for the new query's counts. (The test
// above builds a new plan, and so new workspaces, for every step.)
TEST_P(GridStepTest, ReusedPlanMatchesReference) {
  SKIP_WITHOUT_GPU();
  const SelectCase& c = GetParam();
  const uint64_t seed = test_seed();
  std::mt19937_64 rng(seed);
  const Fixture f = build(c, rng);
  const int batch = static_cast<int>(c.lens.size());
  const PagedKvView host_view = f.host->view(0), device_view = f.device->view(0);
  for (int budget : c.budgets) {
    SelectorOptions options;
    options.policy = Policy::kAdamas;
    options.token_budget = budget;
    DecodePlan plan(plan_config_for(batch, c.q_heads, c.kv_heads, c.head_dim, c.dtype, f.config.max_tokens_per_seq, options));
    for (int launch = 0; launch < 3; ++launch) {
      SCOPED_TRACE(::testing::Message() << "seed " << seed << " shape " << case_name(c) << " budget " << budget
                                        << " launch " << launch);
      const std::vector<float> q_host = random_normal(rng, f.q.size(), 8.0f);
      DeviceArray<float> q(q_host), out;
      out.allocate(q_host.size());
      TokenSelection expected;
      select_tokens_ref(options, host_view, q_host.data(), c.q_heads, expected);
      ASSERT_NO_FATAL_FAILURE(step_and_check_selection(plan, device_view, q.data, out, batch, expected));
      std::vector<float> reference_out(q_host.size());
      decode_attention_ref(host_view, q_host.data(), c.q_heads, &expected, reference_out.data());
      ASSERT_NO_FATAL_FAILURE(expect_attention_close(out.download(), reference_out, batch, c.q_heads, c.head_dim));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, GridStepTest, ::testing::ValuesIn(cluster_step_cases()),
                         [](const auto& info) { return case_name(info.param); });

// The grid step's kernel that shares a row's attention out (ADAMAS_GRID_SHARE=1) on random keys,
// where the selection is spread and nothing is shared (StepSkewedSelectionTest has the rest).
class GridStepSharedTest : public ::testing::TestWithParam<SelectCase> {
  ScopedEnv step_{"ADAMAS_STEP", "grid"}, share_{"ADAMAS_GRID_SHARE", "1"};
};

TEST_P(GridStepSharedTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  check_against_reference(GetParam());
  check_against_reference(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Shapes, GridStepSharedTest, ::testing::ValuesIn(new_variant_cases()),
                         [](const auto& info) { return case_name(info.param); });

class GridStepProgrammaticTest : public ::testing::TestWithParam<SelectCase> {
  ScopedEnv pdl_{"ADAMAS_STEP_PDL", "1"}, step_{"ADAMAS_STEP", "grid"};
};

TEST_P(GridStepProgrammaticTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  check_against_reference(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Shapes, GridStepProgrammaticTest, ::testing::ValuesIn(select_cases()),
                         [](const auto& info) { return case_name(info.param); });

// The auto rule's choice of the grid step (adamas_grid_step_auto: one head a row from 32K on with up
// to 32 rows and from 48K on with 33-64; four heads a row from 8K on with up to 16 rows; else the
// cluster step), then that shape in the default environment against the references.
class GridStepAutoTest : public ::testing::TestWithParam<SelectCase> {};

TEST_P(GridStepAutoTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  const SelectCase& c = GetParam();
  SelectorOptions options;
  options.token_budget = 256;
  auto path = [&](int q_heads, int kv_heads, int batch, int max_context) {
    PagedKvView view;
    view.num_kv_heads = kv_heads;
    view.head_dim = c.head_dim;
    view.dtype = c.dtype;
    view.page_size = kDefaultPageSize;
    view.batch = batch;
    DecodePlan plan(plan_config_for(batch, q_heads, kv_heads, c.head_dim, c.dtype, max_context, options));
    return plan.step_path(view);
  };
  EXPECT_EQ(path(32, 32, 2, 60000), "grid");     // 64 rows from 48K on
  EXPECT_EQ(path(32, 32, 2, 40000), "split");    // 64 rows below 48K (the cluster step's auto: not one wave)
  EXPECT_EQ(path(32, 32, 1, 40000), "grid");     // 32 rows from 32K on
  EXPECT_EQ(path(32, 32, 1, 20000), "cluster");
  EXPECT_EQ(path(32, 8, 1, 20000), "grid");      // four heads a row, 8 rows
  EXPECT_EQ(path(32, 8, 1, 4000), "cluster");
  EXPECT_EQ(path(32, 16, 1, 20000), "cluster");  // two heads a row: not measured
  check_against_reference(c);
}

INSTANTIATE_TEST_SUITE_P(Shapes, GridStepAutoTest,
                         ::testing::Values(SelectCase{DType::kBF16, 128, 32, 32, {60000, 900}, {256}, true},
                                           SelectCase{DType::kF16, 128, 32, 8, {20000}, {256}, true}),
                         [](const auto& info) { return case_name(info.param); });

// Fewer blocks per row than fit (ADAMAS_GRID_BLOCKS: longer spans, an odd count, one block a row),
// with one head a row on either kernel (ADAMAS_GRID_PER_SM: 2 blocks per SM and two rounds of codes
// in flight, or 4, or auto's choice for the count).
struct GridBlocksCase {
  int blocks;
  const char* per_sm;
  SelectCase shape;
};

class GridBlocksTest : public ::testing::TestWithParam<GridBlocksCase> {
  ScopedEnv step_{"ADAMAS_STEP", "grid"}, blocks_{"ADAMAS_GRID_BLOCKS", std::to_string(GetParam().blocks).c_str()},
      per_sm_{"ADAMAS_GRID_PER_SM", GetParam().per_sm};
};

TEST_P(GridBlocksTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  check_against_reference(GetParam().shape);
}

std::vector<GridBlocksCase> grid_blocks_cases() {
  std::vector<GridBlocksCase> cases;
  for (int blocks : {1, 3, 8})
    for (const char* per_sm : {"2", "4"}) {
      cases.push_back({blocks, per_sm, {DType::kF16, 128, 32, 32, {12000, 300, 7777}, {1, 256, 1000}, true}});
      cases.push_back({blocks, per_sm, {DType::kBF16, 64, 8, 8, {9000, 4100}, {17, 256}}});
    }
  cases.push_back({8, "2", {DType::kBF16, 256, 8, 2, {9000, 4100}, {17, 256}}});
  // 32 rows of 16 do not fit at 2 per SM: auto takes the 4-per-SM kernel for the count asked for.
  cases.push_back({16, "auto", {DType::kF16, 128, 32, 32, {12000}, {1, 256}, true}});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Counts, GridBlocksTest, ::testing::ValuesIn(grid_blocks_cases()), [](const auto& info) {
  return "b" + std::to_string(info.param.blocks) + "_sm" + info.param.per_sm + "_" + case_name(info.param.shape);
});

// ADAMAS_STEP_TRACE's extra eager launch (phase stamps printed to stderr) leaves both one-launch
// steps' results as they are: the grid step's counters are zero again for the launch after it.
class StepTraceTest : public ::testing::TestWithParam<const char*> {
  ScopedEnv step_{"ADAMAS_STEP", GetParam()}, trace_{"ADAMAS_STEP_TRACE", "1"};
};

TEST_P(StepTraceTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  const SelectCase c{DType::kF16, 128, 32, 8, {20000, 700}, {256}};
  check_against_reference(c);
  check_against_reference(c);
}

INSTANTIATE_TEST_SUITE_P(Steps, StepTraceTest, ::testing::Values("cluster", "grid"));

// ADAMAS_STEP_TRACE_FILE: the grid step's traced launches append every block's stamps as CSV (a
// comment naming the launch, a header, a line a block: row, rank, multiprocessor, 11 points), the
// results unchanged; a path that cannot be written is an error, not a silent loss.
TEST(GridStepTraceFileTest, WritesEveryBlockAndRejectsAnUnwritablePath) {
  SKIP_WITHOUT_GPU();
  const SelectCase c{DType::kF16, 128, 32, 32, {33000, 700}, {256}};
  const std::string path = ::testing::TempDir() + "adamas_grid_stamps_" + std::to_string(test_seed()) + ".csv";
  std::remove(path.c_str());
  {
    ScopedEnv step{"ADAMAS_STEP", "grid"}, trace{"ADAMAS_STEP_TRACE", "1"}, file{"ADAMAS_STEP_TRACE_FILE", path.c_str()};
    check_against_reference(c);
  }
  std::FILE* in = std::fopen(path.c_str(), "r");
  ASSERT_NE(in, nullptr) << path;
  char buffer[1024];
  int launches = 0, headers = 0, blocks = 0, max_row = -1, max_rank = -1;
  while (std::fgets(buffer, sizeof buffer, in) != nullptr) {
    const std::string line(buffer);
    if (line.rfind("# grid step", 0) == 0) {
      ++launches;
    } else if (line.rfind("row,rank,sm,start,", 0) == 0) {
      ++headers;
    } else {
      EXPECT_EQ(std::count(line.begin(), line.end(), ','), 2 + 11) << line;
      int row = -1, rank = -1;
      ASSERT_EQ(std::sscanf(buffer, "%d,%d,", &row, &rank), 2) << line;
      max_row = std::max(max_row, row);
      max_rank = std::max(max_rank, rank);
      ++blocks;
    }
  }
  std::fclose(in);
  std::remove(path.c_str());
  EXPECT_GE(launches, 1);
  EXPECT_EQ(headers, launches);
  EXPECT_GE(max_row, 31);  // 2 sequences x 32 heads, one a row
  EXPECT_GE(max_rank, 1);
  EXPECT_EQ(blocks, launches * (max_row + 1) * (max_rank + 1));
  ScopedEnv step{"ADAMAS_STEP", "grid"}, trace{"ADAMAS_STEP_TRACE", "1"},
      file{"ADAMAS_STEP_TRACE_FILE", "/nonexistent-adamas-dir/stamps.csv"};
  EXPECT_THROW(check_against_reference(c), Error);
}

// The current token's K/V from the step's argument (CurrentToken): the device cache holds 3e4 in
// every key and value coordinate of each sequence's last token (and the key codes of those keys),
// so a step that read any of them would select or attend differently; the step gets the real
// token's fp32 K/V and must match the references on the real cache. Ragged batch with dense rows
// (n <= budget), GQA and MHA rows, both one-launch steps.
class StepCurrentTokenTest : public ::testing::TestWithParam<const char*> {
  ScopedEnv step_{"ADAMAS_STEP", GetParam()};
};

TEST_P(StepCurrentTokenTest, NeverReadsTheCachedToken) {
  SKIP_WITHOUT_GPU();
  const uint64_t seed = test_seed();
  std::mt19937_64 rng(seed);
  for (const SelectCase& c : {SelectCase{DType::kF16, 128, 32, 8, {20000, 700, 100}, {256, 1000}},
                              SelectCase{DType::kBF16, 64, 8, 8, {9000, 33}, {17, 256}}}) {
    const KvCacheConfig config = cache_config_for(c);
    const int batch = config.max_batch;
    KvCache real(config), poisoned(config);
    const size_t row = static_cast<size_t>(c.kv_heads) * c.head_dim;
    std::vector<float> current_keys, current_values;  // [batch][kv_heads][d]
    for (int s = 0; s < batch; ++s) {
      real.add_sequence();
      poisoned.add_sequence();
      auto keys = random_normal(rng, c.lens[s] * row, 8.0f), values = random_normal(rng, c.lens[s] * row, 1.0f);
      real.append(s, keys.data(), values.data(), c.lens[s]);
      current_keys.insert(current_keys.end(), keys.end() - row, keys.end());
      current_values.insert(current_values.end(), values.end() - row, values.end());
      std::fill(keys.end() - row, keys.end(), 3e4f);
      std::fill(values.end() - row, values.end(), 3e4f);
      poisoned.append(s, keys.data(), values.data(), c.lens[s]);
    }
    DeviceKvCache device(config);
    device.upload(poisoned);
    const std::vector<float> q_host = random_normal(rng, batch * c.q_heads * c.head_dim, 8.0f);
    DeviceArray<float> q(q_host), keys_device(current_keys), values_device(current_values), out;
    out.allocate(q_host.size());
    std::vector<float> reference_out(q_host.size());
    for (int budget : c.budgets) {
      SCOPED_TRACE(::testing::Message() << "seed " << seed << " shape " << case_name(c) << " budget " << budget);
      SelectorOptions options;
      options.token_budget = budget;
      TokenSelection expected;
      select_tokens_ref(options, real.view(0), q_host.data(), c.q_heads, expected);
      DecodePlan plan(plan_config_for(batch, c.q_heads, c.kv_heads, c.head_dim, c.dtype, config.max_tokens_per_seq, options));
      ASSERT_TRUE(plan.step_reads_current(device.view(0)));
      ASSERT_NO_FATAL_FAILURE(step_and_check_selection(plan, device.view(0), q.data, out, batch, expected,
                                                       CurrentToken{keys_device.data, values_device.data}));
      decode_attention_ref(real.view(0), q_host.data(), c.q_heads, &expected, reference_out.data());
      ASSERT_NO_FATAL_FAILURE(expect_attention_close(out.download(), reference_out, batch, c.q_heads, c.head_dim));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Steps, StepCurrentTokenTest, ::testing::Values("cluster", "grid"));

// Selections gathered in a few blocks' spans, as in a real decode (the recent tokens, the sink):
// each sequence's last 300 keys are copies of its row's first query (code distance 0: 300 ties at
// the threshold, the latest taken first) and keys 5..60 that query plus noise, so the last block's
// span holds more than a round of attention and the grid step shares its overflow out to the
// other blocks (share_attention); the lists and outputs must still match the references. Ragged
// batch with a dense row, MHA and GQA, twice each (the flags it resets are reused), and one MHA
// sequence (the grid step's 2-per-SM kernel, 8 blocks a row). "grid-unshared": the grid step with
// ADAMAS_GRID_SHARE=0, where a block holding more than twice its share spreads the row's attention
// over the row's blocks (attend_slice) in the kernels of 2 blocks per SM.
class StepSkewedSelectionTest : public ::testing::TestWithParam<std::string> {
  const bool unshared_ = GetParam() == "grid-unshared";
  ScopedEnv step_{"ADAMAS_STEP", unshared_ ? "grid" : GetParam().c_str()}, share_{"ADAMAS_GRID_SHARE", unshared_ ? "0" : "1"};
};

TEST_P(StepSkewedSelectionTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  const uint64_t seed = test_seed();
  std::mt19937_64 rng(seed);
  for (const SelectCase& c : {SelectCase{DType::kF16, 128, 32, 32, {20000, 9000, 100}, {256, 1000}},
                              SelectCase{DType::kBF16, 64, 32, 8, {40000, 2100}, {64, 256, 2048}},
                              SelectCase{DType::kF16, 128, 32, 32, {30001}, {256, 1000}}}) {
    const KvCacheConfig config = cache_config_for(c);
    const int batch = config.max_batch;
    KvCache cache(config);
    const int group = c.q_heads / c.kv_heads;
    const size_t row = static_cast<size_t>(c.kv_heads) * c.head_dim;
    const std::vector<float> q_host = random_normal(rng, batch * c.q_heads * c.head_dim, 8.0f);
    std::normal_distribution<float> noise(0.0f, 0.5f);
    for (int s = 0; s < batch; ++s) {
      cache.add_sequence();
      auto keys = random_normal(rng, c.lens[s] * row, 8.0f), values = random_normal(rng, c.lens[s] * row, 1.0f);
      for (int t = 0; t < c.lens[s]; ++t) {
        const bool recent = t >= c.lens[s] - 300, early = t >= 5 && t <= 60;
        if (!recent && !early) continue;
        for (int h = 0; h < c.kv_heads; ++h)
          for (int i = 0; i < c.head_dim; ++i)
            keys[t * row + h * c.head_dim + i] =
                q_host[(static_cast<size_t>(s) * c.q_heads + h * group) * c.head_dim + i] + (recent ? 0.0f : noise(rng));
      }
      cache.append(s, keys.data(), values.data(), c.lens[s]);
    }
    DeviceKvCache device(config);
    device.upload(cache);
    DeviceArray<float> q(q_host), out;
    out.allocate(q_host.size());
    std::vector<float> reference_out(q_host.size());
    for (int budget : c.budgets) {
      SCOPED_TRACE(::testing::Message() << "seed " << seed << " shape " << case_name(c) << " budget " << budget);
      SelectorOptions options;
      options.token_budget = budget;
      TokenSelection expected;
      select_tokens_ref(options, cache.view(0), q_host.data(), c.q_heads, expected);
      decode_attention_ref(cache.view(0), q_host.data(), c.q_heads, &expected, reference_out.data());
      DecodePlan plan(plan_config_for(batch, c.q_heads, c.kv_heads, c.head_dim, c.dtype, config.max_tokens_per_seq, options));
      for (int repeat = 0; repeat < 2; ++repeat) {
        ASSERT_NO_FATAL_FAILURE(step_and_check_selection(plan, device.view(0), q.data, out, batch, expected));
        ASSERT_NO_FATAL_FAILURE(expect_attention_close(out.download(), reference_out, batch, c.q_heads, c.head_dim));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Steps, StepSkewedSelectionTest, ::testing::Values("cluster", "grid", "grid-unshared", "split"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(StepCurrentTokenSplitTest, SplitPathReadsTheCache) {
  SKIP_WITHOUT_GPU();
  ScopedEnv step{"ADAMAS_STEP", "split"};
  SelectorOptions options;
  options.token_budget = 256;
  PagedKvView view;
  view.num_kv_heads = 8;
  view.head_dim = 128;
  view.dtype = DType::kF16;
  view.page_size = kDefaultPageSize;
  view.batch = 1;
  DecodePlan plan(plan_config_for(1, 32, 8, 128, DType::kF16, 20000, options));
  EXPECT_FALSE(plan.step_reads_current(view));
}

// Cluster sizes that are not powers of two (the launch takes up to two blocks fewer than the plan's
// size where that fits every row in one wave at 2 blocks per SM): forced 5 and 7.
class ClusterSizeTest : public ::testing::TestWithParam<std::pair<int, SelectCase>> {
  ScopedEnv step_{"ADAMAS_STEP", "cluster"}, size_{"ADAMAS_STEP_CLUSTER", std::to_string(GetParam().first).c_str()};
};

TEST_P(ClusterSizeTest, MatchesReference) {
  SKIP_WITHOUT_GPU();
  check_against_reference(GetParam().second);
}

std::vector<std::pair<int, SelectCase>> cluster_size_cases() {
  std::vector<std::pair<int, SelectCase>> cases;
  for (int size : {5, 7}) {
    cases.push_back({size, {DType::kF16, 128, 8, 8, {5000, 37, 1, 900}, {1, 64, 256}}});
    cases.push_back({size, {DType::kBF16, 64, 8, 2, {9000, 4100}, {17, 256, 1000}}});
    cases.push_back({size, {DType::kF16, 128, 32, 32, {12000}, {256}, true}});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Sizes, ClusterSizeTest, ::testing::ValuesIn(cluster_size_cases()), [](const auto& info) {
  return "c" + std::to_string(info.param.first) + "_" + case_name(info.param.second);
});

TEST(KernelVariantsTest, RejectsUnknownValues) {
  SKIP_WITHOUT_GPU();
  for (const char* name :
       {"ADAMAS_ESTIMATE_VARIANT", "ADAMAS_DENSE_VARIANT", "ADAMAS_STEP", "ADAMAS_STEP_BLOCKS", "ADAMAS_STEP_CLUSTER",
        "ADAMAS_GRID_BLOCKS", "ADAMAS_GRID_PER_SM", "ADAMAS_DENSE_SPLITS", "ADAMAS_ASYM_PROBE", "ADAMAS_ASYM_CLUSTER", "ADAMAS_ESTIMATE_PROBE",
        "ADAMAS_STEP_PROBE", "ADAMAS_STEP_SCHEDULE", "ADAMAS_STEP_VERBOSE", "ADAMAS_STEP_TRACE", "ADAMAS_DENSE_TRACE",
        "ADAMAS_PDL", "ADAMAS_STEP_PDL", "ADAMAS_GRID_SHARE", "ADAMAS_STEP_GATHER", "ADAMAS_GRID_SKEW", "ADAMAS_STEP_APPEND"}) {
    SCOPED_TRACE(name);
    ScopedEnv bad{name, "fastest"};
    DecodePlanConfig config;
    EXPECT_THROW(DecodePlan{config}, Error);
  }
}

// Contexts past one chunk-offset tile (256 chunks of 4096), budgets up to 8K.
class LargeContextTest : public ::testing::TestWithParam<int> {};

TEST_P(LargeContextTest, AdamasAndOracleMatchReference) {
  SKIP_WITHOUT_GPU();
  const uint64_t seed = test_seed();
  std::mt19937_64 rng(seed);
  SelectCase c{DType::kF16, 64, 2, 1, {GetParam(), 3000}, {8192}};
  Fixture f = build(c, rng);
  DeviceArray<float> q(f.q), out;
  out.allocate(f.q.size());
  for (Policy policy : {Policy::kAdamas, Policy::kOracle, Policy::kQuest}) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " context " << GetParam() << " policy " << policy_name(policy));
    SelectorOptions options;
    options.policy = policy;
    options.token_budget = 8192;
    TokenSelection expected, actual;
    select_tokens_cpu(options, f.host->view(0), f.q.data(), c.q_heads, expected);  // same sets as the reference
    const DecodePlanConfig plan_config =
        plan_config_for(2, c.q_heads, c.kv_heads, c.head_dim, c.dtype, GetParam(), options);
    DecodePlan plan(plan_config);
    plan.step(f.device->view(0), q.data, out.data);
    plan.download_selection(2, actual);
    for (int s = 0; s < 2; ++s) {
      ASSERT_EQ(actual.dense[s], expected.dense[s]);
      if (expected.dense[s]) continue;
      std::vector<int32_t> want(expected.row(s, 0), expected.row(s, 0) + expected.count(s, 0));
      std::vector<int32_t> got(actual.row(s, 0), actual.row(s, 0) + actual.count(s, 0));
      ASSERT_EQ(got, want) << "sequence " << s;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Contexts, LargeContextTest, ::testing::Values(300000, 1100000));

// Dense splits (cuda_backend.cu): one wave of blocks, two per SM; the tensor-core kernel's GQA groups
// one per SM while two would leave a split fewer than 3072 tokens; ADAMAS_DENSE_SPLITS caps them.
TEST(DecodePlanTest, DenseSplitsFillOneWave) {
  SKIP_WITHOUT_GPU();
  int device = 0, sms = 0;
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  ASSERT_EQ(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), cudaSuccess);
  DecodePlanConfig config;
  config.num_q_heads = 32;
  config.num_kv_heads = 8;  // GQA 4: the tensor-core kernel
  config.max_context = 32768;
  EXPECT_EQ(DecodePlan{config}.attention_splits(), std::min(sms / 8, 128));
  config.max_context = 3072 * (2 * sms / 8);  // two per SM leave 3072 tokens a split
  EXPECT_EQ(DecodePlan{config}.attention_splits(), 2 * sms / 8);
  config.num_kv_heads = 32;  // MHA: the warp split, two per SM
  config.max_context = 32768;
  EXPECT_EQ(DecodePlan{config}.attention_splits(), std::min(2 * sms / 32, 128));
  config.max_context = 1000;  // at least 256 tokens a split
  EXPECT_EQ(DecodePlan{config}.attention_splits(), std::min(4, 2 * sms / 32));
  ScopedEnv cap{"ADAMAS_DENSE_SPLITS", "3"};
  config.max_context = 32768;
  EXPECT_EQ(DecodePlan{config}.attention_splits(), 3);
}

TEST(DecodePlanTest, RejectsUnsupportedShapes) {
  SKIP_WITHOUT_GPU();
  DecodePlanConfig config;
  config.num_q_heads = 48;
  config.num_kv_heads = 3;  // group 16
  EXPECT_THROW(DecodePlan{config}, Error);
  config.num_q_heads = 8;
  config.num_kv_heads = 8;
  config.head_dim = 32;
  EXPECT_THROW(DecodePlan{config}, Error);
}

}  // namespace
}  // namespace adamas::cuda::test
