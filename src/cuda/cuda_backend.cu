// DeviceKvCache and DecodePlan: buffers, validation and the launch sequence of each policy.
#include "adamas/cuda_backend.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "adamas/hadamard.h"
#include "cuda/append.cuh"
#include "cuda/decode_attention.cuh"
#include "cuda/device_buffer.cuh"
#include "cuda/event_timer.cuh"
#include "cuda/generic_codes.cuh"
#include "cuda/adamas_fused.cuh"
#include "cuda/adamas_step.cuh"
#include "cuda/grid_step.cuh"
#include "cuda/asymmetric.cuh"
#include "cuda/score.cuh"
#include "cuda/select.cuh"
#include "select/selector_common.h"

namespace adamas::cuda {

bool gpu_available() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" status
    return false;
  }
  return count > 0;
}

std::string gpu_name() {
  ADAMAS_CHECK(gpu_available(), "no CUDA device is present");
  cudaDeviceProp props{};
  ADAMAS_CUDA_CHECK(cudaGetDeviceProperties(&props, 0));
  return props.name;
}

double copy_bandwidth_gb_per_s() {
  ADAMAS_CHECK(gpu_available(), "no CUDA device is present");
  const size_t bytes = size_t{2} << 30;
  DeviceBuffer<uint8_t> source(bytes), target(bytes);
  ADAMAS_CUDA_CHECK(cudaMemset(source.data(), 1, bytes));
  const float ms = median_event_ms(/*stream=*/nullptr, /*warmup=*/2, /*iterations=*/6, [&] {
    ADAMAS_CUDA_CHECK(cudaMemcpyAsync(target.data(), source.data(), bytes, cudaMemcpyDeviceToDevice));
  });
  return 2.0 * bytes / (ms * 1e-3) / 1e9;  // a copy reads and writes `bytes`
}

static void check_gpu_shape(int head_dim, DType dtype, const char* what) {
  check_head_dim(head_dim);
  ADAMAS_CHECK(head_dim == 64 || head_dim == 128 || head_dim == 256, what, ": head_dim ", head_dim,
               " is not supported by the CUDA backend (64, 128, 256)");
  (void)dtype;
}

// cudaDeviceSynchronize would invalidate another thread's open graph capture: ordered by the
// process-wide lock of capture_lock.cuh.
static void synchronize_device() {
  DeviceSyncScope sync_scope;
  ADAMAS_CUDA_CHECK(cudaDeviceSynchronize());
}

// ---------------------------------------------------------------- DeviceKvCache

struct DeviceKvCache::Impl {
  KvCacheConfig config;
  int num_pages = 0, max_pages_per_seq = 0, batch = 0;
  size_t page_elements = 0;
  std::vector<DeviceBuffer<uint8_t>> keys, values, key_codes;
  std::vector<DeviceBuffer<float>> page_min, page_max;
  DeviceBuffer<int32_t> page_table, seq_lens;
  std::vector<CodeBook> code_books;  // per layer, host copies: append thresholds, views' code_book

  // Host copies of the page table and lengths of the current batch; returns the token count.
  int download_batch(std::vector<int32_t>& table, std::vector<int32_t>& lens) const {
    synchronize_device();
    table.assign(static_cast<size_t>(batch) * max_pages_per_seq, 0);
    lens.assign(batch, 0);
    if (batch == 0) return 0;
    ADAMAS_CUDA_CHECK(cudaMemcpy(table.data(), page_table.data(), table.size() * 4, cudaMemcpyDeviceToHost));
    ADAMAS_CUDA_CHECK(cudaMemcpy(lens.data(), seq_lens.data(), lens.size() * 4, cudaMemcpyDeviceToHost));
    int total = 0;
    for (int n : lens) total += n;
    return total;
  }
  // Element offset of token t of (seq, kv_head) in the K/V buffers (docs/kv_cache_layout.md).
  size_t kv_offset(const std::vector<int32_t>& table, int seq, int kv_head, int t) const {
    const int page = config.page_size;
    return ((static_cast<size_t>(table[static_cast<size_t>(seq) * max_pages_per_seq + t / page]) * config.num_kv_heads +
             kv_head) * page + t % page) * config.head_dim;
  }
};

DeviceKvCache::DeviceKvCache(const KvCacheConfig& config) : impl_(std::make_unique<Impl>()) {
  check_gpu_shape(config.head_dim, config.dtype, "DeviceKvCache");
  check_thresholds(config.code_thresholds);
  ADAMAS_CHECK(config.code_bits >= 1 && config.code_bits <= 3, "DeviceKvCache: code_bits must be 1, 2 or 3, got ",
               config.code_bits);
  ADAMAS_CHECK(config.num_layers > 0 && config.num_kv_heads > 0 && config.max_batch > 0 && config.max_tokens_per_seq > 0,
               "DeviceKvCache: num_layers, num_kv_heads, max_batch and max_tokens_per_seq must be positive");
  ADAMAS_CHECK(config.page_size > 0 && config.page_size <= 4096, "DeviceKvCache: page_size must be in [1, 4096], got ",
               config.page_size);
  ADAMAS_CHECK(gpu_available(), "DeviceKvCache: no CUDA device is present");
  Impl& m = *impl_;
  m.config = config;
  m.max_pages_per_seq = (config.max_tokens_per_seq + config.page_size - 1) / config.page_size;
  m.num_pages = m.max_pages_per_seq * config.max_batch;
  m.page_elements = static_cast<size_t>(config.num_kv_heads) * config.page_size * config.head_dim;
  const size_t kv_bytes = static_cast<size_t>(m.num_pages) * m.page_elements * dtype_size_bytes(config.dtype);
  const size_t meta = static_cast<size_t>(m.num_pages) * config.num_kv_heads * config.head_dim;
  for (int layer = 0; layer < config.num_layers; ++layer) {
    m.keys.emplace_back(kv_bytes);
    m.values.emplace_back(kv_bytes);
    // code_stride_bytes per (token, KV head), as KvCache (code_book.h layouts).
    m.key_codes.emplace_back(static_cast<size_t>(m.num_pages) * m.page_elements / config.head_dim *
                             code_stride_bytes(config.code_bits, config.head_dim));
    m.page_min.emplace_back(meta);
    m.page_max.emplace_back(meta);
    m.code_books.push_back(initial_code_book(config));
  }
  m.page_table.resize(static_cast<size_t>(config.max_batch) * m.max_pages_per_seq);
  m.seq_lens.resize(static_cast<size_t>(config.max_batch));
  m.seq_lens.zero();
}

