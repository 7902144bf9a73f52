// Capture / device-synchronization ordering (capture_lock.cuh): a writer-preferring, per-thread
// reentrant readers-writer lock.
#include <condition_variable>
#include <mutex>

#include "cuda/capture_lock.cuh"

namespace adamas::cuda {

namespace {

struct LockState {
  std::mutex mutex;
  std::condition_variable changed;
  int readers = 0;          // threads holding a shared hold (counted once per thread)
  int waiting_writers = 0;  // threads waiting for the exclusive hold
  bool writer = false;      // a thread holds the exclusive hold
};

// Never destroyed: a DeviceBuffer freed during static destruction still finds the lock.
LockState& state() {
  static LockState* s = new LockState;
  return *s;
}

thread_local int shared_depth = 0;     // this thread's open DeviceSyncScopes
thread_local int exclusive_depth = 0;  // this thread's open CaptureScopes

}  // namespace

void device_sync_lock_shared() {
  if (shared_depth > 0 || exclusive_depth > 0) {  // already counted (or exclusive): nothing to wait for
    ++shared_depth;
    return;
  }
  LockState& s = state();
  std::unique_lock<std::mutex> guard(s.mutex);
  s.changed.wait(guard, [&] { return !s.writer && s.waiting_writers == 0; });
  ++s.readers;
  ++shared_depth;
}

void device_sync_unlock_shared() {
  if (--shared_depth > 0 || exclusive_depth > 0) return;  // the outermost shared hold ends below
  LockState& s = state();
  std::lock_guard<std::mutex> guard(s.mutex);
  --s.readers;
  s.changed.notify_all();
}

void device_sync_lock_exclusive() {
  if (exclusive_depth > 0) {
    ++exclusive_depth;
    return;
  }
  LockState& s = state();
  std::unique_lock<std::mutex> guard(s.mutex);
  if (shared_depth > 0) --s.readers;  // give this thread's shared hold up while it waits and captures
  ++s.waiting_writers;
  s.changed.wait(guard, [&] { return !s.writer && s.readers == 0; });
  --s.waiting_writers;
  s.writer = true;
  ++exclusive_depth;
}

void device_sync_unlock_exclusive() {
  if (--exclusive_depth > 0) return;
  LockState& s = state();
  std::lock_guard<std::mutex> guard(s.mutex);
  s.writer = false;
  if (shared_depth > 0) ++s.readers;  // the shared hold given up at the exclusive lock comes back
  s.changed.notify_all();
}

}  // namespace adamas::cuda
