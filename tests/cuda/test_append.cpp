// The append kernel against KvCache::write_tokens: K/V, key codes and page min/max bit for bit,
// over ragged prefills followed by single-token decode appends.
#include <cstring>

#include "cuda_test_support.h"

namespace adamas::cuda::test {
namespace {

struct AppendCase {
  DType dtype;
  int head_dim, kv_heads, page_size;
};

class AppendTest : public ::testing::TestWithParam<AppendCase> {};

TEST_P(AppendTest, MatchesCpuCacheBitForBit) {
  SKIP_WITHOUT_GPU();
  const AppendCase c = GetParam();
  const uint64_t seed = test_seed();
  std::mt19937_64 rng(seed);
  SCOPED_TRACE(::testing::Message() << "seed " << seed << " dtype " << dtype_name(c.dtype) << " d " << c.head_dim
                                    << " kv_heads " << c.kv_heads << " page " << c.page_size);
  KvCacheConfig config;
  config.num_kv_heads = c.kv_heads;
  config.head_dim = c.head_dim;
  config.page_size = c.page_size;
  config.dtype = c.dtype;
  config.max_batch = 3;
  config.max_tokens_per_seq = 700;
  config.code_thresholds = Thresholds{-4.0f, 0.0f, 4.0f};
  KvCache host(config);
  const int row = c.kv_heads * c.head_dim;
  std::uniform_int_distribution<int> length(1, 600);
  std::vector<int> prefill = {length(rng), length(rng), c.page_size};  // one prefill ends on a page boundary
  const int decode_steps = c.page_size + 3;                              // crosses a page boundary
  std::vector<std::vector<float>> prefill_keys, prefill_values, step_keys, step_values;
  for (int s = 0; s < 3; ++s) {
    host.add_sequence();
    prefill_keys.push_back(random_normal(rng, static_cast<size_t>(prefill[s]) * row, 6.0f));
    prefill_values.push_back(random_normal(rng, static_cast<size_t>(prefill[s]) * row, 1.0f));
    host.append(s, prefill_keys[s].data(), prefill_values[s].data(), prefill[s]);
  }
  for (int step = 0; step < decode_steps; ++step) {
    step_keys.push_back(random_normal(rng, 3 * static_cast<size_t>(row), 6.0f));
    step_values.push_back(random_normal(rng, 3 * static_cast<size_t>(row), 1.0f));
    for (int s = 0; s < 3; ++s)
      host.append(s, step_keys[step].data() + s * row, step_values[step].data() + s * row, 1);
  }

  DeviceKvCache device(config);
  const PagedKvView host_view = host.view(0);
  std::vector<int32_t> table(host_view.page_table, host_view.page_table + 3 * host_view.max_pages_per_seq);
  std::vector<int32_t> lens(host_view.seq_lens, host_view.seq_lens + 3);
  device.set_page_table(table, lens);
  for (int s = 0; s < 3; ++s) {
    DeviceArray<float> keys(prefill_keys[s]), values(prefill_values[s]);
    DeviceArray<int32_t> first(std::vector<int32_t>{0});
    device.append(0, keys.data, values.data, first.data, s, 1, prefill[s]);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
  for (int step = 0; step < decode_steps; ++step) {
    DeviceArray<float> keys(step_keys[step]), values(step_values[step]);
    DeviceArray<int32_t> first(std::vector<int32_t>{prefill[0] + step, prefill[1] + step, prefill[2] + step});
    device.append(0, keys.data, values.data, first.data, 0, 3, 1);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
  std::vector<uint8_t> keys, values, codes;
  std::vector<float> page_min, page_max;
  device.download(0, keys, values, codes, page_min, page_max);

  const size_t element = dtype_size_bytes(c.dtype);
  int mismatches = 0;
  for (int s = 0; s < 3; ++s) {
    for (int t = 0; t < lens[s]; ++t) {
      for (int h = 0; h < c.kv_heads; ++h) {
        const size_t offset = host_view.kv_offset(s, h, t);
        const auto* hk = static_cast<const uint8_t*>(host_view.keys) + offset * element;
        const auto* hv = static_cast<const uint8_t*>(host_view.values) + offset * element;
        mismatches += std::memcmp(hk, keys.data() + offset * element, c.head_dim * element) != 0;
        mismatches += std::memcmp(hv, values.data() + offset * element, c.head_dim * element) != 0;
        const int code_mismatch = std::memcmp(host_view.key_codes + offset / 4, codes.data() + offset / 4, c.head_dim / 4);
        if (code_mismatch && mismatches < 5) ADD_FAILURE() << "key code differs at seq " << s << " token " << t << " head " << h;
        mismatches += code_mismatch != 0;
        if (t % c.page_size == 0) {
          const size_t meta = host_view.page_meta_offset(s, h, t / c.page_size);
          mismatches += std::memcmp(host_view.page_min + meta, page_min.data() + meta, c.head_dim * 4) != 0;
          mismatches += std::memcmp(host_view.page_max + meta, page_max.data() + meta, c.head_dim * 4) != 0;
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

INSTANTIATE_TEST_SUITE_P(Shapes, AppendTest,
                         ::testing::Values(AppendCase{DType::kF16, 128, 2, 16}, AppendCase{DType::kBF16, 128, 1, 16},
                                           AppendCase{DType::kF32, 128, 2, 16}, AppendCase{DType::kF16, 64, 3, 16},
                                           AppendCase{DType::kF16, 256, 2, 16}, AppendCase{DType::kBF16, 64, 1, 7},
                                           AppendCase{DType::kF32, 256, 1, 32}, AppendCase{DType::kF16, 128, 4, 1}),
                         [](const auto& info) {
                           const AppendCase& c = info.param;
                           return dtype_name(c.dtype) + "_d" + std::to_string(c.head_dim) + "_h" +
                                  std::to_string(c.kv_heads) + "_p" + std::to_string(c.page_size);
                         });

}  // namespace
}  // namespace adamas::cuda::test