DeviceKvCache::~DeviceKvCache() = default;
const KvCacheConfig& DeviceKvCache::config() const { return impl_->config; }
int DeviceKvCache::num_pages() const { return impl_->num_pages; }
int DeviceKvCache::max_pages_per_seq() const { return impl_->max_pages_per_seq; }
int32_t* DeviceKvCache::device_seq_lens() { return impl_->seq_lens.data(); }

void DeviceKvCache::upload(const KvCache& host) {
  Impl& m = *impl_;
  const KvCacheConfig& h = host.config();
  ADAMAS_CHECK(h.num_layers == m.config.num_layers && h.num_kv_heads == m.config.num_kv_heads &&
                   h.head_dim == m.config.head_dim && h.page_size == m.config.page_size && h.dtype == m.config.dtype &&
                   h.max_batch == m.config.max_batch && h.max_tokens_per_seq == m.config.max_tokens_per_seq &&
                   h.code_bits == m.config.code_bits,
               "DeviceKvCache::upload: the host cache's config differs from the device cache's");
  for (int layer = 0; layer < m.config.num_layers; ++layer) {
    const PagedKvView v = host.view(layer);
    ADAMAS_CUDA_CHECK(cudaMemcpy(m.keys[layer].data(), v.keys, m.keys[layer].bytes(), cudaMemcpyHostToDevice));
    ADAMAS_CUDA_CHECK(cudaMemcpy(m.values[layer].data(), v.values, m.values[layer].bytes(), cudaMemcpyHostToDevice));
    ADAMAS_CUDA_CHECK(cudaMemcpy(m.key_codes[layer].data(), v.key_codes, m.key_codes[layer].bytes(), cudaMemcpyHostToDevice));
    ADAMAS_CUDA_CHECK(cudaMemcpy(m.page_min[layer].data(), v.page_min, m.page_min[layer].bytes(), cudaMemcpyHostToDevice));
    ADAMAS_CUDA_CHECK(cudaMemcpy(m.page_max[layer].data(), v.page_max, m.page_max[layer].bytes(), cudaMemcpyHostToDevice));
    m.code_books[layer] = host.code_book(layer);
  }
  const PagedKvView v = host.view(0);
  std::vector<int32_t> table(v.page_table, v.page_table + static_cast<size_t>(m.config.max_batch) * m.max_pages_per_seq);
  std::vector<int32_t> lens(v.seq_lens, v.seq_lens + v.batch);
  set_page_table(table, lens);
}

void DeviceKvCache::set_page_table(const std::vector<int32_t>& page_table, const std::vector<int32_t>& seq_lens) {
  Impl& m = *impl_;
  const int batch = static_cast<int>(seq_lens.size());
  ADAMAS_CHECK(batch <= m.config.max_batch, "DeviceKvCache: batch ", batch, " exceeds max_batch ", m.config.max_batch);
  ADAMAS_CHECK(page_table.size() >= static_cast<size_t>(batch) * m.max_pages_per_seq, "DeviceKvCache: page table has ",
               page_table.size(), " entries, expected ", static_cast<size_t>(batch) * m.max_pages_per_seq);
  for (int s = 0; s < batch; ++s) {
    ADAMAS_CHECK(seq_lens[s] >= 0 && seq_lens[s] <= m.max_pages_per_seq * m.config.page_size, "DeviceKvCache: sequence ",
                 s, " length ", seq_lens[s], " exceeds the capacity");
    for (int p = 0; p < (seq_lens[s] + m.config.page_size - 1) / m.config.page_size; ++p) {
      const int32_t page = page_table[static_cast<size_t>(s) * m.max_pages_per_seq + p];
      ADAMAS_CHECK(page >= 0 && page < m.num_pages, "DeviceKvCache: sequence ", s, " logical page ", p,
                   " maps to page ", page, ", expected 0..", m.num_pages - 1);
    }
  }
  ADAMAS_CUDA_CHECK(cudaMemcpy(m.page_table.data(), page_table.data(),
                               static_cast<size_t>(batch) * m.max_pages_per_seq * sizeof(int32_t), cudaMemcpyHostToDevice));
  if (batch > 0)
    ADAMAS_CUDA_CHECK(cudaMemcpy(m.seq_lens.data(), seq_lens.data(), batch * sizeof(int32_t), cudaMemcpyHostToDevice));
  m.batch = batch;
}

bool DeviceKvCache::append_chained(int layer, const float* keys, const float* values, const int32_t* first_position,
                                   int first_seq, int batch, int count, StreamHandle stream) {
  ADAMAS_CHECK(layer >= 0 && layer < impl_->config.num_layers, "DeviceKvCache::append_chained: layer ", layer, " out of range");
  if (!fused_append_codes(impl_->code_books[layer])) return false;
  append(layer, keys, values, first_position, first_seq, batch, count, stream, /*chained=*/true);
  return true;
}

void DeviceKvCache::append(int layer, const float* keys, const float* values, const int32_t* first_position,
                           int first_seq, int batch, int count, StreamHandle stream) {
  append(layer, keys, values, first_position, first_seq, batch, count, stream, /*chained=*/false);
}

