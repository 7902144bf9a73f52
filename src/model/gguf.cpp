#include "adamas/model/gguf.h"

#include <algorithm>
#include <map>
#include <regex>

#include "adamas/error.h"
#include "model/gguf_weights.h"

namespace adamas {

namespace {

// Per-layer tensors: llama.cpp suffix after "blk.N." -> Hugging Face suffix after "model.layers.N.".
const std::map<std::string, std::string>& layer_name_map() {
  static const std::map<std::string, std::string> names = {
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
      {"attn_norm.weight", "input_layernorm.weight"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
  };
  return names;
}

struct GgufTensorEntry {
  const GgufTensorInfo* info;
  std::vector<int64_t> hf_shape;  // reversed ne
  int64_t qk_heads;               // > 0: rows to un-permute with this many heads
};

class GgufWeightSource : public WeightSource {
 public:
  GgufWeightSource(std::shared_ptr<const GgufFile> file, const ModelConfig& config) : file_(std::move(file)) {
    for (const GgufTensorInfo& info : file_->tensors()) {
      const std::string hf_name = gguf_to_hf_tensor_name(info.name);
      if (hf_name.empty()) continue;  // rope_freqs and friends: no Hugging Face counterpart
      GgufTensorEntry entry{&info, std::vector<int64_t>(info.ne.rbegin(), info.ne.rend()), 0};
      const bool is_q = hf_name.ends_with("self_attn.q_proj.weight");
      const bool is_k = hf_name.ends_with("self_attn.k_proj.weight");
      if (is_q || is_k) {
        const int64_t heads = is_q ? config.num_heads : config.num_kv_heads;
        ADAMAS_CHECK(heads <= (int64_t{1} << 32) && config.head_dim <= (int64_t{1} << 20), file_->source_name(),
                     ": ", heads, " heads of head_dim ", config.head_dim, " is implausibly large");
        const int64_t expected_rows = heads * config.head_dim;
        ADAMAS_CHECK(info.ne.size() == 2 && info.ne[1] == expected_rows && info.ne[0] == config.hidden_size,
                     file_->source_name(), ": tensor '", info.name, "' has ne ", shape_text(info.ne),
                     ", expected [", config.hidden_size, ", ", expected_rows, "] (", heads, " heads x head_dim ",
                     config.head_dim, ")");
        ADAMAS_CHECK(config.head_dim % 2 == 0, file_->source_name(), ": head_dim ", config.head_dim,
                     " is odd, expected even for RoPE");
        entry.qk_heads = heads;
      }
      entries_.emplace(hf_name, std::move(entry));
    }
  }

  bool has_tensor(const std::string& name) const override { return entries_.count(name) != 0; }

  std::vector<std::string> tensor_names() const override {
    std::vector<std::string> names;
    names.reserve(entries_.size());
    for (const auto& [name, entry] : entries_) names.push_back(name);
    return names;
  }

  std::vector<int64_t> tensor_shape(const std::string& name) const override { return entry(name).hf_shape; }

  std::vector<float> load_f32(const std::string& name) const override {
    const GgufTensorEntry& e = entry(name);
    const GgufTensorInfo& info = *e.info;
    ADAMAS_CHECK(info.type->dequantizable, file_->source_name(), ": tensor '", info.name, "' has stored type ",
                 info.type->name,
                 ", which cannot be dequantized (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, "
                 "Q4_K, Q5_K, Q6_K, Q8_K)");
    std::vector<float> values(static_cast<size_t>(info.n_elements));
    const int64_t row_len = info.ne[0];
    const int64_t n_rows = info.n_elements / row_len;
    const int64_t row_bytes = ggml_row_bytes(*info.type, row_len);
    const uint8_t* data = file_->tensor_data(info);
#pragma omp parallel for schedule(static) if (n_rows >= 64)
    for (int64_t row = 0; row < n_rows; ++row) {
      dequantize_ref(info.type->type, data + row * row_bytes, row_len, values.data() + row * row_len);
    }
    if (e.qk_heads > 0) return unpermute_qk_rows(values, e.qk_heads, row_len);
    return values;
  }

  std::string stored_type(const std::string& name) const override { return entry(name).info->type->name; }

 private:
  static std::string shape_text(const std::vector<int64_t>& ne) {
    std::string text = "[";
    for (size_t i = 0; i < ne.size(); ++i) text += (i ? ", " : "") + std::to_string(ne[i]);
    return text + "]";
  }

  const GgufTensorEntry& entry(const std::string& name) const {
    const auto it = entries_.find(name);
    ADAMAS_CHECK(it != entries_.end(), file_->source_name(), ": no tensor named '", name, "'");
    return it->second;
  }

  std::shared_ptr<const GgufFile> file_;
  std::map<std::string, GgufTensorEntry> entries_;
};

std::vector<float> reorder_qk_rows(const std::vector<float>& rows, int64_t n_heads, int64_t row_len, bool to_hf) {
  ADAMAS_CHECK(n_heads > 0 && row_len > 0 && rows.size() % static_cast<size_t>(n_heads * row_len) == 0,
               "q/k permutation: ", rows.size(), " values do not form ", n_heads, " heads of rows of ", row_len);
  const int64_t head_dim = static_cast<int64_t>(rows.size()) / row_len / n_heads;
  ADAMAS_CHECK(head_dim % 2 == 0, "q/k permutation: head_dim ", head_dim, " is odd, expected even");
  const int64_t half = head_dim / 2;
  std::vector<float> out(rows.size());
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t gguf_row = h * head_dim + 2 * i + j;
        const int64_t hf_row = h * head_dim + j * half + i;
        const int64_t from = to_hf ? gguf_row : hf_row;
        const int64_t to = to_hf ? hf_row : gguf_row;
        std::copy_n(rows.begin() + from * row_len, row_len, out.begin() + to * row_len);
      }
    }
  }
  return out;
}

}  // namespace

