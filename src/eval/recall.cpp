#include "adamas/eval/recall.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "adamas/error.h"

namespace adamas {

namespace {

// Scores every (policy, budget) selection of each layer as the decode steps go by.
class RecallObserver : public AttentionObserver {
 public:
  RecallObserver(const RecallOptions& options, const ModelConfig& config) : options_(options) {
    layers_ = static_cast<int>(config.num_layers);
    kv_heads_ = static_cast<int>(config.num_kv_heads);
    cells_.resize(options.policies.size() * options.budgets.size() * layers_ * kv_heads_);
    for (size_t p = 0; p < options.policies.size(); ++p)
      for (size_t b = 0; b < options.budgets.size(); ++b)
        for (int layer = 0; layer < layers_; ++layer)
          for (int h = 0; h < kv_heads_; ++h) {
            RecallCell& cell = this->cell(p, b, layer, h);
            cell.policy = options.policies[p];
            cell.budget = options.budgets[b];
            cell.layer = layer;
            cell.kv_head = h;
          }
  }

  bool scoring = false;

  void on_decode_attention(int layer, const PagedKvView& view, const float* q, int num_q_heads) override {
    if (!scoring) return;
    const int n = view.seq_lens[0], d = view.head_dim, group = num_q_heads / view.num_kv_heads;
    // True attention probabilities of every query head over all n cached tokens.
    probabilities_.assign(static_cast<size_t>(num_q_heads) * n, 0.0);
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));
#pragma omp parallel for schedule(static)
    for (int h = 0; h < num_q_heads; ++h) {
      double* p = probabilities_.data() + static_cast<size_t>(h) * n;
      const float* query = q + static_cast<size_t>(h) * d;
      double max_score = -std::numeric_limits<double>::infinity();
      for (int t = 0; t < n; ++t) {
        const size_t offset = view.kv_offset(0, h / group, t);
        double dot = 0;
        for (int c = 0; c < d; ++c) dot += static_cast<double>(query[c]) * load_as_f32(view.keys, view.dtype, offset + c);
        p[t] = dot * scale;
        max_score = std::max(max_score, p[t]);
      }
      double total = 0;
      for (int t = 0; t < n; ++t) total += (p[t] = std::exp(p[t] - max_score));
      for (int t = 0; t < n; ++t) p[t] /= total;
    }
    for (size_t b = 0; b < options_.budgets.size(); ++b) {
      const int budget = options_.budgets[b];
      if (n <= budget) continue;  // every policy attends densely
      SelectorOptions oracle_options = options_.selector;
      oracle_options.policy = Policy::kOracle;
      oracle_options.token_budget = budget;
      select_tokens_cpu(oracle_options, view, q, num_q_heads, oracle_);
      for (size_t p = 0; p < options_.policies.size(); ++p) {
        SelectorOptions selector = options_.selector;
        selector.policy = options_.policies[p];
        selector.token_budget = budget;
        const TokenSelection* selection = &oracle_;
        if (selector.policy != Policy::kOracle) {
          select_tokens_cpu(selector, view, q, num_q_heads, selection_);
          selection = &selection_;
        }
        for (int kv_head = 0; kv_head < view.num_kv_heads; ++kv_head) {
          double mass = 0, recall = 0;
          for (int g = 0; g < group; ++g) {
            const int h = kv_head * group + g;
            const int row = selection->per_query_head ? h : kv_head;
            const double* probs = probabilities_.data() + static_cast<size_t>(h) * n;
            if (selection->dense[0]) {  // full attention: all the mass, the oracle's set included
              mass += 1.0;
              recall += 1.0;
              continue;
            }
            const int32_t* chosen = selection->row(0, row);
            const int count = selection->count(0, row);
            for (int i = 0; i < count; ++i) mass += probs[chosen[i]];
            const int32_t* best = oracle_.row(0, row);
            const int best_count = oracle_.count(0, row);
            // Both rows are ascending: count the intersection by merging.
            int common = 0;
            for (int i = 0, j = 0; i < count && j < best_count;) {
              if (chosen[i] == best[j]) {
                ++common, ++i, ++j;
              } else if (chosen[i] < best[j]) {
                ++i;
              } else {
                ++j;
              }
            }
            recall += best_count ? static_cast<double>(common) / best_count : 1.0;
          }
          RecallCell& c = cell(p, b, layer, kv_head);
          c.mass += mass / group;
          c.recall += recall / group;
          c.steps += 1;
        }
      }
    }
  }