void DeviceKvCache::append(int layer, const float* keys, const float* values, const int32_t* first_position,
                           int first_seq, int batch, int count, StreamHandle stream, bool chained) {
  Impl& m = *impl_;
  ADAMAS_CHECK(layer >= 0 && layer < m.config.num_layers, "DeviceKvCache::append: layer ", layer, " out of range");
  ADAMAS_CHECK(first_seq >= 0 && batch >= 0 && first_seq + batch <= m.config.max_batch && count >= 0,
               "DeviceKvCache::append: sequences ", first_seq, "..", first_seq + batch - 1, " / count ", count,
               " out of range (max_batch ", m.config.max_batch, ")");
  CacheWriteArgs layer_cache{};
  layer_cache.keys = m.keys[layer].data();
  layer_cache.values = m.values[layer].data();
  layer_cache.key_codes = m.key_codes[layer].data();
  layer_cache.page_min = m.page_min[layer].data();
  layer_cache.page_max = m.page_max[layer].data();
  layer_cache.page_table = m.page_table.data();
  layer_cache.max_pages_per_seq = m.max_pages_per_seq;
  layer_cache.num_kv_heads = m.config.num_kv_heads;
  layer_cache.head_dim = m.config.head_dim;
  layer_cache.page_size = m.config.page_size;
  layer_cache.dtype = m.config.dtype;
  layer_cache.first_position = first_position;
  layer_cache.batch = batch;
  layer_cache.count = count;
  layer_cache.first_seq = first_seq;
  AppendArgs a{};
  static_cast<CacheWriteArgs&>(a) = layer_cache;
  const CodeBook& book = m.code_books[layer];
  a.write_codes = fused_append_codes(book);
  a.thresholds = a.write_codes ? book.two_bit_thresholds() : Thresholds{};
  a.new_keys = keys;
  a.new_values = values;
  a.chained = chained;
  launch_append(a, to_stream(stream));
  if (a.write_codes) return;
  // Any other book: code the keys just stored (generic_codes.cuh), same stream, after the append.
  EncodeKeysArgs e{};
  static_cast<CacheWriteArgs&>(e) = layer_cache;
  e.book = to_device_code_book(book, m.config.head_dim);
  launch_encode_keys(e, to_stream(stream));
}

void DeviceKvCache::truncate(int seq, int length, StreamHandle stream) {
  Impl& m = *impl_;
  ADAMAS_CHECK(seq >= 0 && seq < m.config.max_batch, "DeviceKvCache::truncate: sequence ", seq, " out of range");
  ADAMAS_CHECK(length >= 0 && length <= m.max_pages_per_seq * m.config.page_size, "DeviceKvCache::truncate: length ",
               length, " exceeds the capacity");
  const int slots = length % m.config.page_size;
  if (slots == 0) return;  // no partial page: the next append starts a fresh page
  // The page table is planned on the host (set_page_table) and fixed afterwards; read the entry back.
  int32_t page = -1;
  ADAMAS_CUDA_CHECK(cudaMemcpy(&page, m.page_table.data() + static_cast<size_t>(seq) * m.max_pages_per_seq +
                                          length / m.config.page_size,
                               sizeof(int32_t), cudaMemcpyDeviceToHost));
  ADAMAS_CHECK(page >= 0 && page < m.num_pages, "DeviceKvCache::truncate: position ", length - 1, " of sequence ", seq,
               " has no page");
  for (int layer = 0; layer < m.config.num_layers; ++layer) {
    PageBoundsArgs a{};
    a.keys = m.keys[layer].data();
    a.page_min = m.page_min[layer].data();
    a.page_max = m.page_max[layer].data();
    a.page = page;
    a.slots = slots;
    a.num_kv_heads = m.config.num_kv_heads;
    a.head_dim = m.config.head_dim;
    a.page_size = m.config.page_size;
    a.dtype = m.config.dtype;
    launch_page_bounds(a, to_stream(stream));
  }
}

PagedKvView DeviceKvCache::view(int layer) const {
  const Impl& m = *impl_;
  ADAMAS_CHECK(layer >= 0 && layer < m.config.num_layers, "DeviceKvCache::view: layer ", layer, " out of range");
  PagedKvView v;
  v.batch = m.batch;
  v.num_kv_heads = m.config.num_kv_heads;
  v.head_dim = m.config.head_dim;
  v.page_size = m.config.page_size;
  v.dtype = m.config.dtype;
  v.keys = m.keys[layer].data();
  v.values = m.values[layer].data();
  v.key_codes = m.key_codes[layer].data();
  v.page_min = m.page_min[layer].data();
  v.page_max = m.page_max[layer].data();
  v.page_table = m.page_table.data();
  v.max_pages_per_seq = m.max_pages_per_seq;
  v.seq_lens = m.seq_lens.data();
  v.code_book = &m.code_books[layer];
  return v;
}

const CodeBook& DeviceKvCache::code_book(int layer) const { return impl_->code_books.at(layer); }

void DeviceKvCache::set_code_book(int layer, const CodeBook& book) {
  Impl& m = *impl_;
  ADAMAS_CHECK(layer >= 0 && layer < m.config.num_layers, "DeviceKvCache::set_code_book: layer ", layer, " out of range");
  check_code_book(book);
  ADAMAS_CHECK(book.bits == m.config.code_bits, "DeviceKvCache::set_code_book: the cache stores ", m.config.code_bits,
               "-bit codes, cannot switch layer ", layer, " to ", book.bits, " bits");
  m.code_books[layer] = book;
  // Re-encode the cached keys on the host with the CPU's encoder (a calibration step, not a
  // per-token one): the codes are then those KvCache::set_code_book writes, by construction.
  const int d = m.config.head_dim, code_stride = code_stride_bytes(book.bits, d);
  std::vector<int32_t> table, lens;
  if (m.download_batch(table, lens) == 0) return;
  std::vector<uint8_t> keys(m.keys[layer].size()), codes(m.key_codes[layer].size());
  ADAMAS_CUDA_CHECK(cudaMemcpy(keys.data(), m.keys[layer].data(), keys.size(), cudaMemcpyDeviceToHost));
  ADAMAS_CUDA_CHECK(cudaMemcpy(codes.data(), m.key_codes[layer].data(), codes.size(), cudaMemcpyDeviceToHost));
  std::vector<float> stored(d);
  for (int seq = 0; seq < m.batch; ++seq)
    for (int h = 0; h < m.config.num_kv_heads; ++h)
      for (int t = 0; t < lens[seq]; ++t) {
        const size_t offset = m.kv_offset(table, seq, h, t);
        for (int i = 0; i < d; ++i) stored[i] = load_as_f32(keys.data(), m.config.dtype, offset + i);
        encode_with_code_book(stored.data(), d, book, codes.data() + offset / d * code_stride);
      }
  ADAMAS_CUDA_CHECK(cudaMemcpy(m.key_codes[layer].data(), codes.data(), codes.size(), cudaMemcpyHostToDevice));
}