std::string gguf_to_hf_tensor_name(const std::string& gguf_name) {
  if (gguf_name == "token_embd.weight") return "model.embed_tokens.weight";
  if (gguf_name == "output_norm.weight") return "model.norm.weight";
  if (gguf_name == "output.weight") return "lm_head.weight";
  static const std::regex kLayer(R"(blk\.(\d+)\.(.+))");
  std::smatch match;
  if (!std::regex_match(gguf_name, match, kLayer)) return "";
  const auto it = layer_name_map().find(match[2].str());
  if (it == layer_name_map().end()) return "";
  return "model.layers." + match[1].str() + "." + it->second;
}

std::vector<float> unpermute_qk_rows(const std::vector<float>& rows, int64_t n_heads, int64_t row_len) {
  return reorder_qk_rows(rows, n_heads, row_len, true);
}

std::vector<float> permute_qk_rows(const std::vector<float>& rows, int64_t n_heads, int64_t row_len) {
  return reorder_qk_rows(rows, n_heads, row_len, false);
}

ModelConfig gguf_model_config(const GgufFile& file) {
  const std::string& source = file.source_name();
  ModelConfig config;
  const std::string arch = file.get_string("general.architecture");
  ADAMAS_CHECK(arch == "llama", source, ": general.architecture is '", arch, "', expected 'llama'");
  config.architecture = arch;
  const std::string prefix = arch + ".";
  const auto key = [&](const char* name) { return prefix + name; };
  const auto has = [&](const char* name) { return file.find(prefix + name) != nullptr; };

  config.hidden_size = file.get_int(key("embedding_length"));
  config.intermediate_size = file.get_int(key("feed_forward_length"));
  config.num_layers = file.get_int(key("block_count"));
  config.num_heads = file.get_int(key("attention.head_count"));
  config.num_kv_heads = has("attention.head_count_kv") ? file.get_int(key("attention.head_count_kv")) : config.num_heads;
  ADAMAS_CHECK(config.num_heads > 0, source, ": ", key("attention.head_count"), " is ", config.num_heads,
               ", expected positive");
  config.head_dim = has("attention.key_length") ? file.get_int(key("attention.key_length"))
                                                : config.hidden_size / config.num_heads;
  if (has("attention.value_length")) {
    const int64_t value_length = file.get_int(key("attention.value_length"));
    ADAMAS_CHECK(value_length == config.head_dim, source, ": ", key("attention.value_length"), " is ", value_length,
                 ", expected the key length ", config.head_dim);
  }
  if (has("context_length")) config.max_position_embeddings = file.get_int(key("context_length"));
  config.rms_norm_eps = file.get_float(key("attention.layer_norm_rms_epsilon"));
  if (has("rope.freq_base")) config.rope_theta = file.get_float(key("rope.freq_base"));
  if (has("rope.dimension_count")) {
    const int64_t rope_dims = file.get_int(key("rope.dimension_count"));
    ADAMAS_CHECK(rope_dims == config.head_dim, source, ": ", key("rope.dimension_count"), " is ", rope_dims,
                 ", expected head_dim ", config.head_dim, " (partial RoPE is not supported)");
  }
  std::string scaling = has("rope.scaling.type") ? file.get_string(key("rope.scaling.type")) : "none";
  if (scaling == "linear") {
    config.rope_scaling.type = RopeScaling::Type::kLinear;
    config.rope_scaling.factor = file.get_float(key("rope.scaling.factor"));
  } else {
    ADAMAS_CHECK(scaling == "none", source, ": ", key("rope.scaling.type"), " is '", scaling,
                 "', expected none or linear");
  }
  // llama.cpp stores Llama 3.1 RoPE scaling as precomputed per-frequency factors, not metadata.
  ADAMAS_CHECK(file.find_tensor("rope_freqs.weight") == nullptr, source,
               ": tensor 'rope_freqs.weight' (llama3 RoPE scaling) is not supported");

  const GgufValue* tokens = file.find("tokenizer.ggml.tokens");
  ADAMAS_CHECK(tokens != nullptr && tokens->type == GgufValueType::kArray, source,
               ": metadata 'tokenizer.ggml.tokens' is missing, expected the vocabulary");
  config.vocab_size = static_cast<int64_t>(tokens->array.size());
  if (has("vocab_size")) {
    const int64_t declared = file.get_int(key("vocab_size"));
    ADAMAS_CHECK(declared == config.vocab_size, source, ": ", key("vocab_size"), " is ", declared,
                 ", but tokenizer.ggml.tokens has ", config.vocab_size, " entries");
  }
  config.tie_word_embeddings = file.find_tensor("output.weight") == nullptr;
  if (file.find("tokenizer.ggml.bos_token_id")) config.bos_token_id = file.get_int("tokenizer.ggml.bos_token_id");
  if (file.find("tokenizer.ggml.eos_token_id")) config.eos_token_id = file.get_int("tokenizer.ggml.eos_token_id");

  config.validate(source);
  return config;
}

