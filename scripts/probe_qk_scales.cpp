// Scale of the Hadamard-rotated post-RoPE queries and keys of a model, per layer: quantiles of
// |coordinate|, the share of coordinates outside the paper's thresholds (|x| > 10), and where the
// equal-mass thresholds land. Explains how the paper's (-10, 0, 10) codes behave on a model.
// Build (after the library, build-eval/libadamas.a):
//   g++ -std=c++20 -O2 -fopenmp -Iinclude scripts/probe_qk_scales.cpp -o /tmp/probe_qk_scales \
//       build-eval/libadamas.a $(pkg-config --libs sentencepiece) -lopenblas
// Run: /tmp/probe_qk_scales models/adamas-tiny-8k data/validation/sotu_validation.txt 2048
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "adamas/dtype.h"
#include "adamas/eval/eval_common.h"
#include "adamas/hadamard.h"
#include "adamas/model/checkpoint.h"
#include "adamas/model/llama_model.h"

using namespace adamas;

struct QueryCollector : AttentionObserver {
  std::vector<std::vector<float>> q;  // per layer, rotated coordinates
  int head_dim = 0;
  void on_decode_attention(int layer, const PagedKvView&, const float* query, int num_q_heads) override {
    if (static_cast<int>(q.size()) <= layer) q.resize(layer + 1);
    for (int h = 0; h < num_q_heads; ++h) {
      std::vector<float> x(query + h * head_dim, query + (h + 1) * head_dim);
      hadamard_transform(x.data(), head_dim);
      q[layer].insert(q[layer].end(), x.begin(), x.end());
    }
  }
};

static double quantile(std::vector<float> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1)))];
}

int main(int argc, char** argv) {
  if (argc < 4) return 2;
  omp_set_num_threads(1);
  Checkpoint ck = open_checkpoint(argv[1]);
  LlamaModel model = LlamaModel::load(ck, LoadOptions{});
  const std::vector<int32_t> tokens = tokenize_for_eval(*ck.tokenizer, read_text_file(argv[2]), std::stoi(argv[3]), 2, argv[2]);
  RuntimeOptions options;
  options.selector.policy = Policy::kFull;
  options.max_context = static_cast<int>(tokens.size()) + 8;
  auto runtime = make_cpu_runtime(model, options);
  QueryCollector collector;
  collector.head_dim = static_cast<int>(model.config().head_dim);
  runtime->set_observer(&collector);
  const int d = collector.head_dim;
  // Dense prefill of all but the last 64 tokens, then 64 decode steps whose queries are collected.
  const size_t split = tokens.size() - 64;
  runtime->prefill(std::vector<int32_t>(tokens.begin(), tokens.begin() + split), nullptr);
  for (size_t i = split; i < tokens.size(); ++i) runtime->decode(tokens[i], nullptr);
  std::printf("layer  |k'| q50 q90 q99  share|k'|>10  equal-mass t0,t1,t2 |  |q'| q50 q90 q99  share|q'|>10\n");
  for (int layer = 0; layer < static_cast<int>(model.config().num_layers); ++layer) {
    // The keys: read from the layer's cache view during one more decode step.
    std::vector<float> keys;
    struct KeyGrab : AttentionObserver {
      std::vector<float>* out; int layer, d;
      void on_decode_attention(int l, const PagedKvView& view, const float*, int) override {
        if (l != layer || !out->empty()) return;
        const int n = view.seq_lens[0];
        for (int t = 0; t < n; ++t)
          for (int h = 0; h < view.num_kv_heads; ++h) {
            std::vector<float> x(d);
            for (int c = 0; c < d; ++c) x[c] = load_as_f32(view.keys, view.dtype, view.kv_offset(0, h, t) + c);
            hadamard_transform(x.data(), d);
            out->insert(out->end(), x.begin(), x.end());
          }
      }
    } grab;
    grab.out = &keys; grab.layer = layer; grab.d = d;
    runtime->set_observer(&grab);
    runtime->decode(tokens.back(), nullptr);  // one more step to read the cache of this layer
    std::vector<float> ka(keys.size()), qa(collector.q[layer].size());
    std::transform(keys.begin(), keys.end(), ka.begin(), [](float x) { return std::fabs(x); });
    std::transform(collector.q[layer].begin(), collector.q[layer].end(), qa.begin(), [](float x) { return std::fabs(x); });
    const double kout = std::count_if(ka.begin(), ka.end(), [](float x) { return x > 10; }) / double(ka.size());
    const double qout = std::count_if(qa.begin(), qa.end(), [](float x) { return x > 10; }) / double(qa.size());
    std::printf("%5d  %5.2f %5.2f %5.2f  %10.3f   %6.2f,%5.2f,%5.2f  |  %5.2f %5.2f %5.2f  %10.3f\n", layer,
                quantile(ka, .5), quantile(ka, .9), quantile(ka, .99), kout, quantile(keys, .25), quantile(keys, .5),
                quantile(keys, .75), quantile(qa, .5), quantile(qa, .9), quantile(qa, .99), qout);
  }
  return 0;
}
