// The one CUDA-event timing loop of the benchmarks (copy bandwidth, decode-step graphs, bench-attn
// stages): repeat some GPU work on a stream, time each repetition between two events, report the
// median of the repetitions after the warm-up.
#pragma once

#include <algorithm>
#include <utility>
#include <vector>

#include "cuda/cuda_common.cuh"

namespace adamas::cuda {

// Runs `warmup + iterations` repetitions on `stream`. Each one calls before_each(i) untimed (i =
// 0, 1, ...: e.g. an L2 flush enqueued ahead of the start event), records the start event, calls
// work() (which enqueues on `stream`), records the stop event and waits for it. Returns the median
// of the last `iterations` times in milliseconds, the upper one of the middle two for an even
// count; the median because a stray slow repetition (clock ramp, another process) moves the mean.
// Throws adamas::Error for iterations < 1 or warmup < 0, or a failed CUDA call.
template <typename Work, typename BeforeEach>
float median_event_ms(cudaStream_t stream, int warmup, int iterations, Work&& work, BeforeEach&& before_each) {
  ADAMAS_CHECK(iterations >= 1 && warmup >= 0, "median_event_ms: iterations (", iterations,
               ") must be positive and warmup (", warmup, ") not negative");
  struct Events {  // destroyed on the error paths too
    cudaEvent_t start{}, stop{};
    Events() {
      ADAMAS_CUDA_CHECK(cudaEventCreate(&start));
      ADAMAS_CUDA_CHECK(cudaEventCreate(&stop));
    }
    ~Events() {
      cudaEventDestroy(start);
      cudaEventDestroy(stop);
    }
  } events;
  std::vector<float> times;
  times.reserve(iterations);
  for (int i = 0; i < warmup + iterations; ++i) {
    before_each(i);
    ADAMAS_CUDA_CHECK(cudaEventRecord(events.start, stream));
    work();
    ADAMAS_CUDA_CHECK(cudaEventRecord(events.stop, stream));
    ADAMAS_CUDA_CHECK(cudaEventSynchronize(events.stop));
    float ms = 0;
    ADAMAS_CUDA_CHECK(cudaEventElapsedTime(&ms, events.start, events.stop));
    if (i >= warmup) times.push_back(ms);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// The same with nothing between repetitions.
template <typename Work>
float median_event_ms(cudaStream_t stream, int warmup, int iterations, Work&& work) {
  return median_event_ms(stream, warmup, iterations, std::forward<Work>(work), [](int) {});
}

}  // namespace adamas::cuda
