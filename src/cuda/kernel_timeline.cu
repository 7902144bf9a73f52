// KernelTimeline (kernel_timeline.h): CUPTI's activity API through dlopen.
#include <cxxabi.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>

#include "adamas/error.h"
#include "cuda/cuda_common.cuh"
#include "cuda/kernel_timeline.h"

#if __has_include(<cupti_activity.h>)
#include <cupti_activity.h>
#define ADAMAS_CUPTI_HEADERS 1
#endif

namespace adamas::cuda {

namespace {

std::string short_name(const char* mangled) {
  if (!mangled) return "?";
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  std::string name = status == 0 && demangled ? demangled.get() : mangled;
  // Cut the parameter list: the parenthesized group that ends the name ("(anonymous namespace)"
  // and casts inside template arguments stay).
  if (!name.empty() && name.back() == ')') {
    int depth = 0;
    for (size_t i = name.size(); i-- > 0;) {
      if (name[i] == ')') ++depth;
      else if (name[i] == '(' && --depth == 0) return name.substr(0, i);
    }
  }
  return name;
}

#ifdef ADAMAS_CUPTI_HEADERS
struct Cupti {
  void* library = nullptr;
  CUptiResult (*register_callbacks)(CUpti_BuffersCallbackRequestFunc, CUpti_BuffersCallbackCompleteFunc) = nullptr;
  CUptiResult (*enable)(CUpti_ActivityKind) = nullptr;
  CUptiResult (*disable)(CUpti_ActivityKind) = nullptr;
  CUptiResult (*flush_all)(uint32_t) = nullptr;
  CUptiResult (*next_record)(uint8_t*, size_t, CUpti_Activity**) = nullptr;
};

// CUPTI calls back from its own threads; the spans wait here for collect().
std::mutex records_mutex;
std::vector<KernelSpan> records;
Cupti cupti;
bool active = false;

constexpr size_t kBufferBytes = size_t{8} << 20;

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, kBufferBytes));
  *size = *buffer ? kBufferBytes : 0;
  *max_records = 0;  // as many as fit
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
  CUpti_Activity* record = nullptr;
  std::vector<KernelSpan> spans;
  while (cupti.next_record(buffer, valid, &record) == CUPTI_SUCCESS) {
    if (record->kind != CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL && record->kind != CUPTI_ACTIVITY_KIND_KERNEL) continue;
    const auto* kernel = reinterpret_cast<const CUpti_ActivityKernel10*>(record);
    spans.push_back({short_name(kernel->name), kernel->streamId, kernel->start, kernel->end,
                     kernel->gridX * kernel->gridY * kernel->gridZ});
  }
  std::free(buffer);
  std::lock_guard<std::mutex> lock(records_mutex);
  records.insert(records.end(), spans.begin(), spans.end());
}

template <typename F>
void bind(F& function, const char* name) {
  function = reinterpret_cast<F>(dlsym(cupti.library, name));
  ADAMAS_CHECK(function != nullptr, "kernel timeline: libcupti has no ", name);
}

void check(CUptiResult result, const char* what) {
  ADAMAS_CHECK(result == CUPTI_SUCCESS, "kernel timeline: ", what, " failed (CUPTI error ", static_cast<int>(result), ")");
}
#endif

}  // namespace

KernelTimeline::KernelTimeline() {
#ifdef ADAMAS_CUPTI_HEADERS
  ADAMAS_CHECK(!active, "kernel timeline: one at a time");
  if (!cupti.library) {
    for (const char* name : {"libcupti.so.13", "libcupti.so"})
      if ((cupti.library = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
    ADAMAS_CHECK(cupti.library != nullptr, "kernel timeline: cannot load libcupti.so.13 or libcupti.so (put CUDA's "
                                           "CUPTI library directory on LD_LIBRARY_PATH)");
    bind(cupti.register_callbacks, "cuptiActivityRegisterCallbacks");
    bind(cupti.enable, "cuptiActivityEnable");
    bind(cupti.disable, "cuptiActivityDisable");
    bind(cupti.flush_all, "cuptiActivityFlushAll");
    bind(cupti.next_record, "cuptiActivityGetNextRecord");
    check(cupti.register_callbacks(buffer_requested, buffer_completed), "cuptiActivityRegisterCallbacks");
  }
  ADAMAS_CUDA_CHECK(cudaDeviceSynchronize());
  check(cupti.enable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL), "cuptiActivityEnable");
  active = true;
  collect();  // nothing from before
#else
  throw Error("kernel timeline: built without CUPTI's headers (cupti_activity.h)");
#endif
}

KernelTimeline::~KernelTimeline() {
#ifdef ADAMAS_CUPTI_HEADERS
  cudaDeviceSynchronize();
  cupti.flush_all(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  cupti.disable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
  std::lock_guard<std::mutex> lock(records_mutex);
  records.clear();
  active = false;
#endif
}

std::vector<KernelSpan> KernelTimeline::collect() {
#ifdef ADAMAS_CUPTI_HEADERS
  ADAMAS_CUDA_CHECK(cudaDeviceSynchronize());
  check(cupti.flush_all(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED), "cuptiActivityFlushAll");
  std::vector<KernelSpan> spans;
  {
    std::lock_guard<std::mutex> lock(records_mutex);
    spans.swap(records);
  }
  std::stable_sort(spans.begin(), spans.end(), [](const KernelSpan& x, const KernelSpan& y) { return x.start_ns < y.start_ns; });
  return spans;
#else
  return {};
#endif
}

std::vector<KernelSpan> last_replay(const std::vector<KernelSpan>& spans, int replays) {
  if (replays < 2 || spans.size() % replays != 0) return spans;
  const size_t per = spans.size() / replays;
  for (size_t i = 0; i < per; ++i)
    for (int r = 1; r < replays; ++r)
      if (spans[r * per + i].name != spans[i].name) return spans;
  return std::vector<KernelSpan>(spans.end() - static_cast<std::ptrdiff_t>(per), spans.end());
}

void write_timeline_jsonl(const std::vector<KernelSpan>& spans, const std::string& path) {
  std::ofstream out(path);
  ADAMAS_CHECK(out.good(), "kernel timeline: cannot write ", path);
  const uint64_t origin = spans.empty() ? 0 : spans.front().start_ns;
  uint64_t latest_end = origin;
  for (size_t i = 0; i < spans.size(); ++i) {
    const KernelSpan& s = spans[i];
    std::string name;
    for (char c : s.name) {
      if (c == '"' || c == '\\') name += '\\';
      name += c;
    }
    char line[256];
    std::snprintf(line, sizeof(line), "{\"i\": %zu, \"stream\": %u, \"start_us\": %.3f, \"end_us\": %.3f, \"us\": %.3f, \"gap_us\": %.3f, \"blocks\": %d, ",
                  i, s.stream, (s.start_ns - origin) * 1e-3, (s.end_ns - origin) * 1e-3, (s.end_ns - s.start_ns) * 1e-3,
                  (static_cast<double>(s.start_ns) - static_cast<double>(latest_end)) * 1e-3, s.grid_blocks);
    out << line << "\"name\": \"" << name << "\"}\n";
    latest_end = std::max(latest_end, s.end_ns);
  }
  ADAMAS_CHECK(out.good(), "kernel timeline: writing ", path, " failed");
}

}  // namespace adamas::cuda
