// The probes' CUDA error check (bench/probes/*.cu: stand-alone programs, each built with nvcc alone):
// a failing call prints where and why and ends the program.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

#define CHECK(x)                                                                                  \
  do {                                                                                            \
    cudaError_t e = (x);                                                                          \
    if (e != cudaSuccess) {                                                                       \
      std::fprintf(stderr, "%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(e));              \
      std::exit(1);                                                                               \
    }                                                                                             \
  } while (0)
