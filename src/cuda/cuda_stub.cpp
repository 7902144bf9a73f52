// CPU-only builds: the CUDA entry points exist and say why they cannot run.
#ifndef ADAMAS_WITH_CUDA
#include "adamas/bench_attn.h"
#include "adamas/error.h"

namespace adamas {

BenchAttnReport run_bench_attn_cuda(const BenchAttnOptions&) {
  throw Error("--device cuda: this adamas was built without CUDA (configure with -DADAMAS_CUDA=ON where nvcc exists)");
}

}  // namespace adamas
#endif