  RecallCell& cell(size_t p, size_t b, int layer, int kv_head) {
    return cells_[((p * options_.budgets.size() + b) * layers_ + layer) * kv_heads_ + kv_head];
  }
  std::vector<RecallCell>& cells() { return cells_; }

 private:
  RecallOptions options_;
  int layers_ = 0, kv_heads_ = 0;
  std::vector<RecallCell> cells_;
  std::vector<double> probabilities_;
  TokenSelection selection_, oracle_;
};

}  // namespace

RecallResult evaluate_recall(DecoderRuntime& runtime, const std::vector<int32_t>& tokens, const RecallOptions& options,
                             const ProgressFn& progress) {
  ADAMAS_CHECK(!options.budgets.empty() && !options.policies.empty(), "recall: need at least one policy and budget");
  for (const int budget : options.budgets) ADAMAS_CHECK(budget >= 1, "recall: budget must be >= 1, got ", budget);
  ADAMAS_CHECK(options.stride >= 1, "recall: stride must be >= 1, got ", options.stride);
  const int max_budget = *std::max_element(options.budgets.begin(), options.budgets.end());
  const int prefill = options.prefill_tokens > 0 ? options.prefill_tokens : max_budget;
  const int count = static_cast<int>(tokens.size());
  ADAMAS_CHECK(count > prefill + 1, "recall: ", count, " tokens; need more than the ", prefill,
               " prefilled ones (the largest budget) to have steps to score");
  ADAMAS_CHECK(count <= runtime.options().max_context, "recall: ", count, " tokens exceed the runtime's max context ",
               runtime.options().max_context);

  RecallObserver observer(options, runtime.config());
  runtime.reset();
  runtime.set_observer(&observer);
  RecallResult result;
  try {
    runtime.prefill(std::vector<int32_t>(tokens.begin(), tokens.begin() + prefill), nullptr);
    for (int i = prefill; i < count; ++i) {
      observer.scoring = (i - prefill) % options.stride == 0;
      result.scored_steps += observer.scoring;
      runtime.decode(tokens[i], nullptr);
      if (progress && ((i - prefill + 1) % 16 == 0 || i + 1 == count)) progress(i - prefill + 1, count - prefill);
    }
  } catch (...) {
    runtime.set_observer(nullptr);
    throw;
  }
  runtime.set_observer(nullptr);

  const int layers = static_cast<int>(runtime.config().num_layers);
  for (size_t p = 0; p < options.policies.size(); ++p)
    for (size_t b = 0; b < options.budgets.size(); ++b) {
      RecallSummary summary;
      summary.policy = options.policies[p];
      summary.budget = options.budgets[b];
      summary.min_layer_mass = std::numeric_limits<double>::infinity();
      int cells = 0;
      for (int layer = 0; layer < layers; ++layer) {
        double layer_mass = 0;
        int heads = 0;
        for (int h = 0; h < runtime.config().num_kv_heads; ++h) {
          RecallCell& c = observer.cell(p, b, layer, h);
          if (c.steps == 0) continue;
          c.mass /= c.steps;
          c.recall /= c.steps;
          summary.mass += c.mass;
          summary.recall += c.recall;
          layer_mass += c.mass;
          ++heads, ++cells;
        }
        if (heads) summary.min_layer_mass = std::min(summary.min_layer_mass, layer_mass / heads);
      }
      if (cells) {
        summary.mass /= cells;
        summary.recall /= cells;
      } else {
        summary.mass = summary.recall = summary.min_layer_mass = std::nan("");
      }
      result.summary.push_back(summary);
    }
  result.cells = std::move(observer.cells());
  return result;
}

}  // namespace adamas
