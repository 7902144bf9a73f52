#include "adamas/kv_cache.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "adamas/error.h"
#include "adamas/hadamard.h"

namespace adamas {

CodeBook initial_code_book(const KvCacheConfig& config) {
  CodeBook book = CodeBook::from_thresholds(config.code_thresholds);
  if (config.code_bits != 2) {  // default thresholds for the ablation widths, at the paper's scale
    book.bits = config.code_bits;
    book.thresholds = config.code_bits == 1 ? std::array<float, 7>{0, 0, 0, 0, 0, 0, 0}
                                            : std::array<float, 7>{-30, -20, -10, 0, 10, 20, 30};
    book.centroids = config.code_bits == 1 ? std::array<float, 8>{-10, 10, 0, 0, 0, 0, 0, 0}
                                           : std::array<float, 8>{-35, -25, -15, -5, 5, 15, 25, 35};
  }
  book.hadamard = config.code_hadamard;
  return book;
}

KvCache::KvCache(const KvCacheConfig& config) : config_(config) {
  check_head_dim(config.head_dim);
  check_thresholds(config.code_thresholds);
  ADAMAS_CHECK(config.code_bits >= 1 && config.code_bits <= 3, "KV cache: code_bits must be 1, 2 or 3, got ", config.code_bits);
  ADAMAS_CHECK(code_stride_bytes(config.code_bits, config.head_dim) >= 1, "KV cache: ", config.code_bits,
               "-bit codes of head_dim ", config.head_dim, " would be shorter than a byte");
  ADAMAS_CHECK(config.num_layers > 0, "KV cache: num_layers must be positive, got ", config.num_layers);
  ADAMAS_CHECK(config.num_kv_heads > 0, "KV cache: num_kv_heads must be positive, got ", config.num_kv_heads);
  ADAMAS_CHECK(config.page_size > 0 && config.page_size <= 4096,
               "KV cache: page_size must be in [1, 4096], got ", config.page_size);
  ADAMAS_CHECK(config.max_batch > 0, "KV cache: max_batch must be positive, got ", config.max_batch);
  ADAMAS_CHECK(config.max_tokens_per_seq > 0, "KV cache: max_tokens_per_seq must be positive, got ",
               config.max_tokens_per_seq);
  max_pages_per_seq_ = (config.max_tokens_per_seq + config.page_size - 1) / config.page_size;
  num_pages_ = max_pages_per_seq_ * config.max_batch;
  const size_t page_elements = static_cast<size_t>(config.num_kv_heads) * config.page_size * config.head_dim;
  const size_t kv_bytes = static_cast<size_t>(num_pages_) * page_elements * dtype_size_bytes(config.dtype);
  const size_t meta_floats = static_cast<size_t>(num_pages_) * config.num_kv_heads * config.head_dim;
  ADAMAS_CHECK(2.0 * kv_bytes * config.num_layers < 64.0 * (1ull << 30),
               "KV cache: ", config.num_layers, " layers x ", num_pages_, " pages would need ",
               2.0 * kv_bytes * config.num_layers / (1ull << 30), " GiB of host memory; lower max_batch or max_tokens_per_seq");
  for (int layer = 0; layer < config.num_layers; ++layer) {
    keys_.emplace_back(kv_bytes);
    values_.emplace_back(kv_bytes);
    key_codes_.emplace_back(static_cast<size_t>(num_pages_) * page_elements / config.head_dim *
                            code_stride_bytes(config.code_bits, config.head_dim));
    page_min_.emplace_back(meta_floats);
    page_max_.emplace_back(meta_floats);
  }
  page_table_.assign(static_cast<size_t>(config.max_batch) * max_pages_per_seq_, -1);
  code_books_.assign(static_cast<size_t>(config.num_layers), initial_code_book(config));
  clear();
}

void KvCache::clear() {
  seq_lens_.clear();
  std::fill(page_table_.begin(), page_table_.end(), -1);
  free_pages_.clear();
  // Hand out pages from the front first (pop_back takes the last element).
  for (int page = num_pages_ - 1; page >= 0; --page) free_pages_.push_back(page);
}

int KvCache::add_sequence() {
  ADAMAS_CHECK(batch() < config_.max_batch, "KV cache: cannot add sequence ", batch(), ", max_batch is ",
               config_.max_batch);
  seq_lens_.push_back(0);
  return batch() - 1;
}

int KvCache::allocate_page() {
  ADAMAS_CHECK(!free_pages_.empty(), "KV cache: out of pages");
  const int page = free_pages_.back();
  free_pages_.pop_back();
  const size_t meta = static_cast<size_t>(config_.num_kv_heads) * config_.head_dim;
  for (int layer = 0; layer < config_.num_layers; ++layer) {
    std::fill_n(page_min_[layer].begin() + static_cast<std::ptrdiff_t>(page * meta), meta, std::numeric_limits<float>::infinity());
    std::fill_n(page_max_[layer].begin() + static_cast<std::ptrdiff_t>(page * meta), meta, -std::numeric_limits<float>::infinity());
  }
  return page;
}

int KvCache::reserve_tokens(int seq, int count) {
  ADAMAS_CHECK(seq >= 0 && seq < batch(), "KV cache: sequence ", seq, " does not exist (batch ", batch(), ")");
  ADAMAS_CHECK(count >= 0, "KV cache: cannot reserve ", count, " tokens");
  const int first = seq_lens_[seq];
  ADAMAS_CHECK(static_cast<int64_t>(first) + count <= config_.max_tokens_per_seq,
               "KV cache: sequence ", seq, " would hold ", static_cast<int64_t>(first) + count,
               " tokens, capacity is ", config_.max_tokens_per_seq);
  const int pages_needed = (first + count + config_.page_size - 1) / config_.page_size;
  for (int logical = (first + config_.page_size - 1) / config_.page_size; logical < pages_needed; ++logical)
    page_table_[static_cast<size_t>(seq) * max_pages_per_seq_ + logical] = allocate_page();
  seq_lens_[seq] = first + count;
  return first;
}

void KvCache::write_tokens(int layer, int seq, int first, int count, const float* keys, const float* values) {
  ADAMAS_CHECK(layer >= 0 && layer < config_.num_layers, "KV cache: layer ", layer, " out of range [0, ",
               config_.num_layers, ")");
  ADAMAS_CHECK(seq >= 0 && seq < batch(), "KV cache: sequence ", seq, " does not exist (batch ", batch(), ")");
  ADAMAS_CHECK(first >= 0 && count >= 0 && first + count <= seq_lens_[seq], "KV cache: positions [", first, ", ",
               first + count, ") of sequence ", seq, " were not reserved (length ", seq_lens_[seq], ")");
  check_finite(keys, values, count);
  const int d = config_.head_dim, heads = config_.num_kv_heads;
  const size_t row = static_cast<size_t>(heads) * d;
  const PagedKvView layer_view = view(layer);
  const CodeBook& book = code_books_[layer];
  std::vector<float> stored(d);
  for (int t = 0; t < count; ++t) {
    const int position = first + t;
    for (int h = 0; h < heads; ++h) {
      const size_t offset = layer_view.kv_offset(seq, h, position);
      const float* key = keys + t * row + static_cast<size_t>(h) * d;
      const float* value = values + t * row + static_cast<size_t>(h) * d;
      float* page_min = page_min_[layer].data() + layer_view.page_meta_offset(seq, h, position / config_.page_size);
      float* page_max = page_max_[layer].data() + layer_view.page_meta_offset(seq, h, position / config_.page_size);
      for (int i = 0; i < d; ++i) {
        store_from_f32(keys_[layer].data(), config_.dtype, offset + i, key[i]);
        store_from_f32(values_[layer].data(), config_.dtype, offset + i, value[i]);
        // Codes and page bounds come from the key as stored, so every backend derives the same.
        stored[i] = load_as_f32(keys_[layer].data(), config_.dtype, offset + i);
        page_min[i] = std::min(page_min[i], stored[i]);
        page_max[i] = std::max(page_max[i], stored[i]);
      }
      encode_with_code_book(stored.data(), d, book, key_codes_[layer].data() + layer_view.code_offset(seq, h, position));
    }
  }
}

void KvCache::truncate(int seq, int length) {
  ADAMAS_CHECK(seq >= 0 && seq < batch(), "KV cache: sequence ", seq, " does not exist (batch ", batch(), ")");
  ADAMAS_CHECK(length >= 0 && length <= seq_lens_[seq], "KV cache: cannot truncate sequence ", seq, " of length ",
               seq_lens_[seq], " to ", length, " tokens");
  const int p = config_.page_size;
  const int kept_pages = (length + p - 1) / p;
  int32_t* table = page_table_.data() + static_cast<size_t>(seq) * max_pages_per_seq_;
  // Freed from the last page down, so the next allocations hand them out in their old order.
  for (int logical = (seq_lens_[seq] + p - 1) / p - 1; logical >= kept_pages; --logical) {
    free_pages_.push_back(table[logical]);
    table[logical] = -1;
  }
  seq_lens_[seq] = length;
  const int slots = length % p;
  if (slots == 0) return;  // no partial page: the next token starts a fresh page
  const int d = config_.head_dim;
  for (int layer = 0; layer < config_.num_layers; ++layer) {
    const PagedKvView layer_view = view(layer);
    for (int h = 0; h < config_.num_kv_heads; ++h) {
      float* page_min = page_min_[layer].data() + layer_view.page_meta_offset(seq, h, kept_pages - 1);
      float* page_max = page_max_[layer].data() + layer_view.page_meta_offset(seq, h, kept_pages - 1);
      std::fill_n(page_min, d, std::numeric_limits<float>::infinity());
      std::fill_n(page_max, d, -std::numeric_limits<float>::infinity());
      for (int position = length - slots; position < length; ++position) {  // write_tokens' order
        const size_t offset = layer_view.kv_offset(seq, h, position);
        for (int i = 0; i < d; ++i) {
          const float stored = load_as_f32(keys_[layer].data(), config_.dtype, offset + i);
          page_min[i] = std::min(page_min[i], stored);
          page_max[i] = std::max(page_max[i], stored);
        }
      }
    }
  }
}

void KvCache::check_finite(const float* keys, const float* values, int count) const {
  const size_t row = static_cast<size_t>(config_.num_kv_heads) * config_.head_dim;
  for (size_t i = 0; i < static_cast<size_t>(count) * row; ++i)
    ADAMAS_CHECK(std::isfinite(keys[i]) && std::isfinite(values[i]), "KV cache: non-finite key or value (",
                 std::isfinite(keys[i]) ? values[i] : keys[i], ") in token ", i / row, " of the ", count, " written");
}

void KvCache::append(int seq, const float* keys, const float* values, int count) {
  ADAMAS_CHECK(config_.num_layers == 1, "KV cache: append() is for single-layer caches; use reserve_tokens + write_tokens");
  check_finite(keys, values, count);  // before reserving, so a bad token leaves the cache unchanged
  const int first = reserve_tokens(seq, count);
  write_tokens(0, seq, first, count, keys, values);
}

PagedKvView KvCache::view(int layer) const {
  ADAMAS_CHECK(layer >= 0 && layer < config_.num_layers, "KV cache: layer ", layer, " out of range");
  PagedKvView v;
  v.batch = batch();
  v.num_kv_heads = config_.num_kv_heads;
  v.head_dim = config_.head_dim;
  v.page_size = config_.page_size;
  v.dtype = config_.dtype;
  v.keys = keys_[layer].data();
  v.values = values_[layer].data();
  v.key_codes = key_codes_[layer].data();
  v.page_min = page_min_[layer].data();
  v.page_max = page_max_[layer].data();
  v.page_table = page_table_.data();
  v.max_pages_per_seq = max_pages_per_seq_;
  v.seq_lens = seq_lens_.data();
  v.code_book = &code_books_[layer];
  return v;
}

void KvCache::set_code_book(int layer, const CodeBook& book) {
  ADAMAS_CHECK(layer >= 0 && layer < config_.num_layers, "KV cache: layer ", layer, " out of range");
  check_code_book(book);
  ADAMAS_CHECK(book.bits == config_.code_bits, "KV cache: the cache stores ", config_.code_bits,
               "-bit codes, cannot switch layer ", layer, " to ", book.bits, " bits");
  code_books_[layer] = book;
  const PagedKvView layer_view = view(layer);
  const int d = config_.head_dim;
  std::vector<float> stored(d);
  for (int seq = 0; seq < batch(); ++seq)
    for (int h = 0; h < config_.num_kv_heads; ++h)
      for (int t = 0; t < seq_lens_[seq]; ++t) {
        const size_t offset = layer_view.kv_offset(seq, h, t);
        for (int i = 0; i < d; ++i) stored[i] = load_as_f32(keys_[layer].data(), config_.dtype, offset + i);
        encode_with_code_book(stored.data(), d, book, key_codes_[layer].data() + layer_view.code_offset(seq, h, t));
      }
}

size_t KvCache::bytes_allocated() const {
  size_t total = 0;
  for (int layer = 0; layer < config_.num_layers; ++layer)
    total += keys_[layer].size() + values_[layer].size() + key_codes_[layer].size() +
             4 * (page_min_[layer].size() + page_max_[layer].size());
  return total;
}

}  // namespace adamas
