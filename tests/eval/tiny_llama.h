// A tiny random-weight Llama checkpoint written by the tests (config.json, model.safetensors and
// optionally a sentencepiece tokenizer.model), and an independent straightforward forward pass
// (naive loops, double precision, whole sequence at once, no cache) to check the runtime against.
#pragma once

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model_test_support.h"

namespace adamas::test {

struct TinyLlamaSpec {
  int vocab_size = 64;
  int hidden_size = 32;
  int intermediate_size = 48;
  int num_layers = 3;
  int num_heads = 4;
  int num_kv_heads = 2;
  int head_dim = 8;
  bool tie_word_embeddings = false;
  double rope_theta = 10000.0;
  nlohmann::json rope_scaling = nullptr;  // e.g. {"rope_type":"linear","factor":4.0}
  int max_position_embeddings = 1024;
  double rms_norm_eps = 1e-5;
  float weight_scale = 0.35f;  // keeps activations O(1) so softmaxes are not saturated
  std::string dtype = "F32";   // stored type
  uint32_t seed = 7;

  nlohmann::json config_json() const {
    return {{"architectures", {"LlamaForCausalLM"}},
            {"model_type", "llama"},
            {"vocab_size", vocab_size},
            {"hidden_size", hidden_size},
            {"intermediate_size", intermediate_size},
            {"num_hidden_layers", num_layers},
            {"num_attention_heads", num_heads},
            {"num_key_value_heads", num_kv_heads},
            {"head_dim", head_dim},
            {"rms_norm_eps", rms_norm_eps},
            {"rope_theta", rope_theta},
            {"rope_scaling", rope_scaling},
            {"max_position_embeddings", max_position_embeddings},
            {"tie_word_embeddings", tie_word_embeddings},
            {"hidden_act", "silu"},
            {"bos_token_id", 1},
            {"eos_token_id", 2}};
  }
};

// Tensor values as stored (already rounded to the stored dtype), by HF name.
using TensorMap = std::map<std::string, std::vector<float>>;

inline TensorMap tiny_llama_tensors(const TinyLlamaSpec& s) {
  TensorMap tensors;
  uint32_t seed = s.seed * 1000;
  auto add = [&](const std::string& name, size_t count, float scale, float offset) {
    std::vector<float> values = random_values(count, seed++);
    for (float& v : values) v = round_trip(s.dtype, offset + scale * v);
    tensors[name] = values;
  };
  const size_t h = s.hidden_size, q = size_t(s.num_heads) * s.head_dim, kv = size_t(s.num_kv_heads) * s.head_dim;
  const size_t inter = s.intermediate_size;
  const float w = s.weight_scale;
  add("model.embed_tokens.weight", s.vocab_size * h, 1.0f, 0.0f);
  for (int layer = 0; layer < s.num_layers; ++layer) {
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    add(p + "self_attn.q_proj.weight", q * h, w, 0);
    add(p + "self_attn.k_proj.weight", kv * h, w, 0);
    add(p + "self_attn.v_proj.weight", kv * h, w, 0);
    add(p + "self_attn.o_proj.weight", h * q, w / 2, 0);
    add(p + "mlp.gate_proj.weight", inter * h, w, 0);
    add(p + "mlp.up_proj.weight", inter * h, w, 0);
    add(p + "mlp.down_proj.weight", h * inter, w / 2, 0);
    add(p + "input_layernorm.weight", h, 0.1f, 1.0f);
    add(p + "post_attention_layernorm.weight", h, 0.1f, 1.0f);
  }
  add("model.norm.weight", h, 0.1f, 1.0f);
  if (!s.tie_word_embeddings) add("lm_head.weight", s.vocab_size * h, w, 0);
  return tensors;
}

inline std::vector<int64_t> tiny_llama_shape(const TinyLlamaSpec& s, const std::string& name) {
  const int64_t h = s.hidden_size, q = int64_t(s.num_heads) * s.head_dim, kv = int64_t(s.num_kv_heads) * s.head_dim;
  const int64_t inter = s.intermediate_size;
  auto ends = [&](const char* suffix) { return name.size() >= strlen(suffix) && name.compare(name.size() - strlen(suffix), std::string::npos, suffix) == 0; };
  if (name == "model.embed_tokens.weight" || name == "lm_head.weight") return {s.vocab_size, h};
  if (ends("q_proj.weight")) return {q, h};
  if (ends("k_proj.weight") || ends("v_proj.weight")) return {kv, h};
  if (ends("o_proj.weight")) return {h, q};
  if (ends("gate_proj.weight") || ends("up_proj.weight")) return {inter, h};
  if (ends("down_proj.weight")) return {h, inter};
  return {h};
}

// Writes config.json and model.safetensors (and tokenizer.model when with_tokenizer) into `dir`.
// `edit` may change the tensor list (drop or reshape one) to build bad checkpoints.
inline TensorMap write_tiny_llama(const fs::path& dir, const TinyLlamaSpec& spec, bool with_tokenizer = false,
                                  const std::function<void(std::vector<StoredTensor>&)>& edit = {}) {
  const TensorMap tensors = tiny_llama_tensors(spec);
  std::vector<StoredTensor> stored;
  for (const auto& [name, values] : tensors)
    stored.push_back(stored_tensor(name, spec.dtype, tiny_llama_shape(spec, name), values));
  if (edit) edit(stored);
  write_bytes((dir / "model.safetensors").string(), safetensors_bytes(stored));
  write_text((dir / "config.json").string(), spec.config_json().dump(2));
  if (with_tokenizer) train_tiny_sentencepiece(dir, "tokenizer", spec.vocab_size);
  return tensors;
}

// inv_freq in double, from the definitions (transformers' rope init functions).
inline std::vector<double> reference_inv_freq(const TinyLlamaSpec& s) {
  const int half = s.head_dim / 2;
  std::vector<double> inv(half);
  for (int i = 0; i < half; ++i) inv[i] = 1.0 / std::pow(s.rope_theta, 2.0 * i / s.head_dim);
  if (s.rope_scaling.is_null()) return inv;
  const std::string type = s.rope_scaling.value("rope_type", s.rope_scaling.value("type", std::string("default")));
  const double factor = s.rope_scaling.value("factor", 1.0);
  if (type == "linear") {
    for (double& f : inv) f /= factor;
  } else if (type == "llama3") {
    const double low = s.rope_scaling.value("low_freq_factor", 1.0), high = s.rope_scaling.value("high_freq_factor", 4.0);
    const double old_ctx = s.rope_scaling.value("original_max_position_embeddings", 8192.0);
    for (double& f : inv) {
      const double wavelen = 2 * M_PI / f;
      if (wavelen < old_ctx / high) continue;                 // high frequency: unchanged
      if (wavelen > old_ctx / low) { f /= factor; continue; }  // low frequency: divided by factor
      const double smooth = (old_ctx / wavelen - low) / (high - low);
      f = (1 - smooth) * f / factor + smooth * f;
    }
  }
  return inv;
}

// logits [tokens.size()][vocab] of every position, full causal attention.
inline std::vector<std::vector<double>> reference_logits(const TinyLlamaSpec& s, const TensorMap& t,
                                                         const std::vector<int32_t>& tokens) {
  const int n = static_cast<int>(tokens.size()), h = s.hidden_size, d = s.head_dim;
  const int nq = s.num_heads, nkv = s.num_kv_heads, inter = s.intermediate_size;
  const std::vector<double> inv = reference_inv_freq(s);
  using Matrix = std::vector<std::vector<double>>;
  auto matmul = [](const Matrix& x, const std::vector<float>& w, int out, int in) {
    Matrix y(x.size(), std::vector<double>(out, 0.0));
    for (size_t r = 0; r < x.size(); ++r)
      for (int o = 0; o < out; ++o) {
        double acc = 0;
        for (int i = 0; i < in; ++i) acc += x[r][i] * w[size_t(o) * in + i];
        y[r][o] = acc;
      }
    return y;
  };
  auto norm = [&](const Matrix& x, const std::vector<float>& w) {
    Matrix y = x;
    for (auto& row : y) {
      double ss = 0;
      for (double v : row) ss += v * v;
      const double r = 1.0 / std::sqrt(ss / row.size() + s.rms_norm_eps);
      for (size_t i = 0; i < row.size(); ++i) row[i] = row[i] * r * w[i];
    }
    return y;
  };
  auto rope = [&](Matrix& x, int heads) {
    for (int p = 0; p < n; ++p)
      for (int hd = 0; hd < heads; ++hd) {
        double* v = x[p].data() + hd * d;
        for (int i = 0; i < d / 2; ++i) {
          const double a = p * inv[i], x1 = v[i], x2 = v[i + d / 2];
          v[i] = x1 * std::cos(a) - x2 * std::sin(a);
          v[i + d / 2] = x2 * std::cos(a) + x1 * std::sin(a);
        }
      }
  };
  Matrix x(n, std::vector<double>(h));
  const auto& embed = t.at("model.embed_tokens.weight");
  for (int p = 0; p < n; ++p)
    for (int i = 0; i < h; ++i) x[p][i] = embed[size_t(tokens[p]) * h + i];
  for (int layer = 0; layer < s.num_layers; ++layer) {
    const std::string pre = "model.layers." + std::to_string(layer) + ".";
    Matrix xn = norm(x, t.at(pre + "input_layernorm.weight"));
    Matrix q = matmul(xn, t.at(pre + "self_attn.q_proj.weight"), nq * d, h);
    Matrix k = matmul(xn, t.at(pre + "self_attn.k_proj.weight"), nkv * d, h);
    Matrix v = matmul(xn, t.at(pre + "self_attn.v_proj.weight"), nkv * d, h);
    rope(q, nq);
    rope(k, nkv);
    Matrix attn(n, std::vector<double>(nq * d, 0.0));
    for (int p = 0; p < n; ++p)
      for (int hq = 0; hq < nq; ++hq) {
        const int hk = hq / (nq / nkv);
        std::vector<double> score(p + 1);
        double mx = -1e300;
        for (int j = 0; j <= p; ++j) {
          double dot = 0;
          for (int c = 0; c < d; ++c) dot += q[p][hq * d + c] * k[j][hk * d + c];
          score[j] = dot / std::sqrt(double(d));
          mx = std::max(mx, score[j]);
        }
        double total = 0;
        for (double& sc : score) total += (sc = std::exp(sc - mx));
        for (int j = 0; j <= p; ++j)
          for (int c = 0; c < d; ++c) attn[p][hq * d + c] += score[j] / total * v[j][hk * d + c];
      }
    Matrix o = matmul(attn, t.at(pre + "self_attn.o_proj.weight"), h, nq * d);
    for (int p = 0; p < n; ++p)
      for (int i = 0; i < h; ++i) x[p][i] += o[p][i];
    xn = norm(x, t.at(pre + "post_attention_layernorm.weight"));
    Matrix g = matmul(xn, t.at(pre + "mlp.gate_proj.weight"), inter, h);
    Matrix u = matmul(xn, t.at(pre + "mlp.up_proj.weight"), inter, h);
    for (int p = 0; p < n; ++p)
      for (int i = 0; i < inter; ++i) g[p][i] = g[p][i] / (1 + std::exp(-g[p][i])) * u[p][i];
    Matrix down = matmul(g, t.at(pre + "mlp.down_proj.weight"), h, inter);
    for (int p = 0; p < n; ++p)
      for (int i = 0; i < h; ++i) x[p][i] += down[p][i];
  }
  const Matrix xn = norm(x, t.at("model.norm.weight"));
  const auto& head = t.at(s.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight");
  return matmul(xn, head, s.vocab_size, h);
}

// max |a - b| over the row divided by max |b| over the row: one tolerance for rows of any scale.
inline double row_relative_error(const float* a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return diff / std::max(scale, 1e-30);
}

}  // namespace adamas::test