std::vector<CodeBook> calibrate_device_code_books(DeviceKvCache& cache, const std::vector<double>& quantiles) {
  const KvCacheConfig& config = cache.config();
  const DeviceKvCache::Impl& m = *cache.impl_;
  const int bits = config.code_bits;
  const std::vector<double> levels = quantiles.empty() ? equal_mass_quantiles(bits) : quantiles;
  const int d = config.head_dim;
  std::vector<int32_t> table, lens;
  const int tokens = m.download_batch(table, lens);
  ADAMAS_CHECK(tokens > 0, "calibration: the device cache holds no tokens");
  std::vector<float> values(static_cast<size_t>(tokens) * config.num_kv_heads * d);
  std::vector<uint8_t> keys;
  std::vector<CodeBook> books;
  for (int layer = 0; layer < config.num_layers; ++layer) {
    keys.resize(m.keys[layer].size());
    ADAMAS_CUDA_CHECK(cudaMemcpy(keys.data(), m.keys[layer].data(), keys.size(), cudaMemcpyDeviceToHost));
    // Pooled in the CPU runtime's order (position, then KV head; sequences one after another).
    const bool hadamard = m.code_books[layer].hadamard;
    float* key = values.data();
    for (int seq = 0; seq < m.batch; ++seq)
      for (int t = 0; t < lens[seq]; ++t)
        for (int h = 0; h < config.num_kv_heads; ++h, key += d) {
          const size_t offset = m.kv_offset(table, seq, h, t);
          for (int i = 0; i < d; ++i) key[i] = load_as_f32(keys.data(), config.dtype, offset + i);
          if (hadamard) hadamard_transform(key, d);
        }
    books.push_back(calibrate_code_book(values, bits, hadamard, levels));
    cache.set_code_book(layer, books.back());
  }
  return books;
}

void DeviceKvCache::download(int layer, std::vector<uint8_t>& keys, std::vector<uint8_t>& values,
                             std::vector<uint8_t>& key_codes, std::vector<float>& page_min,
                             std::vector<float>& page_max) const {
  const Impl& m = *impl_;
  synchronize_device();
  auto copy = [](auto& host, const auto& device) {
    host.resize(device.size());
    ADAMAS_CUDA_CHECK(cudaMemcpy(host.data(), device.data(), device.bytes(), cudaMemcpyDeviceToHost));
  };
  copy(keys, m.keys.at(layer));
  copy(values, m.values.at(layer));
  copy(key_codes, m.key_codes.at(layer));
  copy(page_min, m.page_min.at(layer));
  copy(page_max, m.page_max.at(layer));
}

// ---------------------------------------------------------------- DecodePlan

struct DecodePlan::Impl {
  DecodePlanConfig config;
  SelectionShape shape{};
  int rows = 0, candidate_stride = 0, max_chunks = 0, capacity = 0;
  int sm_count = 0, dense_splits = 1, sparse_splits = 1, max_splits = 1, fused_parts = 1, fused_splits = 1;
  KernelVariants variants;  // from the environment at construction (kernel_variants.cuh)
  DeviceBuffer<uint16_t> distances;
  DeviceBuffer<uint32_t> score_keys, row_counter, unit_counter;
  DeviceBuffer<uint2> asym_list;  // asymmetric, variant new: candidate lists (asymmetric.cu)
  DeviceBuffer<unsigned long long> asym_tally;  // and their rows' list cursors and tickets
  DeviceBuffer<int32_t> histogram, chunk_less, chunk_tie, chunk_offset, chunk_taken, chunk_histogram, indices, counts;
  DeviceBuffer<RowSelectState> state;
  DeviceBuffer<uint8_t> dense;
  DeviceBuffer<float> partial_out, partial_lse;
  // The grid step's (grid_step.cuh): row counters, the blocks' histograms and partial results.
  DeviceBuffer<int> grid_sync, grid_histograms;
  DeviceBuffer<float> grid_partials;

  AttentionArgs attention_args(const PagedKvView& view, const float* q, float* out, bool use_selection) const {
    check_view(view);
    const bool sparse = use_selection && config.selector.policy != Policy::kFull;
    const bool per_head = sparse && config.selector.per_query_head;
    AttentionArgs a{};
    set_cache_view(a, view);
    a.q = q;
    a.out = out;
    a.num_q_heads = config.num_q_heads;
    a.group_size = shape.group_size;
    a.per_query_head = per_head;
    a.units_per_seq = per_head ? config.num_q_heads : config.num_kv_heads;
    a.heads_per_unit = per_head ? 1 : shape.group_size;
    a.indices = sparse ? indices.data() : nullptr;
    a.counts = counts.data();
    a.dense = dense.data();
    a.capacity = capacity;
    a.scale_log2 = scale_log2(view.head_dim);
    a.splits = sparse ? sparse_splits : dense_splits;
    a.partial_out = partial_out.data();
    a.partial_lse = partial_lse.data();
    a.unit_counter = unit_counter.data();
    return a;
  }

