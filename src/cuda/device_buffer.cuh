// Owning device allocation (cudaMalloc), freed on destruction. Allocations happen at plan time only.
// cudaMalloc/cudaFree/cudaMemset hold a DeviceSyncScope: never during another thread's graph
// capture (capture_lock.cuh).
#pragma once

#include <cstddef>
#include <utility>

#include "cuda/capture_lock.cuh"
#include "cuda/cuda_common.cuh"

namespace adamas::cuda {

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t count) { resize(count); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept { *this = std::move(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(count_, other.count_);
    return *this;
  }
  void resize(size_t count) {
    release();
    if (count == 0) return;
    DeviceSyncScope sync_scope;
    ADAMAS_CUDA_CHECK(cudaMalloc(&data_, count * sizeof(T)));
    count_ = count;
  }
  void zero() { fill_bytes(0); }
  // Every byte set to `byte` (the grid step's histograms start as all ones: 0xff).
  void fill_bytes(int byte) {
    if (!count_) return;
    DeviceSyncScope sync_scope;
    ADAMAS_CUDA_CHECK(cudaMemset(data_, byte, count_ * sizeof(T)));
  }
  T* data() const { return data_; }
  size_t size() const { return count_; }
  size_t bytes() const { return count_ * sizeof(T); }

 private:
  void release() {
    if (data_) {
      DeviceSyncScope sync_scope;
      cudaFree(data_);
    }
    data_ = nullptr;
    count_ = 0;
  }
  T* data_ = nullptr;
  size_t count_ = 0;
};

}  // namespace adamas::cuda
