// Rotary position embedding in the Hugging Face Llama convention: rotate_half pairs coordinate i
// with i + head_dim/2 (not adjacent pairs as in the original paper / GGUF's llama.cpp layout).
// Frequencies follow transformers' rope init functions (default, "linear", "llama3") computed in
// fp32 as transformers does, and angles are fp32 products position * inv_freq, so long positions
// round exactly as in the reference implementation.
#pragma once

#include <cstdint>
#include <vector>

#include "adamas/model/model_config.h"

namespace adamas {

// inv_freq[i] for i in [0, head_dim/2). Throws adamas::Error on an odd head_dim, a non-positive
// theta or scaling factor, or llama3 parameters with high_freq_factor <= low_freq_factor.
std::vector<float> rope_inv_freq(int head_dim, double theta, const RopeScaling& scaling);

class RotaryEmbedding {
 public:
  RotaryEmbedding() = default;
  RotaryEmbedding(int head_dim, double theta, const RopeScaling& scaling);

  int head_dim() const { return head_dim_; }
  const std::vector<float>& inv_freq() const { return inv_freq_; }

  // cos/sin tables of one position: cos_out/sin_out hold head_dim/2 floats each.
  void angles(int64_t position, float* cos_out, float* sin_out) const;
  // Rotates `num_heads` consecutive vectors of head_dim floats (one token) in place, given the
  // position's tables from angles().
  void rotate(float* x, int num_heads, const float* cos_table, const float* sin_table) const;
  // angles + rotate.
  void apply(float* x, int num_heads, int64_t position) const;

 private:
  int head_dim_ = 0;
  std::vector<float> inv_freq_;
};

}  // namespace adamas
