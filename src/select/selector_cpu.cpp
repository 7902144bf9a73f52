// Fast CPU selectors: OpenMP over (sequence, row), AVX2 scoring, histogram top-k for distances.
// Two phases (estimate every candidate, then select) so their times can be reported apart.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <vector>

#include "adamas/hadamard.h"
#include "adamas/top_k.h"
#include "cpu/cpu_features.h"
#include "select/canonical_sums.h"
#include "select/code_scores.h"
#include "select/selector_common.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace adamas {

namespace {

using Clock = std::chrono::steady_clock;
double elapsed_ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Minimum exact L1 over `heads` query codes for positions [0, n) of one (sequence, KV head).
// Codes of a page are contiguous, so the scan walks page by page.
template <int kWords>
__attribute__((always_inline)) inline void scan_min_l1(const PagedKvView& view, int seq, int kv_head, int n, const uint64_t* query_words, int heads,
                        int words, uint16_t* distances) {
  const int w = kWords > 0 ? kWords : words;
  for (int page_start = 0; page_start < n; page_start += view.page_size) {
    const uint8_t* page_codes = view.key_codes + view.code_offset(seq, kv_head, page_start);
    const int count = std::min(view.page_size, n - page_start);
    for (int t = 0; t < count; ++t) {
      int best = std::numeric_limits<int>::max();
      if constexpr (kWords == 0) {  // any head_dim, including codes shorter than a word
        const uint8_t* key_code = page_codes + static_cast<size_t>(t) * code_bytes(view.head_dim);
        for (int j = 0; j < heads; ++j)
          best = std::min(best, l1_distance(reinterpret_cast<const uint8_t*>(query_words + j * w), key_code, view.head_dim));
      } else {
        uint64_t key_words[kWords > 0 ? kWords : 1];
        std::memcpy(key_words, page_codes + static_cast<size_t>(t) * kWords * 8, sizeof(key_words));
        for (int j = 0; j < heads; ++j) {
          int distance = 0;
          for (int i = 0; i < kWords; ++i) distance += l1_distance_word(query_words[j * kWords + i], key_words[i]);
          best = std::min(best, distance);
        }
      }
      distances[page_start + t] = static_cast<uint16_t>(best);
    }
  }
}

void scan_dispatch(const PagedKvView& view, int seq, int kv_head, int n, const uint64_t* query_words, int heads,
                   int words, uint16_t* distances) {
  switch (words) {
    case 2: scan_min_l1<2>(view, seq, kv_head, n, query_words, heads, words, distances); break;
    case 4: scan_min_l1<4>(view, seq, kv_head, n, query_words, heads, words, distances); break;
    case 8: scan_min_l1<8>(view, seq, kv_head, n, query_words, heads, words, distances); break;
    default: scan_min_l1<0>(view, seq, kv_head, n, query_words, heads, words, distances); break;
  }
}

#if defined(__x86_64__)
// Same code compiled with the popcnt instruction (the generic build calls a libgcc routine).
__attribute__((target("popcnt,avx2,fma,f16c"))) void scan_dispatch_popcnt(const PagedKvView& view, int seq, int kv_head,
                                                                          int n, const uint64_t* query_words,
                                                                          int heads, int words, uint16_t* distances) {
  switch (words) {
    case 2: scan_min_l1<2>(view, seq, kv_head, n, query_words, heads, words, distances); break;
    case 4: scan_min_l1<4>(view, seq, kv_head, n, query_words, heads, words, distances); break;
    case 8: scan_min_l1<8>(view, seq, kv_head, n, query_words, heads, words, distances); break;
    default: scan_min_l1<0>(view, seq, kv_head, n, query_words, heads, words, distances); break;
  }
}

// |a - b| per 2-bit lane (same three-popcount identity as l1_distance_word), then the lanes of
// each byte summed: 32 bytes of per-byte distances (0..12) for 128 coordinates.
__attribute__((target("avx2,fma,f16c"))) inline __m256i l1_bytes_avx2(__m256i query, __m256i query_shifted,
                                                                     __m256i key) {
  const __m256i low_lanes = _mm256_set1_epi8(0x55), pairs = _mm256_set1_epi8(0x33), nibbles = _mm256_set1_epi8(0x0f);
  const __m256i diff = _mm256_xor_si256(query, key);
  const __m256i low = _mm256_and_si256(diff, low_lanes);
  const __m256i high = _mm256_and_si256(_mm256_srli_epi64(diff, 1), low_lanes);
  const __m256i correction = _mm256_andnot_si256(_mm256_xor_si256(query_shifted, key), _mm256_and_si256(high, low));
  const __m256i lane = _mm256_or_si256(_mm256_slli_epi64(_mm256_andnot_si256(correction, high), 1), low);
  const __m256i two_lanes = _mm256_add_epi8(_mm256_and_si256(lane, pairs), _mm256_and_si256(_mm256_srli_epi64(lane, 2), pairs));
  return _mm256_add_epi8(_mm256_and_si256(two_lanes, nibbles), _mm256_and_si256(_mm256_srli_epi64(two_lanes, 4), nibbles));
}

// Vectorized scan for codes of 32 or 64 bytes (d = 128, 256): four tokens at a time, their four
// distances packed as 16-bit fields and reduced together; min over the query group.
__attribute__((target("avx2,fma,f16c"))) void scan_min_l1_avx2(const PagedKvView& view, int seq, int kv_head, int n,
                                                               const uint8_t* query_codes, int heads,
                                                               uint16_t* distances) {
  const int bytes = code_bytes(view.head_dim);
  const int vectors = bytes / 32;
  __m256i query[2 * 8], query_shifted[2 * 8];
  const int cached_heads = std::min(heads, 8);
  for (int j = 0; j < cached_heads; ++j)
    for (int v = 0; v < vectors; ++v) {
      query[j * 2 + v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(query_codes + static_cast<size_t>(j) * bytes + 32 * v));
      query_shifted[j * 2 + v] = _mm256_srli_epi64(query[j * 2 + v], 1);
    }
  const __m256i zero = _mm256_setzero_si256();
  for (int page_start = 0; page_start < n; page_start += view.page_size) {
    const uint8_t* page_codes = view.key_codes + view.code_offset(seq, kv_head, page_start);
    const int count = std::min(view.page_size, n - page_start);
    int t = 0;
    for (; t + 4 <= count; t += 4) {
      __m128i best = _mm_set1_epi16(-1);
      for (int j = 0; j < heads; ++j) {
        __m256i packed = zero;
        for (int k = 0; k < 4; ++k) {
          const uint8_t* key = page_codes + static_cast<size_t>(t + k) * bytes;
          __m256i per_byte;
          if (j < cached_heads) {
            per_byte = l1_bytes_avx2(query[j * 2], query_shifted[j * 2], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(key)));
            if (vectors == 2)
              per_byte = _mm256_add_epi8(per_byte, l1_bytes_avx2(query[j * 2 + 1], query_shifted[j * 2 + 1],
                                                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(key + 32))));
          } else {  // groups larger than 8: load the query code again
            const uint8_t* qc = query_codes + static_cast<size_t>(j) * bytes;
            const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qc));
            per_byte = l1_bytes_avx2(q0, _mm256_srli_epi64(q0, 1), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(key)));
            if (vectors == 2) {
              const __m256i q1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qc + 32));
              per_byte = _mm256_add_epi8(per_byte, l1_bytes_avx2(q1, _mm256_srli_epi64(q1, 1),
                                                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(key + 32))));
            }
          }
          // Four 64-bit partial sums (each <= 8 * 24), shifted into 16-bit field k.
          packed = _mm256_or_si256(packed, _mm256_slli_epi64(_mm256_sad_epu8(per_byte, zero), 16 * k));
        }
        __m128i sum = _mm_add_epi16(_mm256_castsi256_si128(packed), _mm256_extracti128_si256(packed, 1));
        sum = _mm_add_epi16(sum, _mm_srli_si128(sum, 8));
        best = _mm_min_epu16(best, sum);
      }
      _mm_storel_epi64(reinterpret_cast<__m128i*>(distances + page_start + t), best);
    }
    for (; t < count; ++t) {
      const uint8_t* key = page_codes + static_cast<size_t>(t) * bytes;
      int best = std::numeric_limits<int>::max();
      for (int j = 0; j < heads; ++j) best = std::min(best, l1_distance(query_codes + static_cast<size_t>(j) * bytes, key, view.head_dim));
      distances[page_start + t] = static_cast<uint16_t>(best);
    }
  }
}

