#include "adamas/code_book.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "adamas/error.h"
#include "adamas/hadamard.h"

namespace adamas {

CodeBook CodeBook::paper() { return CodeBook{}; }

CodeBook CodeBook::from_thresholds(const Thresholds& t) {
  CodeBook book;
  book.thresholds = {t.t0, t.t1, t.t2, 0, 0, 0, 0};
  // Centroids of the outer buckets sit half a bucket width outside the outer thresholds.
  const float outer = 0.5f * std::max(t.t1 - t.t0, t.t2 - t.t1);
  book.centroids = {t.t0 - outer, 0.5f * (t.t0 + t.t1), 0.5f * (t.t1 + t.t2), t.t2 + outer, 0, 0, 0, 0};
  return book;
}

Thresholds CodeBook::two_bit_thresholds() const {
  ADAMAS_CHECK(bits == 2, "code book has ", bits, " bits, the 2-bit path needs 2");
  return {thresholds[0], thresholds[1], thresholds[2]};
}

std::string CodeBook::describe() const {
  std::ostringstream out;
  out << bits << "-bit" << (hadamard ? "" : " no-hadamard") << " thresholds (";
  for (int k = 0; k < levels() - 1; ++k) out << (k ? ", " : "") << thresholds[k];
  out << ")";
  return out.str();
}

void check_code_book(const CodeBook& book) {
  ADAMAS_CHECK(book.bits >= 1 && book.bits <= 3, "code bits must be 1, 2 or 3, got ", book.bits);
  for (int k = 0; k < book.levels() - 1; ++k) {
    ADAMAS_CHECK(std::isfinite(book.thresholds[k]), "code threshold ", k, " is not finite (", book.thresholds[k], ")");
    if (k > 0)
      ADAMAS_CHECK(book.thresholds[k - 1] < book.thresholds[k], "code thresholds must be strictly increasing, got ",
                   book.thresholds[k - 1], " then ", book.thresholds[k]);
  }
  for (int k = 0; k < book.levels(); ++k)
    ADAMAS_CHECK(std::isfinite(book.centroids[k]), "code centroid ", k, " is not finite");
}

void encode_with_code_book(const float* x, int head_dim, const CodeBook& book, uint8_t* code) {
  float rotated[kMaxHeadDim];
  std::copy(x, x + head_dim, rotated);
  if (book.hadamard) hadamard_transform(rotated, head_dim);
  if (book.bits == 2) {
    encode_code(rotated, head_dim, book.two_bit_thresholds(), code);
    return;
  }
  std::memset(code, 0, static_cast<size_t>(code_stride_bytes(book.bits, head_dim)));
  for (int i = 0; i < head_dim; ++i) {
    const int level = bucket_of(rotated[i], book);
    if (book.bits == 1) code[i >> 3] |= static_cast<uint8_t>(level << (i & 7));
    else code[i >> 1] |= static_cast<uint8_t>(level << (4 * (i & 1)));
  }
}

std::vector<double> equal_mass_quantiles(int bits) {
  std::vector<double> q;
  const int levels = 1 << bits;
  for (int k = 1; k < levels; ++k) q.push_back(static_cast<double>(k) / levels);
  return q;
}

CodeBook calibrate_code_book(std::vector<float> values, int bits, bool hadamard, const std::vector<double>& quantiles) {
  ADAMAS_CHECK(bits >= 1 && bits <= 3, "code bits must be 1, 2 or 3, got ", bits);
  const int levels = 1 << bits;
  ADAMAS_CHECK(static_cast<int>(quantiles.size()) == levels - 1, "calibration needs ", levels - 1,
               " quantiles for ", bits, "-bit codes, got ", quantiles.size());
  for (size_t k = 0; k < quantiles.size(); ++k)
    ADAMAS_CHECK(quantiles[k] > 0 && quantiles[k] < 1 && (k == 0 || quantiles[k] > quantiles[k - 1]),
                 "calibration quantiles must be strictly increasing in (0, 1)");
  ADAMAS_CHECK(values.size() >= static_cast<size_t>(4 * levels), "calibration needs at least ", 4 * levels,
               " key coordinates, got ", values.size());
  for (float v : values) ADAMAS_CHECK(std::isfinite(v), "calibration: non-finite key coordinate");
  std::sort(values.begin(), values.end());
  CodeBook book;
  book.bits = bits;
  book.hadamard = hadamard;
  book.thresholds.fill(0);
  book.centroids.fill(0);
  for (int k = 0; k < levels - 1; ++k) {
    const size_t index = std::min(values.size() - 1, static_cast<size_t>(quantiles[k] * values.size()));
    // Midway between the order statistics around the quantile, not on a data value: a key
    // coordinate exactly on its threshold would take either code after the smallest rounding
    // difference (another summation order of the same rotation, on another device).
    book.thresholds[k] = index > 0 ? values[index - 1] + 0.5f * (values[index] - values[index - 1]) : values[index];
    // Ties in the data could make two thresholds equal: nudge up to keep them strictly increasing.
    if (k > 0 && book.thresholds[k] <= book.thresholds[k - 1])
      book.thresholds[k] = std::nextafter(book.thresholds[k - 1], INFINITY);
  }
  std::vector<double> sum(levels, 0.0);
  std::vector<size_t> count(levels, 0);
  for (float v : values) {
    const int level = bucket_of(v, book);
    sum[level] += v;
    ++count[level];
  }
  for (int k = 0; k < levels; ++k) {
    if (count[k] > 0) {
      book.centroids[k] = static_cast<float>(sum[k] / count[k]);
    } else {  // empty bucket: its threshold neighbourhood
      book.centroids[k] = book.thresholds[std::min(k, levels - 2)];
    }
  }
  check_code_book(book);
  return book;
}

}  // namespace adamas