std::unique_ptr<BpeTokenizer> gguf_tokenizer(const GgufFile& file) {
  const std::string& source = file.source_name();
  const std::string model = file.get_string("tokenizer.ggml.model");
  ADAMAS_CHECK(model == "gpt2", source, ": tokenizer.ggml.model is '", model,
               "', expected 'gpt2' (byte-level BPE); SentencePiece vocabularies in GGUF are not supported");
  BpeVocab vocab;
  vocab.tokens = file.get_string_array("tokenizer.ggml.tokens");
  for (const std::string& merge : file.get_string_array("tokenizer.ggml.merges")) {
    const size_t space = merge.find(' ');
    ADAMAS_CHECK(space != std::string::npos, source, ": tokenizer.ggml.merges entry '", merge,
                 "' has no space, expected \"left right\"");
    vocab.merges.emplace_back(merge.substr(0, space), merge.substr(space + 1));
  }
  vocab.pre_tokenizer = file.find("tokenizer.ggml.pre") ? parse_bpe_pre_tokenizer(file.get_string("tokenizer.ggml.pre"))
                                                        : BpePreTokenizer::kGpt2;
  if (file.find("tokenizer.ggml.token_type")) {
    const std::vector<int64_t> types = file.get_int_array("tokenizer.ggml.token_type");
    ADAMAS_CHECK(types.size() == vocab.tokens.size(), source, ": tokenizer.ggml.token_type has ", types.size(),
                 " entries, expected one per token (", vocab.tokens.size(), ")");
    // llama.cpp token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    for (size_t id = 0; id < types.size(); ++id) {
      if (types[id] == 3) vocab.control_ids.push_back(static_cast<int32_t>(id));
      if (types[id] == 4) vocab.added_ids.push_back(static_cast<int32_t>(id));
    }
  }
  const int64_t n_tokens = static_cast<int64_t>(vocab.tokens.size());
  const auto token_id = [&](const char* name) -> int32_t {
    if (!file.find(name)) return -1;
    const int64_t id = file.get_int(name);
    ADAMAS_CHECK(id >= 0 && id < n_tokens, source, ": ", name, " is ", id, ", expected 0..", n_tokens - 1);
    return static_cast<int32_t>(id);
  };
  vocab.bos_id = token_id("tokenizer.ggml.bos_token_id");
  vocab.eos_id = token_id("tokenizer.ggml.eos_token_id");
  vocab.unk_id = token_id("tokenizer.ggml.unknown_token_id");
  return std::make_unique<BpeTokenizer>(std::move(vocab), source);
}

std::unique_ptr<WeightSource> gguf_weight_source(std::shared_ptr<const GgufFile> file, const ModelConfig& config) {
  return std::make_unique<GgufWeightSource>(std::move(file), config);
}

Checkpoint gguf_checkpoint(std::shared_ptr<const GgufFile> file) {
  Checkpoint checkpoint;
  checkpoint.path = file->source_name();
  checkpoint.config = gguf_model_config(*file);
  checkpoint.tokenizer = gguf_tokenizer(*file);
  checkpoint.weights = gguf_weight_source(file, checkpoint.config);
  return checkpoint;
}

Checkpoint open_gguf_checkpoint(const std::string& path) {
  return gguf_checkpoint(std::make_shared<const GgufFile>(GgufFile::open(path)));
}

std::unique_ptr<WeightSource> open_gguf_weights(const std::string& path) {
  auto file = std::make_shared<const GgufFile>(GgufFile::open(path));
  return gguf_weight_source(file, gguf_model_config(*file));
}

}  // namespace adamas