__attribute__((target("avx2,fma,f16c"))) inline __m256 load8_as_f32(const void* row, DType dtype, int i) {
  switch (dtype) {
    case DType::kF32: return _mm256_loadu_ps(static_cast<const float*>(row) + i);
    case DType::kF16:
      return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + i)));
    default: {
      const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + i));
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
    }
  }
}

// canonical_dot, eight lanes at once (mul then add: no FMA, same rounding as the reference).
__attribute__((target("avx2,fma,f16c"))) float canonical_dot_avx2(const float* q, const void* key_row, DType dtype,
                                                                  int head_dim) {
  __m256 acc = _mm256_setzero_ps();
  for (int i = 0; i < head_dim; i += 8) acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(q + i), load8_as_f32(key_row, dtype, i)));
  alignas(32) float lane[8];
  _mm256_store_ps(lane, acc);
  return reduce_lanes(lane);
}

__attribute__((target("avx2,fma,f16c"))) float canonical_page_bound_avx2(const float* q, const float* page_min,
                                                                         const float* page_max, int head_dim) {
  __m256 acc = _mm256_setzero_ps();
  for (int i = 0; i < head_dim; i += 8) {
    const __m256 qv = _mm256_loadu_ps(q + i);
    const __m256 low = _mm256_mul_ps(qv, _mm256_loadu_ps(page_min + i));
    const __m256 high = _mm256_mul_ps(qv, _mm256_loadu_ps(page_max + i));
    acc = _mm256_add_ps(acc, _mm256_max_ps(low, high));  // max_ps(a, b) = a > b ? a : b, as the reference
  }
  alignas(32) float lane[8];
  _mm256_store_ps(lane, acc);
  return reduce_lanes(lane);
}
#endif

