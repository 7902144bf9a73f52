// libFuzzer harness for the GGUF reader, dequantizers and BPE tokenizer (not built by default).
// Build and run, e.g.:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fopenmp -Iinclude -Isrc \
//     fuzz/fuzz_gguf.cpp src/model/gguf.cpp src/model/gguf_reader.cpp src/model/dequantize.cpp \
//     src/model/bpe_tokenizer.cpp src/model/model_config.cpp src/core/dtype.cpp -o fuzz_gguf
//   ./fuzz_gguf -max_len=65536 corpus/
// A good seed corpus is a few small files written by tests/model/test_gguf_writer.h. Every input
// must parse and load (every tensor dequantized, some text tokenized) or throw adamas::Error; any
// other exception, crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "adamas/error.h"
#include "model/gguf_reader.h"
#include "model/gguf_weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto file = std::make_shared<const adamas::GgufFile>(
        adamas::GgufFile::parse(std::span<const uint8_t>(data, size), nullptr, "fuzz.gguf"));
    for (const adamas::GgufTensorInfo& info : file->tensors()) {
      // parse() promised every tensor lies inside the input.
      if (file->data_offset() + info.offset + static_cast<uint64_t>(info.n_bytes) > size) __builtin_trap();
    }
    adamas::Checkpoint checkpoint = adamas::gguf_checkpoint(file);
    for (const std::string& name : checkpoint.weights->tensor_names()) {
      try {
        checkpoint.weights->load_f32(name);
      } catch (const adamas::Error&) {
      }
    }
    const auto ids = checkpoint.tokenizer->encode("<|im_start|>Hello, world! 12 caf\xc3\xa9\n", true);
    checkpoint.tokenizer->decode(ids);
  } catch (const adamas::Error&) {
  }
  return 0;
}
