// Diagnostics shared by the kernels' phase traces (ADAMAS_STEP_TRACE in adamas_step.cu,
// ADAMAS_DENSE_TRACE in decode_attention.cu): one extra launch whose blocks stamp the global timer
// into a zeroed buffer of `points` stamps per block, copied back once the launch is done.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

#include "cuda/cuda_common.cuh"
#include "cuda/device_buffer.cuh"

namespace adamas::cuda {

// launch(stamps) starts the traced launch on `stream` with stamps [blocks][points] (device).
template <typename Launch>
std::vector<unsigned long long> collect_block_stamps(size_t blocks, int points, cudaStream_t stream, Launch&& launch) {
  DeviceBuffer<unsigned long long> device(blocks * points);
  device.zero();
  launch(device.data());
  ADAMAS_CUDA_CHECK(cudaStreamSynchronize(stream));
  std::vector<unsigned long long> stamps(blocks * points);
  ADAMAS_CUDA_CHECK(cudaMemcpy(stamps.data(), device.data(), stamps.size() * sizeof(unsigned long long),
                               cudaMemcpyDeviceToHost));
  return stamps;
}

// The trace's origin: the earliest block's stamp at point 0.
inline unsigned long long first_block_start(const std::vector<unsigned long long>& stamps, int points) {
  unsigned long long first = ~0ull;
  for (size_t b = 0; b * points < stamps.size(); ++b) first = std::min(first, stamps[b * points]);
  return first;
}

}  // namespace adamas::cuda
