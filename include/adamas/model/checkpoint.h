// Opens a model the way the CLI's --model does: a Hugging Face directory (config.json,
// safetensors, tokenizer.model or tokenizer.json) or a single .gguf file.
#pragma once

#include <memory>
#include <string>

#include "adamas/model/model_config.h"
#include "adamas/model/tokenizer.h"
#include "adamas/model/weight_source.h"

namespace adamas {

struct Checkpoint {
  std::string path;
  ModelConfig config;
  std::unique_ptr<WeightSource> weights;
  std::unique_ptr<Tokenizer> tokenizer;
};

// Throws adamas::Error with the path and what is missing or malformed.
Checkpoint open_checkpoint(const std::string& path);

// Checks that `weights` holds every tensor a Llama decoder of shape `config` reads, with Hugging
// Face shapes: model.embed_tokens, each layer's q/k/v/o_proj, gate/up/down_proj, input and
// post-attention norms, model.norm, and lm_head unless the embeddings are tied. Throws
// adamas::Error naming `source_name`, the tensor, the shape found and the shape expected.
void validate_llama_weights(const ModelConfig& config, const WeightSource& weights,
                            const std::string& source_name);

}  // namespace adamas
