// libFuzzer harness for the config.json parser: every input must parse into a validated
// ModelConfig or throw adamas::Error. Built and run by fuzz/run_fuzzers.sh.
#include <cstddef>
#include <cstdint>
#include <string>

#include "adamas/error.h"
#include "adamas/model/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const adamas::ModelConfig config =
        adamas::parse_hf_config(std::string(reinterpret_cast<const char*>(data), size), "fuzz/config.json");
    config.validate("fuzz/config.json");
  } catch (const adamas::Error&) {
  }
  return 0;
}
