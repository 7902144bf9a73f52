// The shape of a Llama-family decoder, read from a Hugging Face config.json or from GGUF metadata.
#pragma once

#include <cstdint>
#include <string>

namespace adamas {

struct RopeScaling {
  enum class Type { kNone, kLinear, kLlama3 } type = Type::kNone;
  double factor = 1.0;
  // llama3 only:
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string architecture;  // "LlamaForCausalLM", "MistralForCausalLM", or "llama" from GGUF
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;      // query heads
  int64_t num_kv_heads = 0;   // divides num_heads
  int64_t head_dim = 0;       // hidden_size / num_heads unless the config says otherwise
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 2048;
  bool tie_word_embeddings = false;
  int64_t bos_token_id = -1;  // -1: none
  int64_t eos_token_id = -1;

  // Throws adamas::Error naming the first field that is missing, non-positive or inconsistent.
  void validate(const std::string& source_name) const;
};

// Parses a config.json text. Throws adamas::Error (naming `source_name`) on malformed JSON,
// unsupported architectures or rope_scaling types, and missing or inconsistent fields.
ModelConfig parse_hf_config(const std::string& json_text, const std::string& source_name);

}  // namespace adamas
