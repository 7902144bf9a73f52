// Diagnostics shared by the kernels' phase traces (ADAMAS_STEP_TRACE in adamas_step.cu,
// ADAMAS_DENSE_TRACE in decode_attention.cu): one extra launch whose blocks stamp the global timer
// into a zeroed buffer of `points` stamps per block, copied back once the launch is done.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cuda/cuda_common.cuh"
#include "cuda/device_buffer.cuh"

namespace adamas::cuda {

// Device side: thread 0 of block `block` stamps the global timer into slot `point` of its `points`
// stamps (trace[block][points]); at point 0 it also writes its multiprocessor's id into the last
// slot. Nothing when trace is null (an untraced launch).
__device__ __forceinline__ void stamp_block(unsigned long long* trace, size_t block, int points, int point) {
  if (trace == nullptr || threadIdx.x != 0) return;
  unsigned long long* slots = trace + block * points;
  unsigned long long now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  slots[point] = now;
  if (point == 0) {
    unsigned sm;
    asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
    slots[points - 1] = sm;
  }
}

// Whether a launch asked to be traced (`traced`) runs its stamped copy now: only eagerly, as a
// stream being captured into a CUDA graph cannot wait for the stamps to come back.
inline bool trace_now(bool traced, cudaStream_t stream) {
  if (!traced) return false;
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  ADAMAS_CUDA_CHECK(cudaStreamIsCapturing(stream, &capture));
  return capture == cudaStreamCaptureStatusNone;
}

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

// One line per point < `named` (names[point]) on stderr: the median, 90th percentile and maximum
// over the blocks that stamped it (a stamp of 0: the block ends before that point), in us from the
// first block's start.
inline void print_stamp_points(const std::vector<unsigned long long>& stamps, int points, const char* const* names,
                               int named) {
  const unsigned long long first = first_block_start(stamps, points);
  const size_t blocks = stamps.size() / points;
  for (int point = 0; point < named; ++point) {
    std::vector<double> at;
    for (size_t b = 0; b < blocks; ++b)
      if (stamps[b * points + point] != 0) at.push_back((stamps[b * points + point] - first) * 1e-3);
    if (at.empty()) continue;
    std::sort(at.begin(), at.end());
    std::fprintf(stderr, "  %-12s %8.2f %8.2f %8.2f  (%zu blocks)\n", names[point], at[at.size() / 2],
                 at[at.size() * 9 / 10], at.back(), at.size());
  }
}

// The time from point `from` to point `to` of each block, grouped by how many of the launch's
// blocks shared its multiprocessor (the SM id stamped at point `sm_point`): median and maximum.
inline void print_phase_by_sharing(const std::vector<unsigned long long>& stamps, int points, int sm_point, int from,
                                   int to, const char* phase) {
  const size_t blocks = stamps.size() / points;
  std::vector<int> per_sm(1024, 0);
  for (size_t b = 0; b < blocks; ++b) ++per_sm[stamps[b * points + sm_point] % 1024];
  for (int sharing = 1; sharing <= 8; ++sharing) {
    std::vector<double> time;
    for (size_t b = 0; b < blocks; ++b)
      if (per_sm[stamps[b * points + sm_point] % 1024] == sharing && stamps[b * points + to] != 0)
        time.push_back((stamps[b * points + to] - stamps[b * points + from]) * 1e-3);
    if (time.empty()) continue;
    std::sort(time.begin(), time.end());
    std::fprintf(stderr, "  %s with %d blocks on the SM: %zu blocks, median %.2f us, max %.2f us\n", phase, sharing,
                 time.size(), time[time.size() / 2], time.back());
  }
}

// The time from point `from` to point `to` by the block's rank in its row (blocks ordered [row][rank],
// `ranks` a row): median and maximum over the rows, per rank. Shows whether one rank's share of a
// phase is larger (e.g. the row's last block, which takes the ties at the threshold first).
inline void print_phase_by_rank(const std::vector<unsigned long long>& stamps, int points, int ranks, int from, int to,
                                const char* phase) {
  const size_t blocks = stamps.size() / points;
  for (int rank = 0; rank < ranks; ++rank) {
    std::vector<double> time;
    for (size_t b = rank; b < blocks; b += ranks)
      if (stamps[b * points + to] != 0 && stamps[b * points + from] != 0)
        time.push_back((stamps[b * points + to] - stamps[b * points + from]) * 1e-3);
    if (time.empty()) continue;
    std::sort(time.begin(), time.end());
    std::fprintf(stderr, "  %s of rank %d: %zu blocks, median %.2f us, max %.2f us\n", phase, rank, time.size(),
                 time[time.size() / 2], time.back());
  }
}

// Appends every block's stamps to the CSV file `path` (ADAMAS_STEP_TRACE_FILE): a comment line
// naming the launch (`label`), a header, then one line a block: its row (blockIdx.y), rank
// (blockIdx.x), multiprocessor and each point in us from the first block's start (empty where the
// block did not stamp it). Throws adamas::Error when the file cannot be written.
inline void write_stamps_csv(const std::string& path, const std::string& label, const std::vector<unsigned long long>& stamps,
                             int points, const char* const* names, int named, int ranks) {
  std::FILE* file = std::fopen(path.c_str(), "a");
  ADAMAS_CHECK(file != nullptr, "ADAMAS_STEP_TRACE_FILE: cannot open '", path, "' for writing");
  const unsigned long long first = first_block_start(stamps, points);
  std::fprintf(file, "# %s\nrow,rank,sm", label.c_str());
  for (int point = 0; point < named; ++point) std::fprintf(file, ",%s", names[point]);
  std::fprintf(file, "\n");
  const size_t blocks = stamps.size() / points;
  for (size_t b = 0; b < blocks; ++b) {
    std::fprintf(file, "%zu,%zu,%llu", b / ranks, b % ranks, stamps[b * points + points - 1]);
    for (int point = 0; point < named; ++point) {
      const unsigned long long at = stamps[b * points + point];
      if (at != 0) std::fprintf(file, ",%.3f", (at - first) * 1e-3);
      else std::fprintf(file, ",");
    }
    std::fprintf(file, "\n");
  }
  const bool ok = std::fclose(file) == 0;
  ADAMAS_CHECK(ok, "ADAMAS_STEP_TRACE_FILE: writing '", path, "' failed");
}

}  // namespace adamas::cuda