float dot_fast(const float* q, const void* key_row, DType dtype, int head_dim) {
#if defined(__x86_64__)
  if (head_dim >= 8 && vector_paths_enabled()) return canonical_dot_avx2(q, key_row, dtype, head_dim);
#endif
  return canonical_dot(q, key_row, dtype, head_dim);
}

float page_bound_fast(const float* q, const float* page_min, const float* page_max, int head_dim) {
#if defined(__x86_64__)
  if (head_dim >= 8 && vector_paths_enabled()) return canonical_page_bound_avx2(q, page_min, page_max, head_dim);
#endif
  return canonical_page_bound(q, page_min, page_max, head_dim);
}

// Scores positions [0, n-1) of one (sequence, KV head) for the adamas policy: integer distances
// into `distances` (l1, l2, hamming) or score keys into `keys` (asymmetric).
void estimate_adamas_unit(const SelectorOptions& options, const CodeBook& book, const PagedKvView& view, int seq,
                          int kv_head, int n, const float* query, int heads, uint16_t* distances,
                          std::vector<uint64_t>& keys) {
  const int d = view.head_dim;
  const int stride = code_stride_bytes(book.bits, d);
  thread_local std::vector<float> rotated;
  thread_local std::vector<uint64_t> query_words;  // packed query codes, 8-byte aligned per head
  const int words = (stride + 7) / 8;
  rotated.assign(static_cast<size_t>(heads) * d, 0.0f);
  query_words.assign(static_cast<size_t>(heads) * words, 0);
  for (int j = 0; j < heads; ++j) {
    float* r = rotated.data() + static_cast<size_t>(j) * d;
    std::copy(query + static_cast<size_t>(j) * d, query + static_cast<size_t>(j + 1) * d, r);
    if (book.hadamard) hadamard_transform(r, d);
    CodeBook unrotated = book;
    unrotated.hadamard = false;  // r is already rotated
    encode_with_code_book(r, d, unrotated, reinterpret_cast<uint8_t*>(query_words.data() + static_cast<size_t>(j) * words));
  }
  const bool vectorized = vector_paths_enabled();
  if (options.estimator == Estimator::kL1 && book.bits == 2) {
#if defined(__x86_64__)
    if (vectorized && (words == 4 || words == 8))
      return scan_min_l1_avx2(view, seq, kv_head, n - 1, reinterpret_cast<const uint8_t*>(query_words.data()), heads, distances);
    if (vectorized) return scan_dispatch_popcnt(view, seq, kv_head, n - 1, query_words.data(), heads, words, distances);
#endif
    return scan_dispatch(view, seq, kv_head, n - 1, query_words.data(), heads, words, distances);
  }
  if (options.estimator == Estimator::kAsymmetric) {
    // Per code byte, a 256-entry table of its four coordinates' summed contributions: the same
    // (p0 + p1) + (p2 + p3) the reference computes, looked up instead of recomputed.
    const int bytes = d / 4;
    thread_local std::vector<float> table;
    table.resize(static_cast<size_t>(heads) * bytes * 256);
    for (int j = 0; j < heads; ++j)
      for (int b = 0; b < bytes; ++b) {
        const float* r = rotated.data() + static_cast<size_t>(j) * d + 4 * b;
        float* entry = table.data() + (static_cast<size_t>(j) * bytes + b) * 256;
        for (int value = 0; value < 256; ++value) {
          float p[4];
          for (int c = 0; c < 4; ++c) p[c] = r[c] * book.centroids[(value >> (2 * c)) & 3];
          entry[value] = (p[0] + p[1]) + (p[2] + p[3]);
        }
      }
    keys.resize(static_cast<size_t>(n - 1));
    for (int t = 0; t < n - 1; ++t) {
      const uint8_t* key_code = view.key_codes + view.code_offset(seq, kv_head, t);
      float best = -std::numeric_limits<float>::infinity();
      for (int j = 0; j < heads; ++j) {
        const float* head_table = table.data() + static_cast<size_t>(j) * bytes * 256;
        float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int b = 0; b < bytes; ++b) lane[b & 7] += head_table[b * 256 + key_code[b]];
        best = std::max(best, reduce_lanes(lane));
      }
      keys[t] = score_key(best, static_cast<uint32_t>(t));
    }
    return;
  }
  for (int t = 0; t < n - 1; ++t) {  // l2, hamming, and l1 at 1 or 3 bits: unpacked levels
    const uint8_t* key_code = view.key_codes + view.code_offset(seq, kv_head, t);
    int best = std::numeric_limits<int>::max();
    for (int j = 0; j < heads; ++j)
      best = std::min(best, code_distance_ref(options.estimator, reinterpret_cast<const uint8_t*>(query_words.data() + static_cast<size_t>(j) * words),
                                              key_code, book.bits, d));
    distances[t] = static_cast<uint16_t>(best);
  }
}

