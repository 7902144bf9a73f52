// The device cache view every reading kernel's argument struct starts with (SelectArgs,
// AttentionArgs, PrefillAttentionArgs derive from it), filled in one place from a PagedKvView; and
// its writable twin for the kernels that store into one layer (AppendArgs, EncodeKeysArgs), filled
// by DeviceKvCache. Layouts: docs/kv_cache_layout.md.
#pragma once

#include <cstdint>

#include "adamas/dtype.h"
#include "adamas/kv_cache.h"
#include "cuda/page_divisor.h"

namespace adamas::cuda {

struct CacheViewArgs {
  const void* keys;            // [num_pages][num_kv_heads][page_size][head_dim] of dtype
  const void* values;          // same layout
  const uint8_t* key_codes;    // [num_pages][num_kv_heads][page_size][code bytes]
  const float* page_min;       // Quest's per-page key bounds
  const float* page_max;
  const int32_t* page_table;   // [batch][max_pages_per_seq]
  const int32_t* seq_lens;     // [batch]
  int max_pages_per_seq, num_kv_heads, head_dim, page_size;
  PageDivisor pages;           // page_size as a divisor: a position's page and offset
  DType dtype;
};

// The row of `position` for KV head kv_head in the paged layout, given the position's page id from
// the page table: K and V rows hold head_dim elements, code rows the code bytes.
__host__ __device__ inline size_t paged_row(const CacheViewArgs& a, int page, int kv_head, int position) {
  return (static_cast<size_t>(page) * a.num_kv_heads + kv_head) * a.page_size + a.pages.offset(position);
}

inline CacheViewArgs cache_view_args(const PagedKvView& view) {
  CacheViewArgs a{};
  a.keys = view.keys;
  a.values = view.values;
  a.key_codes = view.key_codes;
  a.page_min = view.page_min;
  a.page_max = view.page_max;
  a.page_table = view.page_table;
  a.seq_lens = view.seq_lens;
  a.max_pages_per_seq = view.max_pages_per_seq;
  a.num_kv_heads = view.num_kv_heads;
  a.head_dim = view.head_dim;
  a.page_size = view.page_size;
  a.pages = page_divisor(view.page_size);
  a.dtype = view.dtype;
  return a;
}

// Sets the view part of any argument struct derived from CacheViewArgs.
template <typename Args>
void set_cache_view(Args& args, const PagedKvView& view) {
  static_cast<CacheViewArgs&>(args) = cache_view_args(view);
}

// One layer of the cache as the writing kernels see it, and the tokens they write: positions
// first_position[b] .. first_position[b] + count - 1 (device int32 [batch]) of sequences first_seq + b.
struct CacheWriteArgs {
  void* keys;                  // [num_pages][num_kv_heads][page_size][head_dim] of dtype
  void* values;                // same layout
  uint8_t* key_codes;          // [num_pages][num_kv_heads][page_size][code bytes]
  float* page_min;             // Quest's per-page key bounds
  float* page_max;
  const int32_t* page_table;   // [max_batch][max_pages_per_seq]
  int max_pages_per_seq, num_kv_heads, head_dim, page_size;
  DType dtype;
  const int32_t* first_position;
  int batch, count;
  int first_seq = 0;  // sequence of blockIdx.z == 0
};

}  // namespace adamas::cuda
