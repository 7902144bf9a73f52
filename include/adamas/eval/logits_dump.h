// Next-token logits of every position, for parity checks against a reference implementation
// (scripts/hf_parity.py), written as NumPy .npy files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "adamas/model/llama_model.h"

namespace adamas {

// logits [tokens.size()][vocab]: mode "prefill" (dense chunked prefill, every position) or
// "decode" (one decode step per token, the runtime's policy). Resets the runtime first.
std::vector<float> compute_logits(DecoderRuntime& runtime, const std::vector<int32_t>& tokens, const std::string& mode);

// Little-endian .npy (format 1.0, C order). Throw adamas::Error when the file cannot be written.
void write_npy_f32(const std::string& path, const std::vector<int64_t>& shape, const float* data);
void write_npy_i32(const std::string& path, const std::vector<int64_t>& shape, const int32_t* data);

}  // namespace adamas
