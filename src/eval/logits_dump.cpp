#include "adamas/eval/logits_dump.h"

#include <fstream>
#include <sstream>

#include "adamas/error.h"

namespace adamas {

std::vector<float> compute_logits(DecoderRuntime& runtime, const std::vector<int32_t>& tokens, const std::string& mode) {
  ADAMAS_CHECK(!tokens.empty(), "logits: no tokens");
  runtime.reset();
  std::vector<float> logits;
  if (mode == "prefill") {
    runtime.prefill(tokens, &logits, /*all_positions=*/true);
    return logits;
  }
  ADAMAS_CHECK(mode == "decode", "logits mode '", mode, "': expected prefill or decode");
  const int64_t vocab = runtime.config().vocab_size;
  logits.resize(tokens.size() * vocab);
  for (size_t i = 0; i < tokens.size(); ++i) runtime.decode(tokens[i], logits.data() + i * vocab);
  return logits;
}

namespace {

void write_npy(const std::string& path, const std::vector<int64_t>& shape, const char* descr, const void* data,
               size_t element_bytes) {
  std::ostringstream header;
  header << "{'descr': '" << descr << "', 'fortran_order': False, 'shape': (";
  size_t count = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    header << shape[i] << (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
    if (i + 1 < shape.size()) header << ' ';
    count *= static_cast<size_t>(shape[i]);
  }
  header << "), }";
  std::string text = header.str();
  // magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64, ending in \n.
  const size_t unpadded = 10 + text.size() + 1;
  text.append((64 - unpadded % 64) % 64, ' ');
  text.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  ADAMAS_CHECK(out, path, ": cannot open for writing");
  const char magic[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.write(magic, 8);
  const uint16_t length = static_cast<uint16_t>(text.size());
  const char length_bytes[2] = {static_cast<char>(length & 0xff), static_cast<char>(length >> 8)};
  out.write(length_bytes, 2);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(count * element_bytes));
  ADAMAS_CHECK(out.good(), path, ": write failed");
}

}  // namespace

void write_npy_f32(const std::string& path, const std::vector<int64_t>& shape, const float* data) {
  write_npy(path, shape, "<f4", data, 4);
}

void write_npy_i32(const std::string& path, const std::vector<int64_t>& shape, const int32_t* data) {
  write_npy(path, shape, "<i4", data, 4);
}

}  // namespace adamas
