// Deterministic top-k selection shared by every selector and every backend.
//
// Tie-break: each candidate gets a unique 64-bit key, score in the high 32 bits and the inverted
// token position in the low 32 bits, and the k smallest keys win. So among equal scores the more
// recent token (larger position) is kept: recent context is the better guess, and the rule is a
// total order, so every backend selects the same set.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace adamas {

// Key for a distance (smaller is better).
inline uint64_t distance_key(uint32_t distance, uint32_t token) {
  return (static_cast<uint64_t>(distance) << 32) | (0xffffffffu - token);
}

// Key for a similarity score (larger is better): the float's bits mapped to an unsigned order,
// then inverted so that larger scores get smaller keys. -0 and +0 compare equal.
inline uint64_t score_key(float score, uint32_t token) {
  if (score == 0.0f) score = 0.0f;
  uint32_t bits;
  std::memcpy(&bits, &score, 4);
  const uint32_t ascending = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return (static_cast<uint64_t>(~ascending) << 32) | (0xffffffffu - token);
}

inline uint32_t key_token(uint64_t key) { return 0xffffffffu - static_cast<uint32_t>(key); }

// Appends to `tokens` the positions of the k smallest keys (all if k >= keys.size()), in
// ascending position order. Reference: a full sort.
void select_smallest_keys_ref(const std::vector<uint64_t>& keys, int k, std::vector<int32_t>& tokens);
// Same set, O(n) on average (nth_element).
void select_smallest_keys(std::vector<uint64_t>& keys, int k, std::vector<int32_t>& tokens);

// Positions 0..n-1 of the k smallest distances (distance_key order), ascending, appended to
// `tokens`. Histogram select over the small distance range [0, max_distance]: O(n + range).
void select_smallest_distances(const uint16_t* distances, int n, int k, int max_distance,
                               std::vector<int32_t>& tokens);

}  // namespace adamas
