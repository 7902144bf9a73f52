// Kernel timeline of a stretch of GPU work, from CUPTI's activity records: each kernel's start and
// end on the GPU's clock, also for the kernels of CUDA-graph replays, which events around the
// replay cannot separate (bench-e2e --timeline). CUPTI is loaded at run time (dlopen of
// libcupti.so.13, then libcupti.so), so nothing links against it and builds without it still run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace adamas::cuda {

struct KernelSpan {
  std::string name;  // demangled, without the parameter list
  uint32_t stream = 0;
  uint64_t start_ns = 0, end_ns = 0;  // GPU timestamps
  int grid_blocks = 0;                // gridDim.x * y * z
};

// One at a time: kernel records are enabled from construction to destruction. Records of kernels
// that ran before construction are not kept.
class KernelTimeline {
 public:
  KernelTimeline();  // throws adamas::Error when CUPTI cannot be loaded or enabled
  ~KernelTimeline();
  KernelTimeline(const KernelTimeline&) = delete;
  KernelTimeline& operator=(const KernelTimeline&) = delete;

  // Synchronizes the device, then returns the kernels recorded since the last collect (or since
  // construction), in start order.
  std::vector<KernelSpan> collect();
};

// The last `replays`-th of `spans` (start order) when it splits into that many runs of the same
// kernel names, else all of them: one replay out of several identical ones.
std::vector<KernelSpan> last_replay(const std::vector<KernelSpan>& spans, int replays);

// JSON lines, one kernel each: {"i", "stream", "start_us", "end_us", "us", "gap_us", "blocks",
// "name"}, times from the first kernel's start, gap_us from the latest end before this start
// (negative where kernels overlap).
void write_timeline_jsonl(const std::vector<KernelSpan>& spans, const std::string& path);

}  // namespace adamas::cuda