  // Softmax scale 1/sqrt(d) times log2(e): the attention kernels work in the exp2 domain.
  static float scale_log2(int head_dim) {
    return static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)) * 1.4426950408889634);
  }

  SelectArgs select_args(const PagedKvView& view, const float* q) const {
    SelectArgs a{};
    set_cache_view(a, view);
    a.q = q;
    a.num_q_heads = config.num_q_heads;
    a.group_size = shape.group_size;
    a.rows_per_seq = shape.rows;
    a.heads_per_row = config.selector.per_query_head ? 1 : shape.group_size;
    a.per_query_head = config.selector.per_query_head;
    a.policy = config.selector.policy;
    a.token_budget = config.selector.token_budget;
    a.sink_tokens = config.selector.sink_tokens;
    // Queries are coded (l1) and keys scored (asymmetric) with the layer's code book, the one
    // the cache's append used, as the CPU selector does; options.thresholds serve views without one.
    const CodeBook book = code_book(view);
    if (config.selector.policy == Policy::kAdamas)
      ADAMAS_CHECK(config.selector.estimator != Estimator::kAsymmetric || book.bits == 2,
                   "DecodePlan: the asymmetric estimator reads 2-bit codes; the view's code book is ", book.describe());
    a.thresholds = book.bits == 2 ? book.two_bit_thresholds() : config.selector.thresholds;
    for (int k = 0; k < 4; ++k) a.centroids[k] = book.centroids[k];
    a.distances = distances.data();
    a.score_keys = score_keys.data();
    a.candidate_stride = candidate_stride;
    a.histogram = histogram.data();
    a.row_counter = row_counter.data();
    a.state = state.data();
    a.chunk_less = chunk_less.data();
    a.chunk_tie = chunk_tie.data();
    a.chunk_offset = chunk_offset.data();
    a.chunk_taken = chunk_taken.data();
    a.chunk_histogram = chunk_histogram.data();
    a.max_chunks = max_chunks;
    a.asym_list = asym_list.data();
    a.asym_tally = asym_tally.data();
    a.asym_probe = variants.asym_probe;
    a.indices = indices.data();
    a.counts = counts.data();
    a.dense = dense.data();
    a.capacity = capacity;
    return a;
  }

  void check_view(const PagedKvView& view) const {
    ADAMAS_CHECK(view.batch >= 1 && view.batch <= config.max_batch, "DecodePlan: view batch ", view.batch,
                 " outside 1..", config.max_batch);
    ADAMAS_CHECK(view.num_kv_heads == config.num_kv_heads && view.head_dim == config.head_dim &&
                     view.page_size == config.page_size && view.dtype == config.dtype,
                 "DecodePlan: the cache view's shape (", view.num_kv_heads, " KV heads, head_dim ", view.head_dim,
                 ", page ", view.page_size, ", ", dtype_name(view.dtype), ") differs from the plan's");
  }
  bool asymmetric() const {
    return config.selector.policy == Policy::kAdamas && config.selector.estimator == Estimator::kAsymmetric;
  }
  CodeBook code_book(const PagedKvView& view) const {
    return view.code_book ? *view.code_book : CodeBook::from_thresholds(config.selector.thresholds);
  }
  // The fused kernels (adamas_fused.cu, asymmetric.cu) read 2-bit codes of rotated keys (and l1
  // or asymmetric); every other adamas combination takes the generic estimate (generic_codes.cuh),
  // whose integer distances or float keys then go through the oracle's threshold search and lists.
  bool generic_estimate(const PagedKvView& view) const {
    if (config.selector.policy != Policy::kAdamas) return false;
    const CodeBook book = code_book(view);
    const Estimator estimator = config.selector.estimator;
    return !(book.bits == 2 && book.hadamard && (estimator == Estimator::kL1 || estimator == Estimator::kAsymmetric));
  }
  // step() compacts the lists inside the attention kernel: adamas whose fused estimate leaves the
  // row state and chunk offsets (every L1 variant, the fused asymmetric one), when the variant is on.
  // Off by default: on the H200 (bench/results/2026-11-29) the fused step saved 0.5-2 us per
  // attention step at 8K-32K in bench-attn but lost 2-5 us at 128K, and the LongChat-7B decode
  // step at 32K was 3% slower with it (5.97 vs 5.78 ms).
  bool fused_attend(const PagedKvView& view) const {
    const bool wanted = variants.fused_attend;
    return wanted && config.selector.policy == Policy::kAdamas && !generic_estimate(view) &&
           (!asymmetric() || variants.asym != AsymVariant::kRadix);
  }
  // Candidates per block of the fused asymmetric estimate (ADAMAS_ASYM_PART, auto by default), from
  // the grid that blocks of 4096 would make against the blocks the SMs hold at once (2 per SM with
  // one head per row, 1 with a group): 2048 when fewer blocks than SMs (GQA rows at 8K-32K, any
  // row at 8K), 8192 from 1.5 waves on (128K), else 4096. H200, budget 256:
  // bench/results/2026-11-29-s6.
  int asymmetric_part(int batch, int heads_per_row) const {
    if (variants.asym_part != 0) return variants.asym_part;
    const long blocks = static_cast<long>(ceil_div(max_candidates(), kListChunk)) * batch * shape.rows;
    const long resident = static_cast<long>(sm_count) * (heads_per_row == 1 ? 2 : 1);
    if (blocks < sm_count) return 2048;
    if (2 * blocks < 3 * resident) return 4096;
    // One head a row (the float kernel): 16384 where that makes the grid one wave (MHA 32/32 at
    // 128K: 256 blocks for 264 places).
    const long blocks_16k = static_cast<long>(ceil_div(max_candidates(), 16384)) * batch * shape.rows;
    if (heads_per_row == 1 && variants.asym != AsymVariant::kTwoPass && blocks_16k <= resident) return 16384;
    return 8192;
  }
  // Blocks per cluster of the fused asymmetric estimate (ADAMAS_ASYM_CLUSTER, auto by default).
  // Auto: pairs for the two-pass kernel where the grid's pairs all fit on the device at once (one
  // block per SM; GQA 32/8 at 128K: 44.9 vs 46.8 us), else none: pairs slowed the float kernel
  // (MHA 32K / 128K: 30.3 / 77.3 vs 28.8 / 73.9 us; a cluster barrier costs about 1.5 us), and
  // clusters of 4 blocks did not fit one wave (84.9 us at GQA 128K). H200, budget 256:
  // bench/results/2026-11-29-s12.
  int asymmetric_cluster(const AsymFusedLaunch& how, int batch, int heads_per_row) const {
    if (variants.asym_cluster != 0) return variants.asym_cluster;
    if (!how.two_pass) return 1;
    int& active = active_pairs[how.part == 2048 ? 0 : how.part == 4096 ? 1 : how.part == 8192 ? 2 : 3];
    if (active < 0) {
      AsymFusedLaunch pairs = how;
      pairs.cluster = 2;
      active = asymmetric_fused_active_clusters(config.head_dim, heads_per_row, pairs);
    }
    const long blocks = 2L * ceil_div(ceil_div(max_candidates(), how.part), 2) * batch * shape.rows;
    return blocks <= 2L * active ? 2 : 1;
  }
  mutable int active_pairs[4] = {-1, -1, -1, -1};  // asymmetric_cluster: per part 2048, 4096, 8192, 16384
  // The two-pass asymmetric kernel (integer first pass) under ADAMAS_ASYM_VARIANT=auto: with four
  // heads per row (one 64-bit load per code nibble serves them all) in blocks of 8192 candidates,
  // where the float pass is bound by shared-memory bandwidth. H200, budget 256, 32/8 heads at 128K:
  // 48.2 vs 55.4 us; slower with one head (110 vs 76 us, MHA 128K), with eight (85.8 vs 68.8, 32/4
  // at 128K) and in blocks of 4096 (GQA 32K: 30.9 vs 26.0). bench/results/2026-11-29-s7.
  bool asymmetric_two_pass(int heads_per_row, int part) const {
    if (variants.asym == AsymVariant::kAuto) return heads_per_row == 4 && part == 8192;
    return variants.asym == AsymVariant::kTwoPass;
  }
  // Blocks per cluster of the one-launch step (adamas_step.cuh) for a view of `batch` sequences, or
  // 0 where it does not serve: ADAMAS_STEP=split, another policy or estimator, a code book other
  // than 2-bit Hadamard codes, or a shape (auto: a shape and size) adamas_step_cluster turns down.
  int step_cluster(const PagedKvView& view) const {
    if (variants.step == StepVariant::kSplit || config.selector.policy != Policy::kAdamas || generic_estimate(view) ||
        asymmetric())
      return 0;
    const int heads_per_row = config.selector.per_query_head ? 1 : shape.group_size;
    return adamas_step_cluster(config.dtype, config.head_dim, heads_per_row, capacity, config.max_context,
                               view.batch * shape.rows, sm_count, variants);
  }
  // Blocks per row of the grid step (grid_step.cuh) for a view of `batch` sequences, or 0 where it
  // does not serve: ADAMAS_STEP=cluster or split, as step_cluster, a shape adamas_grid_step_blocks
  // turns down, or (auto) a shape where it was not measured faster (adamas_grid_step_auto).
  int grid_step_blocks(const PagedKvView& view) const {
    if (variants.step == StepVariant::kSplit || variants.step == StepVariant::kCluster ||
        config.selector.policy != Policy::kAdamas || generic_estimate(view) || asymmetric())
      return 0;
    const int heads_per_row = config.selector.per_query_head ? 1 : shape.group_size;
    const int rows = view.batch * shape.rows;
    if (variants.step == StepVariant::kAuto && !adamas_grid_step_auto(heads_per_row, config.max_context, rows)) return 0;
    return adamas_grid_step_blocks(config.dtype, config.head_dim, heads_per_row, capacity, config.max_context, rows,
                                   sm_count, variants);
  }
  int max_candidates() const {
    return config.selector.policy == Policy::kQuest ? (config.max_context + config.page_size - 1) / config.page_size
                                                    : config.max_context;
  }
};

