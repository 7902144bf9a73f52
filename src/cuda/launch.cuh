// Kernel launches with programmatic dependent launch (PDL, sm_90): a kernel launched with
// `programmatic` set may be scheduled while the kernel before it in the stream is still running;
// it must call grid_dependency_wait() before reading anything that kernel writes (the wait returns
// once that kernel has completed and its writes are visible; without PDL it returns at once).
// Kernels call grid_dependency_trigger() early so their successor's launch overlaps their work.
#pragma once

#include <cuda_runtime.h>

#include <utility>

#include "cuda/cuda_common.cuh"

namespace adamas::cuda {

__device__ __forceinline__ void grid_dependency_wait() { asm volatile("griddepcontrol.wait;\n" ::: "memory"); }
__device__ __forceinline__ void grid_dependency_trigger() { asm volatile("griddepcontrol.launch_dependents;\n" ::); }

template <typename... Params, typename... Args>
void launch_with_dependency(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
                            bool programmatic, Args&&... args) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = programmatic ? 1 : 0;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = 1;
  ADAMAS_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...));
}

}  // namespace adamas::cuda
