// Paged KV cache for a batch of sequences of different lengths, with the per-token 2-bit key
// codes and Quest's per-page key min/max written as each token is appended.
// Layout (docs/kv_cache_layout.md is the contract; the CUDA backend uses the same one):
//   keys, values : [num_pages][num_kv_heads][page_size][head_dim]   elements of `dtype`
//   key_codes    : [num_pages][num_kv_heads][page_size][head_dim/4] bytes (key_codes.h packing)
//   page_min/max : [num_pages][num_kv_heads][head_dim]              fp32, over the page's stored keys
//   page_table   : [batch][max_pages_per_seq] int32 physical page of each logical page
//   seq_lens     : [batch] int32 tokens in the cache per sequence
// One page id addresses the same page in every layer (one page table for all layers).
#pragma once

#include <cstdint>
#include <vector>

#include "adamas/code_book.h"
#include "adamas/dtype.h"
#include "adamas/key_codes.h"

namespace adamas {

constexpr int kDefaultPageSize = 16;

// Non-owning view of one layer of a paged cache: what selectors and attention read. The same
// struct describes host memory (CPU backends) and device memory (CUDA backend).
struct PagedKvView {
  int batch = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int page_size = kDefaultPageSize;
  DType dtype = DType::kF32;
  const void* keys = nullptr;
  const void* values = nullptr;
  const uint8_t* key_codes = nullptr;
  const float* page_min = nullptr;
  const float* page_max = nullptr;
  const int32_t* page_table = nullptr;
  int max_pages_per_seq = 0;
  const int32_t* seq_lens = nullptr;
  // The layer's code format (bits, rotation, thresholds, centroids). Null means the paper's 2-bit
  // Hadamard codes with the selector's thresholds (what device-side views use).
  const CodeBook* code_book = nullptr;

  int code_bits() const { return code_book ? code_book->bits : 2; }

  // Element offset of (token position, kv head) of sequence `seq` in keys/values.
  size_t kv_offset(int seq, int kv_head, int position) const {
    const int page = page_table[static_cast<size_t>(seq) * max_pages_per_seq + position / page_size];
    return ((static_cast<size_t>(page) * num_kv_heads + kv_head) * page_size + position % page_size) *
           head_dim;
  }
  // Byte offset of the key code of (token position, kv head): code_stride_bytes per token and head.
  size_t code_offset(int seq, int kv_head, int position) const {
    return kv_offset(seq, kv_head, position) / head_dim * code_stride_bytes(code_bits(), head_dim);
  }
  // Offset of the page-level min/max vector of logical page `logical_page`.
  size_t page_meta_offset(int seq, int kv_head, int logical_page) const {
    const int page = page_table[static_cast<size_t>(seq) * max_pages_per_seq + logical_page];
    return (static_cast<size_t>(page) * num_kv_heads + kv_head) * head_dim;
  }
};

struct KvCacheConfig {
  int num_layers = 1;
  int num_kv_heads = 1;
  int head_dim = 128;
  int page_size = kDefaultPageSize;
  DType dtype = DType::kF16;
  int max_batch = 1;
  int max_tokens_per_seq = 4096;  // capacity per sequence, rounded up to whole pages
  Thresholds code_thresholds;     // used for the key codes written at append time
  int code_bits = 2;              // 1, 2 or 3 (the study's ablation; 2 is the method)
  bool code_hadamard = true;      // rotate keys before coding (the study's ablation)
};

// The code book every layer of a cache with this config starts with (before any calibration):
// 2 bits: CodeBook::from_thresholds(code_thresholds); 1 and 3 bits: fixed thresholds at the paper's
// scale (0; -30..30 in steps of 10). Rotation: code_hadamard. Shared by KvCache and DeviceKvCache.
CodeBook initial_code_book(const KvCacheConfig& config);

// Host-memory paged cache. Pages are allocated from a pool as sequences grow.
class KvCache {
 public:
  explicit KvCache(const KvCacheConfig& config);  // validates the config; throws adamas::Error

  const KvCacheConfig& config() const { return config_; }
  int batch() const { return static_cast<int>(seq_lens_.size()); }
  int seq_len(int seq) const { return seq_lens_.at(seq); }

  // Starts a new empty sequence; returns its index. Throws when max_batch is reached.
  int add_sequence();
  // Empties every sequence and returns all pages to the pool.
  void clear();

  // Grows sequence `seq` by `count` positions (allocating pages) and returns the first new
  // position. The new positions must then be written in every layer with write_tokens.
  int reserve_tokens(int seq, int count);
  // Writes `count` tokens at positions [first, first + count) of layer `layer`:
  // keys/values are fp32 [count][num_kv_heads][head_dim], keys after RoPE. Stores them in the
  // cache dtype, and from the stored (rounded) keys writes the key codes (Hadamard, bucketize,
  // pack) and updates the page min/max. Throws on bad positions or non-finite keys/values.
  void write_tokens(int layer, int seq, int first, int count, const float* keys, const float* values);
  // Shortens sequence `seq` to its first `length` tokens: pages past them return to the pool, and
  // the page min/max of a partially kept last page is recomputed from its stored keys in position
  // order, so the cache equals one that only ever held those tokens. Throws when length is
  // outside [0, seq_len].
  void truncate(int seq, int length);
  // reserve_tokens + write_tokens for a single-layer cache.
  void append(int seq, const float* keys, const float* values, int count = 1);

  PagedKvView view(int layer) const;

  // Replaces layer `layer`'s code format and re-encodes every cached token of that layer with it
  // (calibration after prefill). The bits must stay those of the config (the storage is sized
  // for them). Throws adamas::Error on an invalid book.
  void set_code_book(int layer, const CodeBook& book);
  const CodeBook& code_book(int layer) const { return code_books_.at(layer); }
  size_t bytes_allocated() const;

 private:
  int allocate_page();
  void check_finite(const float* keys, const float* values, int count) const;

  KvCacheConfig config_;
  int num_pages_ = 0;
  int max_pages_per_seq_ = 0;
  std::vector<std::vector<uint8_t>> keys_, values_;       // per layer
  std::vector<std::vector<uint8_t>> key_codes_;           // per layer
  std::vector<std::vector<float>> page_min_, page_max_;   // per layer
  std::vector<int32_t> page_table_;                       // [max_batch][max_pages_per_seq]
  std::vector<int32_t> seq_lens_;
  std::vector<int32_t> free_pages_;
  std::vector<CodeBook> code_books_;                      // per layer
};

}  // namespace adamas
