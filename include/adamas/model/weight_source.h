// Read-only access to a checkpoint's tensors, whatever the file format. Tensors are named and
// shaped as in Hugging Face Llama checkpoints ("model.layers.3.self_attn.q_proj.weight", shape
// [out_features, in_features], row-major), whatever the file stores, so the forward pass knows one
// convention. Formats: a directory with model.safetensors or sharded safetensors plus
// model.safetensors.index.json (F32, F16, BF16, memory-mapped), or a GGUF v3 file (dequantized
// on load, llama.cpp's q/k row permutation undone).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "adamas/dtype.h"

namespace adamas {

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual bool has_tensor(const std::string& name) const = 0;
  virtual std::vector<std::string> tensor_names() const = 0;
  // HF shape, outermost first. Throws adamas::Error for an unknown name.
  virtual std::vector<int64_t> tensor_shape(const std::string& name) const = 0;
  // Reads (and dequantizes) the whole tensor into fp32, row-major in HF shape. Throws
  // adamas::Error for an unknown name, an unsupported stored type or data out of file bounds.
  virtual std::vector<float> load_f32(const std::string& name) const = 0;
  // Human-readable stored type ("BF16", "Q4_1", ...), for reports.
  virtual std::string stored_type(const std::string& name) const = 0;
};

// Opens a safetensors checkpoint directory (model.safetensors or the sharded form with its index).
std::unique_ptr<WeightSource> open_safetensors_dir(const std::string& directory);
// Opens a GGUF file (see gguf.h).
std::unique_ptr<WeightSource> open_gguf_weights(const std::string& path);

}  // namespace adamas
