// CUDA backend: a device-memory paged KV cache with the same layout as KvCache, the fused append
// (K/V write + Hadamard + 2-bit codes + Quest page min/max; other code books: a separate encode of
// the stored keys), the GPU selectors (adamas with every estimator and code book, quest,
// streaming, oracle, full) and flash-decoding attention over index lists. docs/cuda_kernels.md is
// the contract for every device buffer. No CUDA types appear here, so this header compiles in
// CPU-only builds; streams are passed as opaque handles (a cudaStream_t cast to void*).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "adamas/kv_cache.h"
#include "adamas/selector.h"

namespace adamas::cuda {

using StreamHandle = void*;  // cudaStream_t; nullptr is the legacy default stream

// True when the library was built with CUDA and a device is usable. Never throws.
bool gpu_available();
// Name of device 0 ("NVIDIA H200"); throws adamas::Error without a GPU.
std::string gpu_name();
// Measured device-to-device copy bandwidth in GB/s, counting bytes read plus bytes written
// (median of 6 copies of 2 GiB): the ceiling the benchmarks report against.
double copy_bandwidth_gb_per_s();

// Device-memory paged cache for `config.num_layers` layers; num_pages = max_batch *
// ceil(max_tokens_per_seq / page_size), as KvCache. Buffers follow docs/kv_cache_layout.md.
// The page table and sequence lengths are planned on the host (set_page_table / upload) and
// copied to the device; appends and decode steps then read them on the device.
class DeviceKvCache {
 public:
  explicit DeviceKvCache(const KvCacheConfig& config);  // validates like KvCache; throws adamas::Error
  ~DeviceKvCache();
  DeviceKvCache(const DeviceKvCache&) = delete;
  DeviceKvCache& operator=(const DeviceKvCache&) = delete;

  const KvCacheConfig& config() const;
  int num_pages() const;
  int max_pages_per_seq() const;

  // Copies every layer's buffers, the page table and the sequence lengths of a host cache with
  // the same config (synchronous).
  void upload(const KvCache& host);
  // Sets the batch: page_table is [batch][max_pages_per_seq] physical page ids (-1 unused),
  // seq_lens [batch]. Synchronous host-to-device copy; a planning step, not a per-token one.
  void set_page_table(const std::vector<int32_t>& page_table, const std::vector<int32_t>& seq_lens);
  // Device pointer to the sequence lengths [batch] int32, for callers that advance them on the device.
  int32_t* device_seq_lens();

  // Writes `count` tokens into each of the sequences first_seq .. first_seq + batch - 1 of layer
  // `layer`: device fp32 keys/values [batch][count][num_kv_heads][head_dim] (keys after RoPE) at
  // positions first_position[b] .. first_position[b] + count - 1 (device int32 [batch]); the
  // positions' pages must already be in the page table. Stores K/V in the cache dtype and, from
  // the stored keys, the key codes (bit-identical to KvCache) and the page min/max. Asynchronous
  // on `stream`; no allocation. Keys must be finite (not checked on the device).
  void append(int layer, const float* keys, const float* values, const int32_t* first_position, int first_seq,
              int batch, int count, StreamHandle stream = nullptr);
  // The same write in one kernel launched programmatically right behind the one-launch step on
  // `stream` that attends these tokens from `keys`/`values` (the decoder's ADAMAS_STEP_APPEND=chain):
  // it runs beside the step and ends only after it, so that the kernel after it (launched
  // programmatically too) waits for both and the stream stays one chain. The step must let its
  // dependents launch only after its own wait for the kernel that wrote `keys` (the grid step under
  // KernelVariants::append_chain). Returns false, launching nothing, where the layer's code book
  // needs a second kernel (any book but 2-bit Hadamard codes).
  bool append_chained(int layer, const float* keys, const float* values, const int32_t* first_position, int first_seq,
                      int batch, int count, StreamHandle stream);

  // After sequence `seq` is cut back to its first `length` tokens (the caller's lengths; the
  // device seq_lens are not touched): rebuilds, in every layer, the page min/max of a partially
  // kept last page from its stored keys, bit-identical to appending only those tokens. Positions
  // past `length` are then free to be appended again. Asynchronous on `stream`.
  void truncate(int seq, int length, StreamHandle stream = nullptr);

  // Device view of one layer (device pointers; batch = the batch set last). Its code_book points
  // to the layer's host-side code book (below), which the selectors code and score with.
  PagedKvView view(int layer) const;

  // Per-layer code book: starts as initial_code_book(config) (kv_cache.h), as KvCache; append codes
  // keys with it (config.code_bits bits per coordinate, code_book.h layouts: the fused append for
  // 2-bit Hadamard books, a separate encode kernel for the others). set_code_book (same bits as
  // the config) re-encodes the layer's cached keys of the current batch exactly as
  // KvCache::set_code_book does (synchronous: a calibration step).
  const CodeBook& code_book(int layer) const;
  void set_code_book(int layer, const CodeBook& book);

  // Synchronous copies of one layer's buffers to the host, for tests.
  void download(int layer, std::vector<uint8_t>& keys, std::vector<uint8_t>& values, std::vector<uint8_t>& key_codes,
                std::vector<float>& page_min, std::vector<float>& page_max) const;

