// libFuzzer harness for the safetensors parser (not built by default). Build and run, e.g.:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
//     fuzz/fuzz_safetensors.cpp src/model/safetensors.cpp src/core/dtype.cpp -o fuzz_safetensors
//   ./fuzz_safetensors -max_len=4096 corpus/
// Every input must either parse (and then every F32/F16/BF16 tensor converts within the buffer) or
// throw adamas::Error; any other exception, crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "adamas/error.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto tensors = adamas::parse_safetensors_header(data, size, "fuzz.safetensors");
    for (const auto& [name, tensor] : tensors) {
      if (tensor.file_begin > tensor.file_end || tensor.file_end > size) std::abort();
      try {
        adamas::safetensors_tensor_to_f32(data + tensor.file_begin, tensor, name, "fuzz.safetensors");
      } catch (const adamas::Error&) {
      }
    }
  } catch (const adamas::Error&) {
  }
  return 0;
}
