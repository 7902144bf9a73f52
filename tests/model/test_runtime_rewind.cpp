// Sharing one prefill across decode configurations (DecoderRuntime::rewind, set_selector) on the
// CPU runtime: rewinding then decoding equals a fresh prefill then decoding, bit for bit, for every
// policy (Quest page bounds of a partially kept page and a calibration included); switching the
// selector equals a runtime built with it; KvCache::truncate restores the page bounds exactly.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "adamas/error.h"
#include "adamas/kv_cache.h"
#include "adamas/model/checkpoint.h"
#include "adamas/model/llama_model.h"
#include "adamas/model/weight_source.h"
#include "eval/tiny_llama.h"

namespace adamas::test {
namespace {

struct TinyModel {
  TinyLlamaSpec spec;
  TempDir dir;
  LlamaModel model;
  TinyModel() {
    spec.num_layers = 3;
    write_tiny_llama(dir.path(), spec);
    const ModelConfig config = parse_hf_config(spec.config_json().dump(), "config.json");
    LoadOptions load;
    load.precision = WeightPrecision::kF32;
    model = LlamaModel::load(config, *open_safetensors_dir(dir.path().string()), load);
  }
};

RuntimeOptions small_options(Policy policy) {
  RuntimeOptions options;
  options.selector.policy = policy;
  options.selector.token_budget = 8;
  options.selector.thresholds = {-0.5f, 0.0f, 0.5f};  // the random model's scale
  options.dense_layers = 1;
  options.page_size = 4;
  options.kv_dtype = DType::kF16;  // rounding in the cache: the bounds must come from stored keys
  options.max_context = 96;
  // Chunk boundaries at 18 and 36: a prefix that ends on one (18, a partial page) is prefilled by
  // the same sgemm calls as in the longer prompt, so bit-exactness does not hinge on BLAS
  // results being independent of the row count.
  options.prefill_chunk = 18;
  return options;
}

std::vector<int32_t> random_tokens(std::mt19937& rng, int count, int vocab) {
  std::vector<int32_t> tokens(count);
  for (auto& t : tokens) t = static_cast<int32_t>(rng() % vocab);
  return tokens;
}

// Logits of decoding `answer` token by token.
std::vector<float> decode_all(DecoderRuntime& runtime, const std::vector<int32_t>& answer) {
  const size_t vocab = static_cast<size_t>(runtime.config().vocab_size);
  std::vector<float> logits(answer.size() * vocab);
  for (size_t i = 0; i < answer.size(); ++i) runtime.decode(answer[i], logits.data() + i * vocab);
  return logits;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class RewindTest : public ::testing::TestWithParam<Policy> {};

TEST_P(RewindTest, RewindThenDecodeEqualsFreshPrefill) {
  TinyModel m;
  const uint32_t seed = std::random_device{}() % 100000;
  SCOPED_TRACE("seed=" + std::to_string(seed) + " policy=" + policy_name(GetParam()));
  std::mt19937 rng(seed);
  const RuntimeOptions options = small_options(GetParam());
  const std::vector<int32_t> prompt = random_tokens(rng, 37, m.spec.vocab_size);  // 37: a partial last page
  const std::vector<int32_t> answer = random_tokens(rng, 20, m.spec.vocab_size);
  const std::vector<int32_t> detour = random_tokens(rng, 23, m.spec.vocab_size);

  auto fresh = make_cpu_runtime(m.model, options);
  fresh->prefill(prompt, nullptr);
  const std::vector<float> expected = decode_all(*fresh, answer);

  auto shared = make_cpu_runtime(m.model, options);
  shared->prefill(prompt, nullptr);
  decode_all(*shared, detour);  // fills the partial page and more pages
  shared->rewind(static_cast<int>(prompt.size()));
  EXPECT_EQ(shared->position(), 37);
  EXPECT_TRUE(same_bits(decode_all(*shared, answer), expected));

  // Rewinding into the prompt equals a prefill of the kept prefix.
  shared->rewind(18);
  auto prefix = make_cpu_runtime(m.model, options);
  prefix->prefill(std::vector<int32_t>(prompt.begin(), prompt.begin() + 18), nullptr);
  EXPECT_TRUE(same_bits(decode_all(*shared, answer), decode_all(*prefix, answer)));

  EXPECT_THROW(shared->rewind(shared->position() + 1), Error);
  EXPECT_THROW(shared->rewind(-1), Error);
  shared->rewind(0);
  EXPECT_EQ(shared->position(), 0);
}

INSTANTIATE_TEST_SUITE_P(Policies, RewindTest,
                         ::testing::Values(Policy::kFull, Policy::kStreaming, Policy::kQuest, Policy::kAdamas, Policy::kOracle));

TEST(Rewind, RecalibratesLikeAFreshPrefill) {
  TinyModel m;
  std::mt19937 rng(11);
  RuntimeOptions options = small_options(Policy::kAdamas);
  options.calibrate_after_tokens = 24;
  options.prefill_chunk = 13;  // prefixes of 26 and 13 tokens end on chunk boundaries (see small_options)
  const std::vector<int32_t> prompt = random_tokens(rng, 33, m.spec.vocab_size);
  const std::vector<int32_t> answer = random_tokens(rng, 12, m.spec.vocab_size);
  for (const int length : {33, 26, 13}) {  // the calibration's own tokens, fewer, below the threshold
    SCOPED_TRACE("rewind to " + std::to_string(length));
    auto shared = make_cpu_runtime(m.model, options);
    shared->prefill(prompt, nullptr);
    decode_all(*shared, answer);
    shared->rewind(length);
    auto fresh = make_cpu_runtime(m.model, options);
    fresh->prefill(std::vector<int32_t>(prompt.begin(), prompt.begin() + length), nullptr);
    for (int layer = 0; layer < m.spec.num_layers; ++layer)
      EXPECT_EQ(shared->code_book(layer).thresholds, fresh->code_book(layer).thresholds) << "layer " << layer;
    EXPECT_TRUE(same_bits(decode_all(*shared, answer), decode_all(*fresh, answer)));
  }
}

TEST(SetSelector, EqualsARuntimeBuiltWithIt) {
  TinyModel m;
  std::mt19937 rng(5);
  const std::vector<int32_t> prompt = random_tokens(rng, 41, m.spec.vocab_size);
  const std::vector<int32_t> answer = random_tokens(rng, 15, m.spec.vocab_size);
  auto shared = make_cpu_runtime(m.model, small_options(Policy::kAdamas));
  shared->prefill(prompt, nullptr);
  for (const Policy policy : {Policy::kQuest, Policy::kFull, Policy::kStreaming, Policy::kOracle, Policy::kAdamas}) {
    for (const int budget : {4, 8, 64}) {
      SCOPED_TRACE(std::string(policy_name(policy)) + " budget " + std::to_string(budget));
      RuntimeOptions options = small_options(policy);
      options.selector.token_budget = budget;
      shared->rewind(static_cast<int>(prompt.size()));
      shared->set_selector(options.selector);
      EXPECT_EQ(shared->options().selector.policy, policy);
      EXPECT_EQ(shared->options().selector.token_budget, budget);
      const std::vector<float> got = decode_all(*shared, answer);
      auto fresh = make_cpu_runtime(m.model, options);
      fresh->prefill(prompt, nullptr);
      const std::vector<float> expected = decode_all(*fresh, answer);
      EXPECT_TRUE(same_bits(got, expected));
      EXPECT_EQ(shared->last_step().kv_bytes_read, fresh->last_step().kv_bytes_read);
    }
  }
  SelectorOptions bad = shared->options().selector;
  bad.token_budget = 0;
  EXPECT_THROW(shared->set_selector(bad), Error);
  bad = shared->options().selector;
  bad.thresholds = {-1.0f, 0.0f, 1.0f};  // the cached codes were written with other thresholds
  EXPECT_THROW(shared->set_selector(bad), Error);
  EXPECT_EQ(shared->options().selector.token_budget, 64);  // a rejected switch changes nothing
}

TEST(KvCacheTruncate, RestoresPageBoundsAndPages) {
  std::mt19937 rng(3);
  KvCacheConfig config;
  config.num_layers = 2;
  config.num_kv_heads = 2;
  config.head_dim = 8;
  config.page_size = 4;
  config.dtype = DType::kBF16;
  config.max_tokens_per_seq = 64;
  config.code_thresholds = {-0.5f, 0.0f, 0.5f};
  const size_t row = static_cast<size_t>(config.num_kv_heads) * config.head_dim;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> keys(40 * row), values(40 * row);
  for (auto& x : keys) x = normal(rng);
  for (auto& x : values) x = normal(rng);
  for (const int length : {0, 1, 6, 8, 21}) {
    SCOPED_TRACE("length " + std::to_string(length));
    KvCache shortened(config), direct(config);
    shortened.add_sequence();
    direct.add_sequence();
    const int first = shortened.reserve_tokens(0, 40);
    for (int layer = 0; layer < config.num_layers; ++layer) shortened.write_tokens(layer, 0, first, 40, keys.data(), values.data());
    shortened.truncate(0, length);
    direct.reserve_tokens(0, length);
    for (int layer = 0; layer < config.num_layers; ++layer) direct.write_tokens(layer, 0, 0, length, keys.data(), values.data());
    ASSERT_EQ(shortened.seq_len(0), length);
    for (int layer = 0; layer < config.num_layers; ++layer) {
      const PagedKvView a = shortened.view(layer), b = direct.view(layer);
      for (int page = 0; page < (length + config.page_size - 1) / config.page_size; ++page)
        for (int h = 0; h < config.num_kv_heads; ++h) {
          EXPECT_EQ(std::memcmp(a.page_min + a.page_meta_offset(0, h, page), b.page_min + b.page_meta_offset(0, h, page),
                                config.head_dim * sizeof(float)), 0) << "layer " << layer << " page " << page;
          EXPECT_EQ(std::memcmp(a.page_max + a.page_meta_offset(0, h, page), b.page_max + b.page_meta_offset(0, h, page),
                                config.head_dim * sizeof(float)), 0) << "layer " << layer << " page " << page;
        }
    }
    // The freed pages serve the sequence again: it can grow back to the full 64 tokens.
    EXPECT_NO_THROW(shortened.reserve_tokens(0, 64 - length));
  }
  KvCache cache(config);
  cache.add_sequence();
  cache.reserve_tokens(0, 5);
  EXPECT_THROW(cache.truncate(0, 6), Error);
  EXPECT_THROW(cache.truncate(1, 0), Error);
}

}  // namespace
}  // namespace adamas::test
