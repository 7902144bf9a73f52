// Process-wide ordering of CUDA graph captures against CUDA calls that may synchronize the device.
//
// A stream capture is invalidated (cudaErrorStreamCaptureInvalidated, "operation failed due to a
// previous error during capture") when, while it is open, any thread of the process makes a call
// that synchronizes the device or context: cudaFree, cudaFreeHost, cudaDeviceSynchronize, and
// what calls them internally (cublasCreate/cublasDestroy, cudaStreamDestroy, possibly cudaMalloc,
// module loading on a kernel's first launch under lazy loading). cudaStreamCaptureModeThreadLocal
// only keeps the capturing thread itself from such calls; it does not stop other threads. So
// several CudaDecoders in threads of one process (adamas jobs --parallel) serialize here:
//  - DeviceSyncScope (shared): a section that may make such calls (allocation, free, weight
//    uploads, prefill, a variant's first eager step). Any number of threads at once.
//  - CaptureScope (exclusive): BeginCapture .. EndCapture + instantiate + upload. Waits until no
//    thread is inside a DeviceSyncScope, and new DeviceSyncScopes wait while a capture waits or
//    runs (writer preference: captures are not starved).
// Both are reentrant per thread: a DeviceSyncScope inside a CaptureScope (or inside another
// DeviceSyncScope) is a no-op, and a CaptureScope opened inside a DeviceSyncScope first gives that
// thread's shared hold up (regained when the capture ends), so a thread never waits on itself.
// Kernel launches, async copies, graph launches and stream/event synchronization need no scope.
#pragma once

namespace adamas::cuda {

void device_sync_lock_shared();
void device_sync_unlock_shared();
void device_sync_lock_exclusive();
void device_sync_unlock_exclusive();

class DeviceSyncScope {
 public:
  DeviceSyncScope() { device_sync_lock_shared(); }
  ~DeviceSyncScope() { device_sync_unlock_shared(); }
  DeviceSyncScope(const DeviceSyncScope&) = delete;
  DeviceSyncScope& operator=(const DeviceSyncScope&) = delete;
};

class CaptureScope {
 public:
  CaptureScope() { device_sync_lock_exclusive(); }
  ~CaptureScope() { device_sync_unlock_exclusive(); }
  CaptureScope(const CaptureScope&) = delete;
  CaptureScope& operator=(const CaptureScope&) = delete;
};

}  // namespace adamas::cuda
