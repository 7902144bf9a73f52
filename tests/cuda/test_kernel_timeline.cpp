// The kernel timeline (src/cuda/kernel_timeline.h): CUPTI's records of the kernels of CUDA-graph
// replays, one replay picked out of several, and the JSON lines bench-e2e --timeline writes.
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

#include "adamas/dtype.h"
#include "adamas/error.h"
#include "cuda/gemv.h"
#include "cuda/kernel_timeline.h"
#include "cuda_test_support.h"

namespace adamas::cuda::test {
namespace {

KernelSpan span(const char* name, uint64_t start, uint64_t end) { return {name, 7, start, end, 1}; }

TEST(KernelTimelineTest, LastReplayNeedsIdenticalRuns) {
  const std::vector<KernelSpan> three = {span("a", 0, 1), span("b", 2, 3), span("a", 4, 5), span("b", 6, 7),
                                         span("a", 8, 9), span("b", 10, 11)};
  const std::vector<KernelSpan> last = last_replay(three, 3);
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[0].start_ns, 8u);
  EXPECT_EQ(last[1].name, "b");
  std::vector<KernelSpan> odd = three;
  odd[3].name = "c";  // the runs differ: all of them come back
  EXPECT_EQ(last_replay(odd, 3).size(), 6u);
  EXPECT_EQ(last_replay(three, 4).size(), 6u);  // 6 does not split into 4
}

// Two products captured in a graph, replayed three times: six kernels, in order, named.
TEST(KernelTimelineTest, RecordsTheKernelsOfGraphReplays) {
  SKIP_WITHOUT_GPU();
  std::optional<KernelTimeline> timeline;
  try {
    timeline.emplace();
  } catch (const Error& e) {
    if (std::string(e.what()).find("cannot load") != std::string::npos) GTEST_SKIP() << e.what();
    throw;
  }
  std::mt19937_64 rng(test_seed());
  const int out = 96, in = 256;
  std::vector<uint16_t> weight_bits(static_cast<size_t>(out) * in), input_bits(in);
  for (uint16_t& w : weight_bits) w = f32_to_bf16(std::normal_distribution<float>(0, 1)(rng));
  for (uint16_t& x : input_bits) x = f32_to_bf16(std::normal_distribution<float>(0, 1)(rng));
  DeviceArray<uint16_t> weight(weight_bits), input(input_bits);
  DeviceArray<float> y;
  y.allocate(out);
  GemvProblem p;
  p.weight = weight.data;
  p.input = input.data;
  p.out = out;
  p.in = in;
  p.y = y.data;
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  gemv_bf16(p, stream);
  p.epilogue = GemvEpilogue::kAccumulate;
  gemv_bf16(p, stream);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(stream, &graph), cudaSuccess);
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  for (int r = 0; r < 3; ++r) ASSERT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
  const std::vector<KernelSpan> spans = timeline->collect();
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);

  ASSERT_EQ(spans.size(), 6u);
  for (size_t i = 0; i < spans.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_NE(spans[i].name.find("gemv_bf16_kernel"), std::string::npos) << spans[i].name;
    EXPECT_NE(spans[i].name.find("(anonymous namespace)::gemv"), std::string::npos) << spans[i].name;
    EXPECT_NE(spans[i].name.back(), ')') << "parameter list left in " << spans[i].name;
    EXPECT_GT(spans[i].end_ns, spans[i].start_ns);
    EXPECT_GT(spans[i].grid_blocks, 0);
    if (i > 0) EXPECT_GE(spans[i].start_ns, spans[i - 1].end_ns);  // one stream, no programmatic launch
  }
  EXPECT_TRUE(timeline->collect().empty());  // collected once only

  const std::vector<KernelSpan> last = last_replay(spans, 3);
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[0].start_ns, spans[4].start_ns);
  const std::string path = testing::TempDir() + "timeline_test.jsonl";
  write_timeline_jsonl(last, path);
  std::ifstream lines(path);
  std::string first, second, third;
  ASSERT_TRUE(std::getline(lines, first) && std::getline(lines, second));
  EXPECT_FALSE(std::getline(lines, third));
  EXPECT_NE(first.find("\"start_us\": 0.000"), std::string::npos) << first;
  EXPECT_NE(second.find("gemv_bf16_kernel"), std::string::npos) << second;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace adamas::cuda::test
