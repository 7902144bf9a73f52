#include "cpu/cpu_features.h"

#include <cstdlib>
#include <cstring>

namespace adamas {

bool vector_paths_enabled() {
  static const bool enabled = [] {
    const char* off = std::getenv("ADAMAS_NO_AVX2");
    return cpu_has_avx2() && !(off && std::strcmp(off, "0") != 0 && off[0] != '\0');
  }();
  return enabled;
}

}  // namespace adamas
