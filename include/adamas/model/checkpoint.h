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

}  // namespace adamas