DecodePlan::DecodePlan(const DecodePlanConfig& config) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.config = config;
  check_selector_options(config.selector);
  check_gpu_shape(config.head_dim, config.dtype, "DecodePlan");
  ADAMAS_CHECK(config.num_kv_heads > 0 && config.num_q_heads > 0 && config.num_q_heads % config.num_kv_heads == 0,
               "DecodePlan: query heads (", config.num_q_heads, ") must be a positive multiple of KV heads (",
               config.num_kv_heads, ")");
  const int group = config.num_q_heads / config.num_kv_heads;
  ADAMAS_CHECK(group >= 1 && group <= kMaxGroup, "DecodePlan: group size ", group,
               " is not supported by the CUDA backend (1..", kMaxGroup, ")");
  ADAMAS_CHECK(config.max_batch > 0 && config.max_context > 0 && config.page_size > 0, "DecodePlan: max_batch (",
               config.max_batch, "), max_context (", config.max_context, ") and page_size must be positive");
  ADAMAS_CHECK(config.max_context <= kMaxChunkItems * kSelectThreads * kListChunk, "DecodePlan: max_context ",
               config.max_context, " exceeds the CUDA selector's limit of ", kMaxChunkItems * kSelectThreads * kListChunk);
  ADAMAS_CHECK(gpu_available(), "DecodePlan: no CUDA device is present");
  ADAMAS_CUDA_CHECK(cudaDeviceGetAttribute(&m.sm_count, cudaDevAttrMultiProcessorCount, 0));
  m.variants = kernel_variants_from_env();

  PagedKvView shape_view;
  shape_view.num_kv_heads = config.num_kv_heads;
  shape_view.page_size = config.page_size;
  m.shape = selection_shape(config.selector, shape_view, config.num_q_heads);
  m.rows = config.max_batch * m.shape.rows;
  m.capacity = std::max(1, m.shape.capacity);
  m.candidate_stride = (config.max_context + 7) / 8 * 8;
  m.max_chunks = std::max(1, ceil_div(config.max_context, kListChunk));
  const Policy policy = config.selector.policy;
  const size_t rows = static_cast<size_t>(m.rows);
  if (policy == Policy::kAdamas && m.asymmetric()) {
    m.score_keys.resize(rows * m.candidate_stride);
    if (m.variants.asym != AsymVariant::kRadix) {
      m.asym_list.resize(rows * m.candidate_stride);
      m.asym_tally.resize(rows);
      m.asym_tally.zero();
    }
  } else if (policy == Policy::kAdamas) {
    m.distances.resize(rows * m.candidate_stride);
    m.grid_sync.resize(2 * rows + grid_step_listed_ints(m.sm_count));  // the counters, then the listed flags
    m.grid_sync.zero();
    m.grid_histograms.resize(grid_step_histogram_ints(m.sm_count));
    m.grid_histograms.fill_bytes(0xff);  // unwritten (grid_step.cuh): polled rather than met at a barrier
    m.grid_partials.resize(grid_step_partial_floats(m.sm_count));
    m.chunk_histogram.resize(rows * m.max_chunks * kHistStride);
    // The generic estimate's keys: the layer's book, known only at select time, may be any.
    m.score_keys.resize(rows * m.candidate_stride);
  }
  if (policy == Policy::kQuest || policy == Policy::kOracle) m.score_keys.resize(rows * m.candidate_stride);
  m.histogram.resize(rows * kHistStride);
  m.histogram.zero();
  m.row_counter.resize(rows);
  m.row_counter.zero();
  m.state.resize(rows);
  for (auto* buffer : {&m.chunk_less, &m.chunk_tie, &m.chunk_offset, &m.chunk_taken}) buffer->resize(rows * m.max_chunks);
  m.indices.resize(rows * m.capacity);
  m.counts.resize(rows);
  m.dense.resize(config.max_batch);

  // Splits: each split at least 256 tokens (dense) or one attention tile (sparse), so the merge
  // stays cheap.
  const int units = config.max_batch * (config.selector.per_query_head ? config.num_q_heads : config.num_kv_heads);
  // One wave: the attention kernel fits 4 blocks per multiprocessor (shared memory), and a
  // second, partial wave would leave most of the machine idle at the end.
  const int wanted = std::max(1, 4 * m.sm_count / units);
  int dense_wanted = m.variants.dense_splits != 0
                         ? m.variants.dense_splits
                         : std::max(1, attention_blocks_per_sm(m.variants.dense) * m.sm_count / units);
  // The tensor-core kernel (GQA groups of 2-8 fp16/bf16 heads at d 64/128) runs one block per
  // multiprocessor instead of two while two would give a split fewer than 3072 tokens: GQA 32/8 at
  // batch 1 took 24.2 / 54.3 / 90.3 us at 8K / 32K / 64K with 16 splits against 25.0 / 57.3 / 91.7
  // with 33, but 161.1 us at 128K against 156.8 (H200, bench/results/2026-11-30-s17, call 3).
  const bool mma_dense = m.variants.dense == DenseVariant::kMma &&
                         dense_mma_serves(config.dtype, config.head_dim, config.num_q_heads / config.num_kv_heads);
  if (m.variants.dense_splits == 0 && mma_dense && config.max_context < 3072 * dense_wanted)
    dense_wanted = std::max(1, m.sm_count / units);
  m.dense_splits = std::clamp(ceil_div(config.max_context, 256), 1, dense_wanted);
  m.sparse_splits = std::clamp(ceil_div(m.capacity, 32), 1, wanted);  // about one 32-token tile per split
  // Fused: a split per (chunk, part); parts so that a split holds about one tile when the kept
  // tokens spread evenly, and a chunk that holds many of them is shared by several blocks.
  m.fused_parts = std::clamp(ceil_div(m.capacity, 32 * m.max_chunks), 1, 16);
  m.fused_splits = m.max_chunks * m.fused_parts;
  m.max_splits = std::max({m.dense_splits, m.sparse_splits, m.fused_splits});
  const size_t head_slots = static_cast<size_t>(config.max_batch) * config.num_q_heads * m.max_splits;
  m.partial_out.resize(head_slots * config.head_dim);
  m.partial_lse.resize(head_slots);
  m.unit_counter.resize(static_cast<size_t>(config.max_batch) * config.num_q_heads);
  m.unit_counter.zero();
  synchronize_device();
}