 private:
  void append(int layer, const float* keys, const float* values, const int32_t* first_position, int first_seq,
              int batch, int count, StreamHandle stream, bool chained);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  friend std::vector<CodeBook> calibrate_device_code_books(DeviceKvCache&, const std::vector<double>&);
};

// The CPU runtime's calibration (code_calibration.h) on a device cache: per layer, every cached
// key of the batch (stored values, Hadamard-rotated on the host with hadamard_transform when the
// layer's book rotates) pooled in the CPU runtime's order, calibrate_code_book with the config's
// code_bits at `quantiles` (empty: equal mass for those bits), then
// set_code_book. Same keys give the same books as the CPU, bit for bit. Synchronous.
std::vector<CodeBook> calibrate_device_code_books(DeviceKvCache& cache, const std::vector<double>& quantiles);

// What a decode plan is sized for. Workspaces are allocated once, in the constructor.
struct DecodePlanConfig {
  int max_batch = 1;
  int num_q_heads = 32;
  int num_kv_heads = 32;
  int head_dim = 128;
  int page_size = kDefaultPageSize;
  DType dtype = DType::kF16;
  int max_context = 32768;  // longest sequence any step will see
  // Estimators: all four. The code book (bits, rotation, query thresholds, asymmetric centroids) is
  // the view's (DeviceKvCache::view sets each layer's), else CodeBook::from_thresholds(selector.thresholds).
  // 2-bit Hadamard l1 and asymmetric take the fused kernels; the other combinations the generic
  // estimate (generic_codes.cuh). Asymmetric needs 2-bit codes, as on the CPU.
  SelectorOptions selector;
};

// Selection in device memory, same layout as TokenSelection (docs/cuda_kernels.md).
struct DeviceSelection {
  int batch = 0, rows_per_seq = 0, capacity = 0;
  bool per_query_head = false;
  int32_t* indices = nullptr;  // [batch][rows_per_seq][capacity]
  int32_t* counts = nullptr;   // [batch][rows_per_seq]
  uint8_t* dense = nullptr;    // [batch]
};

// The current token's K and V for DecodePlan::step: device fp32 [batch][num_kv_heads][head_dim],
// post-RoPE, as DeviceKvCache::append takes them.
struct CurrentToken {
  const float* keys = nullptr;
  const float* values = nullptr;
};

// Plan/run split of one decode step. The constructor validates the config and allocates every
// workspace; select/attend/step then launch kernels only: no allocation, no host
// synchronization, so a step can be captured in a CUDA graph and replayed.
class DecodePlan {
 public:
  explicit DecodePlan(const DecodePlanConfig& config);  // throws adamas::Error (unsupported shape, no GPU)
  ~DecodePlan();
  DecodePlan(const DecodePlan&) = delete;
  DecodePlan& operator=(const DecodePlan&) = delete;

  const DecodePlanConfig& config() const;
  int attention_splits() const;  // context splits of the flash-decoding attention

  // Selection of the configured policy for device queries q (fp32 [batch][num_q_heads][head_dim],
  // post-RoPE) against a device view (batch <= max_batch, lengths <= max_context). The result
  // selects exactly the sets of select_tokens_ref.
  void select(const PagedKvView& view, const float* q, StreamHandle stream = nullptr);
  // The two halves of select, for per-stage timing: scoring every candidate (adamas, 2-bit
  // Hadamard l1: the scan fused with the distance histogram; other books and estimators: the
  // generic estimate), then the threshold search and the index-list writes.
  void estimate(const PagedKvView& view, const float* q, StreamHandle stream = nullptr);
  void select_from_scores(const PagedKvView& view, StreamHandle stream = nullptr);
  // Decode attention of q over the last selection (use_selection) or over every cached position;
  // out: device fp32 [batch][num_q_heads][head_dim]. Within 1e-3 relative of decode_attention_ref.
  void attend(const PagedKvView& view, const float* q, float* out, bool use_selection, StreamHandle stream = nullptr);
  // select + attend. `current` (optional): the current token's K/V. Where step_reads_current(view),
  // the step attends to position n - 1 with them (rounded to the cache type as the append stores
  // them) and never reads the cache at n - 1, so the token's append may run after the step or
  // beside it; elsewhere `current` is ignored and the cache must already hold the token.
  void step(const PagedKvView& view, const float* q, float* out, StreamHandle stream = nullptr,
            const CurrentToken& current = {});
  // Whether step() takes the current token's K/V from its argument (the one-launch steps: grid
  // and cluster).
  bool step_reads_current(const PagedKvView& view) const;
  // Which kernels step() launches for `view`: "grid" (one cooperative launch, src/cuda/grid_step.cuh),
  // "cluster" (one cluster launch, src/cuda/adamas_step.cuh) or "split" (the selection's launches,
  // then attention).
  std::string step_path(const PagedKvView& view) const;

  DeviceSelection selection() const;
  // Synchronous copy of the last selection into a host TokenSelection (for tests).
  void download_selection(int batch, TokenSelection& out) const;
  // Synchronous copy of the adamas distances of the last step: [batch*rows][max_context] uint16,
  // entry t of a row is the minimum over the row's query heads of the estimator's distance (l1, l2
  // or hamming) to token t's code (t < seq_len - 1; other entries unspecified). Throws unless the
  // policy is adamas with a distance estimator.
  void download_distances(std::vector<uint16_t>& distances) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace adamas::cuda
