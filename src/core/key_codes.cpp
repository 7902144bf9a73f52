#include "adamas/key_codes.h"

#include <cmath>
#include <cstring>

#include "adamas/error.h"

namespace adamas {

void check_thresholds(const Thresholds& t) {
  ADAMAS_CHECK(std::isfinite(t.t0) && std::isfinite(t.t1) && std::isfinite(t.t2),
               "code thresholds must be finite, got (", t.t0, ", ", t.t1, ", ", t.t2, ")");
  ADAMAS_CHECK(t.t0 < t.t1 && t.t1 < t.t2, "code thresholds must be strictly increasing, got (", t.t0, ", ",
               t.t1, ", ", t.t2, ")");
}

void encode_code_ref(const float* rotated, int head_dim, const Thresholds& thresholds, uint8_t* code) {
  std::memset(code, 0, static_cast<size_t>(code_bytes(head_dim)));
  for (int i = 0; i < head_dim; ++i) code[i / 4] |= static_cast<uint8_t>(bucketize(rotated[i], thresholds) << (2 * (i % 4)));
}

void encode_code(const float* rotated, int head_dim, const Thresholds& t, uint8_t* code) {
  // Four coordinates per byte, branch-free; the compiler vectorizes the comparisons.
  for (int byte = 0; byte < head_dim / 4; ++byte) {
    const float* x = rotated + 4 * byte;
    uint8_t packed = 0;
    for (int lane = 0; lane < 4; ++lane) {
      const int level = (x[lane] > t.t0) + (x[lane] > t.t1) + (x[lane] > t.t2);
      packed |= static_cast<uint8_t>(level << (2 * lane));
    }
    code[byte] = packed;
  }
}

int l1_distance_ref(const uint8_t* a, const uint8_t* b, int head_dim) {
  int total = 0;
  for (int i = 0; i < head_dim; ++i) total += std::abs(code_at(a, i) - code_at(b, i));
  return total;
}

int l1_distance(const uint8_t* a, const uint8_t* b, int head_dim) {
  const int bytes = code_bytes(head_dim);
  int total = 0;
  int offset = 0;
  for (; offset + 8 <= bytes; offset += 8) {
    uint64_t wa, wb;
    std::memcpy(&wa, a + offset, 8);
    std::memcpy(&wb, b + offset, 8);
    total += l1_distance_word(wa, wb);
  }
  if (offset < bytes) {
    uint64_t wa = 0, wb = 0;
    std::memcpy(&wa, a + offset, static_cast<size_t>(bytes - offset));
    std::memcpy(&wb, b + offset, static_cast<size_t>(bytes - offset));
    total += l1_distance_word(wa, wb);
  }
  return total;
}

}  // namespace adamas
