#include "adamas/top_k.h"

#include <algorithm>

namespace adamas {

void select_smallest_keys_ref(const std::vector<uint64_t>& keys, int k, std::vector<int32_t>& tokens) {
  std::vector<uint64_t> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  const size_t keep = std::min(sorted.size(), static_cast<size_t>(std::max(k, 0)));
  const size_t start = tokens.size();
  for (size_t i = 0; i < keep; ++i) tokens.push_back(static_cast<int32_t>(key_token(sorted[i])));
  std::sort(tokens.begin() + static_cast<std::ptrdiff_t>(start), tokens.end());
}

void select_smallest_keys(std::vector<uint64_t>& keys, int k, std::vector<int32_t>& tokens) {
  const size_t keep = std::min(keys.size(), static_cast<size_t>(std::max(k, 0)));
  if (keep < keys.size()) std::nth_element(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(keep), keys.end());
  const size_t start = tokens.size();
  for (size_t i = 0; i < keep; ++i) tokens.push_back(static_cast<int32_t>(key_token(keys[i])));
  std::sort(tokens.begin() + static_cast<std::ptrdiff_t>(start), tokens.end());
}

void select_smallest_distances(const uint16_t* distances, int n, int k, int max_distance,
                               std::vector<int32_t>& tokens) {
  if (k <= 0 || n <= 0) return;
  if (k >= n) {
    for (int i = 0; i < n; ++i) tokens.push_back(i);
    return;
  }
  // Find the threshold distance T: fewer than k positions are below it, at least k at or below.
  std::vector<int32_t> histogram(static_cast<size_t>(max_distance) + 1, 0);
  for (int i = 0; i < n; ++i) ++histogram[distances[i]];
  int below = 0, threshold = 0;
  while (below + histogram[threshold] < k) below += histogram[threshold++];
  // Among positions at T, the tie-break keeps the most recent ones: take them from the end.
  int ties_to_take = k - below;
  int first_tie = n;
  for (int i = n - 1; i >= 0 && ties_to_take > 0; --i)
    if (distances[i] == threshold) {
      --ties_to_take;
      first_tie = i;
    }
  for (int i = 0; i < n; ++i)
    if (distances[i] < threshold || (distances[i] == threshold && i >= first_tie)) tokens.push_back(i);
}

}  // namespace adamas