DecodePlan::~DecodePlan() = default;
const DecodePlanConfig& DecodePlan::config() const { return impl_->config; }
int DecodePlan::attention_splits() const { return impl_->dense_splits; }

void DecodePlan::estimate(const PagedKvView& view, const float* q, StreamHandle stream) {
  const Impl& m = *impl_;
  m.check_view(view);
  const SelectArgs a = m.select_args(view, q);
  switch (m.config.selector.policy) {
    // Fused: scoring, histogram, threshold and chunk offsets in one launch; select_from_scores
    // then writes the lists.
    case Policy::kAdamas:
      if (m.generic_estimate(view)) {
        launch_code_estimate(a, to_device_code_book(m.code_book(view), view.head_dim), m.config.selector.estimator,
                             view.batch, m.max_candidates(), to_stream(stream));
      } else if (m.asymmetric() && m.variants.asym != AsymVariant::kRadix) {
        AsymFusedLaunch how;
        how.part = m.asymmetric_part(view.batch, a.heads_per_row);
        how.two_pass = m.asymmetric_two_pass(a.heads_per_row, how.part);
        how.cluster = m.asymmetric_cluster(how, view.batch, a.heads_per_row);
        launch_asymmetric_fused_select(a, view.batch, m.max_candidates(), how, to_stream(stream));
      } else if (m.asymmetric()) {
        launch_asymmetric_score(a, view.batch, m.max_candidates(), to_stream(stream));
      } else {
        launch_adamas_fused_select(a, view.batch, m.max_candidates(), m.variants.estimate, m.variants.estimate_probe,
                                   to_stream(stream));
      }
      break;
    case Policy::kOracle: launch_oracle_score(a, view.batch, m.max_candidates(), to_stream(stream)); break;
    case Policy::kQuest: launch_quest_score(a, view.batch, m.max_candidates(), to_stream(stream)); break;
    default: break;  // full and streaming score nothing
  }
}

void DecodePlan::select_from_scores(const PagedKvView& view, StreamHandle stream) {
  const Impl& m = *impl_;
  m.check_view(view);
  const SelectArgs a = m.select_args(view, nullptr);
  const cudaStream_t s = to_stream(stream);
  if (m.generic_estimate(view) || (m.asymmetric() && m.variants.asym == AsymVariant::kRadix)) {
    // Integer distances or float keys per candidate: the oracle's threshold search and lists.
    launch_radix_threshold(a, view.batch, m.max_candidates(), s);
    launch_write_lists(a, view.batch, m.max_candidates(), false, s);
    return;
  }
  if (m.asymmetric()) {  // threshold and offsets left by the estimate
    launch_compact_scores(a, view.batch, m.max_candidates(), s, m.variants.programmatic_launch);
    return;
  }
  switch (m.config.selector.policy) {
    case Policy::kFull: launch_full(a, view.batch, s); break;
    case Policy::kStreaming: launch_streaming(a, view.batch, s); break;
    case Policy::kAdamas:
      launch_compact_distances(a, view.batch, m.max_candidates(), s, m.variants.programmatic_launch);
      break;
    default:
      launch_radix_threshold(a, view.batch, m.max_candidates(), s);
      launch_write_lists(a, view.batch, m.max_candidates(), false, s);
      break;
  }
}