// Reused across calls: no allocation per decode step once warm.
struct SelectorWorkspace {
  std::vector<uint16_t> distances;            // [unit][max_n]
  std::vector<std::vector<uint64_t>> keys;    // [unit] candidates' keys (oracle, quest)
  std::vector<std::vector<int32_t>> tokens;   // [unit] selected positions
};

}  // namespace

void select_tokens_cpu(const SelectorOptions& options, const PagedKvView& view, const float* q, int num_q_heads,
                       TokenSelection& selection, SelectorTimes* times) {
  check_selector_options(options, view);
  check_decode_inputs(view, q, num_q_heads);
  const SelectionShape shape = selection_shape(options, view, num_q_heads);
  prepare_selection(selection, view.batch, shape, options.per_query_head);
  const int d = view.head_dim, budget = options.token_budget;
  const int units = view.batch * shape.rows;
  const CodeBook book = selection_code_book(options, view);
  const size_t element_bytes = dtype_size_bytes(view.dtype);
  int max_n = 0;
  for (int seq = 0; seq < view.batch; ++seq) {
    const bool dense = options.policy == Policy::kFull || view.seq_lens[seq] <= budget;
    selection.dense[seq] = dense ? 1 : 0;
    if (!dense) max_n = std::max(max_n, view.seq_lens[seq]);
  }
  // The caller's workspace, shared by the worker threads below (each writes its own units).
  static thread_local SelectorWorkspace caller_workspace;
  SelectorWorkspace& workspace = caller_workspace;
  if (options.policy == Policy::kAdamas && workspace.distances.size() < static_cast<size_t>(units) * max_n)
    workspace.distances.resize(static_cast<size_t>(units) * max_n);
  if (workspace.keys.size() < static_cast<size_t>(units)) {
    workspace.keys.resize(units);
    workspace.tokens.resize(units);
  }

  // Phase 1: estimate (score every candidate of every non-dense unit).
  const auto estimate_start = Clock::now();
#pragma omp parallel for schedule(dynamic, 1)
  for (int unit = 0; unit < units; ++unit) {
    const int seq = unit / shape.rows, r = unit % shape.rows;
    if (selection.dense[seq]) continue;
    const int n = view.seq_lens[seq];
    const int kv_head = row_kv_head(options, shape, r);
    const int first_head = row_first_q_head(options, shape, r);
    const int heads = row_q_head_count(options, shape);
    const float* query = q + (static_cast<size_t>(seq) * num_q_heads + first_head) * d;
    std::vector<uint64_t>& keys = workspace.keys[unit];
    keys.clear();
    if (options.policy == Policy::kAdamas) {
      estimate_adamas_unit(options, book, view, seq, kv_head, n, query, heads,
                           workspace.distances.data() + static_cast<size_t>(unit) * max_n, keys);
    } else if (options.policy == Policy::kOracle) {
      keys.resize(static_cast<size_t>(n - 1));
      for (int t = 0; t < n - 1; ++t) {
        const auto* key_row = static_cast<const uint8_t*>(view.keys) + view.kv_offset(seq, kv_head, t) * element_bytes;
        float best = -std::numeric_limits<float>::infinity();
        for (int j = 0; j < heads; ++j) best = std::max(best, dot_fast(query + static_cast<size_t>(j) * d, key_row, view.dtype, d));
        keys[t] = score_key(best, static_cast<uint32_t>(t));
      }
    } else if (options.policy == Policy::kQuest) {
      const int pages = (n + view.page_size - 1) / view.page_size;
      keys.resize(static_cast<size_t>(pages - 1));
      for (int page = 0; page < pages - 1; ++page) {
        const size_t meta = view.page_meta_offset(seq, kv_head, page);
        float best = -std::numeric_limits<float>::infinity();
        for (int j = 0; j < heads; ++j)
          best = std::max(best, page_bound_fast(query + static_cast<size_t>(j) * d, view.page_min + meta, view.page_max + meta, d));
        keys[page] = score_key(best, static_cast<uint32_t>(page));
      }
    }
  }
  const double estimate_ms = elapsed_ms(estimate_start);

  // Phase 2: select and write the index lists.
  const auto select_start = Clock::now();
#pragma omp parallel for schedule(dynamic, 1)
  for (int unit = 0; unit < units; ++unit) {
    const int seq = unit / shape.rows;
    if (selection.dense[seq]) continue;
    const int n = view.seq_lens[seq];
    std::vector<int32_t>& tokens = workspace.tokens[unit];
    tokens.clear();
    switch (options.policy) {
      case Policy::kStreaming:
        streaming_positions(n, budget, options.sink_tokens, [&](int t) { tokens.push_back(t); });
        break;
      case Policy::kAdamas:
        if (options.estimator == Estimator::kAsymmetric)
          select_smallest_keys(workspace.keys[unit], budget - 1, tokens);
        else
          select_smallest_distances(workspace.distances.data() + static_cast<size_t>(unit) * max_n, n - 1, budget - 1,
                                    max_code_distance(options.estimator, book.bits, d), tokens);
        tokens.push_back(n - 1);
        break;
      case Policy::kOracle:
        select_smallest_keys(workspace.keys[unit], budget - 1, tokens);
        tokens.push_back(n - 1);
        break;
      case Policy::kQuest: {
        std::vector<int32_t> pages_kept;
        const int pages = (n + view.page_size - 1) / view.page_size;
        select_smallest_keys(workspace.keys[unit], quest_pages_kept(budget, view.page_size) - 1, pages_kept);
        pages_kept.push_back(pages - 1);
        for (int page : pages_kept)
          for (int t = page * view.page_size; t < std::min(n, (page + 1) * view.page_size); ++t) tokens.push_back(t);
        break;
      }
      case Policy::kFull:
        break;
    }
    std::copy(tokens.begin(), tokens.end(), selection.indices.data() + static_cast<size_t>(unit) * shape.capacity);
    selection.counts[unit] = static_cast<int32_t>(tokens.size());
  }
  if (times) {
    times->estimate_ms = estimate_ms;
    times->select_ms = elapsed_ms(select_start);
  }
}

}  // namespace adamas
