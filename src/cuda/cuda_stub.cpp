// CPU-only builds: the CUDA entry points that code outside the backend calls, reporting that the
// backend is absent. Compiled only when the library is built without CUDA.
#ifndef ADAMAS_WITH_CUDA

#include "adamas/bench_attn.h"
#include "adamas/cuda_backend.h"
#include "adamas/cuda_decoder.h"
#include "adamas/error.h"

namespace adamas {

BenchAttnReport run_bench_attn_cuda(const BenchAttnOptions&) {
  throw Error("built without CUDA: --device cuda needs a build configured with -DADAMAS_CUDA=ON where nvcc exists");
}

BenchE2eReport run_bench_e2e(const BenchE2eOptions&) {
  throw Error("built without CUDA: bench-e2e needs a build configured with -DADAMAS_CUDA=ON where nvcc exists");
}

namespace cuda {
bool gpu_available() { return false; }
std::string gpu_name() { throw Error("built without CUDA"); }
double copy_bandwidth_gb_per_s() { throw Error("built without CUDA"); }
std::unique_ptr<DecoderRuntime> make_cuda_runtime(const LlamaModel&, const RuntimeOptions&) {
  throw Error("built without CUDA: --device cuda needs a build configured with -DADAMAS_CUDA=ON where nvcc exists");
}
}  // namespace cuda

}  // namespace adamas

#endif  // ADAMAS_WITH_CUDA