void DecodePlan::select(const PagedKvView& view, const float* q, StreamHandle stream) {
  estimate(view, q, stream);
  select_from_scores(view, stream);
}

void DecodePlan::attend(const PagedKvView& view, const float* q, float* out, bool use_selection, StreamHandle stream) {
  const Impl& m = *impl_;
  const AttentionArgs a = m.attention_args(view, q, out, use_selection);
  launch_decode_attention(a, view.batch, to_stream(stream), m.variants.dense, m.variants.programmatic_launch,
                          m.variants.dense_trace);
}

std::string DecodePlan::step_path(const PagedKvView& view) const {
  const Impl& m = *impl_;
  return m.grid_step_blocks(view) ? "grid" : m.step_cluster(view) ? "cluster" : "split";
}

bool DecodePlan::step_reads_current(const PagedKvView& view) const { return step_path(view) != "split"; }

void DecodePlan::step(const PagedKvView& view, const float* q, float* out, StreamHandle stream,
                      const CurrentToken& current) {
  const Impl& m = *impl_;
  ADAMAS_CHECK((current.keys == nullptr) == (current.values == nullptr),
               "DecodePlan::step: the current token needs both its keys and its values, or neither");
  if (const int blocks = m.grid_step_blocks(view)) {
    m.check_view(view);
    GridStepArgs a{};
    static_cast<SelectArgs&>(a) = m.select_args(view, q);
    a.out = out;
    a.scale_log2 = Impl::scale_log2(view.head_dim);
    a.sync = m.grid_sync.data();
    a.listed = m.grid_sync.data() + 2 * m.rows;
    a.histograms = m.grid_histograms.data();
    a.partials = m.grid_partials.data();
    a.current_keys = current.keys;
    a.current_values = current.values;
    launch_grid_step(a, view.batch, blocks, m.sm_count, m.variants, to_stream(stream));
    return;
  }
  if (const int cluster = m.step_cluster(view)) {
    m.check_view(view);  // the split path's stages check it themselves
    StepArgs a{};
    static_cast<SelectArgs&>(a) = m.select_args(view, q);
    a.out = out;
    a.scale_log2 = Impl::scale_log2(view.head_dim);
    a.current_keys = current.keys;
    a.current_values = current.values;
    launch_adamas_step(a, view.batch, cluster, m.config.max_context, m.variants, to_stream(stream));
    return;
  }
  if (!m.fused_attend(view)) {
    select(view, q, stream);
    attend(view, q, out, true, stream);
    return;
  }
  estimate(view, q, stream);
  AttentionArgs a = m.attention_args(view, q, out, true);
  a.fused = true;
  a.fused_parts = m.fused_parts;
  a.splits = m.fused_splits;
  a.distances = m.asymmetric() ? nullptr : m.distances.data();
  a.score_keys = m.asymmetric() ? m.score_keys.data() : nullptr;
  a.candidate_stride = m.candidate_stride;
  a.state = m.state.data();
  a.chunk_offset = m.chunk_offset.data();
  a.chunk_taken = m.chunk_taken.data();
  a.chunk_tie = m.chunk_tie.data();
  a.max_chunks = m.max_chunks;
  a.list_out = m.indices.data();
  launch_decode_attention(a, view.batch, to_stream(stream), m.variants.dense, m.variants.programmatic_launch,
                          m.variants.dense_trace);
}

DeviceSelection DecodePlan::selection() const {
  const Impl& m = *impl_;
  DeviceSelection s;
  s.batch = m.config.max_batch;
  s.rows_per_seq = m.shape.rows;
  s.capacity = m.shape.capacity;
  s.per_query_head = m.config.selector.per_query_head;
  s.indices = m.indices.data();
  s.counts = m.counts.data();
  s.dense = m.dense.data();
  return s;
}

void DecodePlan::download_selection(int batch, TokenSelection& out) const {
  const Impl& m = *impl_;
  ADAMAS_CHECK(batch >= 1 && batch <= m.config.max_batch, "download_selection: batch ", batch, " out of range");
  synchronize_device();
  out.batch = batch;
  out.rows_per_seq = m.shape.rows;
  out.capacity = m.shape.capacity;
  out.per_query_head = m.config.selector.per_query_head;
  const size_t rows = static_cast<size_t>(batch) * m.shape.rows;
  out.counts.resize(rows);
  out.dense.resize(batch);
  out.indices.assign(rows * m.shape.capacity, -1);
  ADAMAS_CUDA_CHECK(cudaMemcpy(out.counts.data(), m.counts.data(), rows * sizeof(int32_t), cudaMemcpyDeviceToHost));
  ADAMAS_CUDA_CHECK(cudaMemcpy(out.dense.data(), m.dense.data(), batch, cudaMemcpyDeviceToHost));
  if (m.shape.capacity > 0)
    ADAMAS_CUDA_CHECK(cudaMemcpy(out.indices.data(), m.indices.data(), rows * m.shape.capacity * sizeof(int32_t),
                                 cudaMemcpyDeviceToHost));
}

void DecodePlan::download_distances(std::vector<uint16_t>& distances) const {
  const Impl& m = *impl_;
  ADAMAS_CHECK(m.config.selector.policy == Policy::kAdamas, "download_distances: the plan's policy is not adamas");
  ADAMAS_CHECK(!m.asymmetric(), "download_distances: the asymmetric estimator scores floats, it keeps no distances");
  synchronize_device();
  distances.resize(m.distances.size());
  ADAMAS_CUDA_CHECK(cudaMemcpy(distances.data(), m.distances.data(), m.distances.bytes(), cudaMemcpyDeviceToHost));
}

}  // namespace adamas::cuda
