// ADAMAS_HOST_DEVICE: functions of plain headers that both the kernels and the CPU tests use.
#pragma once

#if defined(__CUDACC__)
#define ADAMAS_HOST_DEVICE __host__ __device__
#else
#define ADAMAS_HOST_DEVICE
#endif
