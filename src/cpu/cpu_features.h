// Run-time CPU feature checks for choosing vectorized code paths.
#pragma once

namespace adamas {

// AVX2 + FMA + F16C: the set the vectorized CPU kernels are compiled for.
inline bool cpu_has_avx2() {
#if defined(__x86_64__)
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          __builtin_cpu_supports("f16c");
  return has;
#else
  return false;
#endif
}

// Tests can force the scalar fallback (ADAMAS_NO_AVX2=1 in the environment).
bool vector_paths_enabled();

}  // namespace adamas
