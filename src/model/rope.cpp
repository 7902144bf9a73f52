#include "model/rope.h"

#include <cmath>
#include <vector>

#include "adamas/error.h"

namespace adamas {

std::vector<float> rope_inv_freq(int head_dim, double theta, const RopeScaling& scaling) {
  ADAMAS_CHECK(head_dim >= 2 && head_dim % 2 == 0, "rope: head_dim must be even and >= 2, got ", head_dim);
  ADAMAS_CHECK(std::isfinite(theta) && theta > 0, "rope: rope_theta must be positive, got ", theta);
  const int half = head_dim / 2;
  std::vector<float> inv_freq(half);
  // transformers: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all in fp32.
  for (int i = 0; i < half; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    inv_freq[i] = 1.0f / std::pow(static_cast<float>(theta), exponent);
  }
  switch (scaling.type) {
    case RopeScaling::Type::kNone: break;
    case RopeScaling::Type::kLinear: {
      ADAMAS_CHECK(std::isfinite(scaling.factor) && scaling.factor > 0, "rope_scaling (linear): factor must be positive, got ",
                   scaling.factor);
      for (float& f : inv_freq) f /= static_cast<float>(scaling.factor);
      break;
    }
    case RopeScaling::Type::kLlama3: {
      const double factor = scaling.factor, low = scaling.low_freq_factor, high = scaling.high_freq_factor;
      ADAMAS_CHECK(std::isfinite(factor) && factor > 0, "rope_scaling (llama3): factor must be positive, got ", factor);
      ADAMAS_CHECK(low > 0 && high > low, "rope_scaling (llama3): need 0 < low_freq_factor < high_freq_factor, got ", low,
                   " and ", high);
      ADAMAS_CHECK(scaling.original_max_position_embeddings > 0,
                   "rope_scaling (llama3): original_max_position_embeddings must be positive");
      const float old_context = static_cast<float>(scaling.original_max_position_embeddings);
      const float low_freq_wavelen = static_cast<float>(scaling.original_max_position_embeddings / low);
      const float high_freq_wavelen = static_cast<float>(scaling.original_max_position_embeddings / high);
      const float two_pi = static_cast<float>(2 * M_PI);
      for (float& f : inv_freq) {
        const float wavelen = two_pi / f;
        float scaled = wavelen > low_freq_wavelen ? f / static_cast<float>(factor) : f;
        const bool medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
        if (medium) {
          const float smooth = (old_context / wavelen - static_cast<float>(low)) / static_cast<float>(high - low);
          scaled = (1.0f - smooth) * scaled / static_cast<float>(factor) + smooth * scaled;
        }
        f = scaled;
      }
      break;
    }
  }
  return inv_freq;
}

RotaryEmbedding::RotaryEmbedding(int head_dim, double theta, const RopeScaling& scaling)
    : head_dim_(head_dim), inv_freq_(rope_inv_freq(head_dim, theta, scaling)) {}

void RotaryEmbedding::angles(int64_t position, float* cos_out, float* sin_out) const {
  const float pos = static_cast<float>(position);
  for (int i = 0; i < head_dim_ / 2; ++i) {
    const float angle = pos * inv_freq_[i];  // fp32 product, as transformers' freqs matmul
    cos_out[i] = static_cast<float>(std::cos(static_cast<double>(angle)));
    sin_out[i] = static_cast<float>(std::sin(static_cast<double>(angle)));
  }
}

void RotaryEmbedding::rotate(float* x, int num_heads, const float* cos_table, const float* sin_table) const {
  const int half = head_dim_ / 2;
  for (int h = 0; h < num_heads; ++h) {
    float* v = x + static_cast<size_t>(h) * head_dim_;
    for (int i = 0; i < half; ++i) {
      const float x1 = v[i], x2 = v[i + half];
      // x * cos + rotate_half(x) * sin, rotate_half(x) = (-x2, x1)
      v[i] = x1 * cos_table[i] + (-x2) * sin_table[i];
      v[i + half] = x2 * cos_table[i] + x1 * sin_table[i];
    }
  }
}

void RotaryEmbedding::apply(float* x, int num_heads, int64_t position) const {
  std::vector<float> cos_table(head_dim_ / 2), sin_table(head_dim_ / 2);
  angles(position, cos_table.data(), sin_table.data());
  rotate(x, num_heads, cos_table.data(), sin_table.data());
}

}  // namespace adamas
