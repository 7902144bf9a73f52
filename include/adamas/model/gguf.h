// llama.cpp's GGUF v3 container: header, metadata, tensor infos, aligned tensor data.
// Validated strictly and memory-mapped; tensors are dequantized to fp32 on load.
#pragma once

#include <string>

#include "adamas/model/checkpoint.h"

namespace adamas {

// Opens a .gguf file as a checkpoint: config from the llama.* metadata, weights renamed and
// reshaped to the Hugging Face convention (q/k permutation undone), byte-level BPE tokenizer
// from the tokenizer.ggml.* metadata. Throws adamas::Error on anything malformed or unsupported.
Checkpoint open_gguf_checkpoint(const std::string& path);

}  // namespace adamas
