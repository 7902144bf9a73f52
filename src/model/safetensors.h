// Hugging Face safetensors files: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the raw little-endian data. Parsed and validated here,
// mapped read-only, and exposed through WeightSource (see include/adamas/model/weight_source.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "adamas/model/weight_source.h"

namespace adamas {

// One tensor entry of a safetensors header, validated against the file it came from.
struct SafetensorsTensor {
  std::string dtype;               // as stored: "F32", "BF16", "I64", ...
  size_t element_size_bytes = 0;   // from the dtype
  std::vector<int64_t> shape;      // outermost first; [] is a scalar
  uint64_t element_count = 0;      // product of shape
  uint64_t file_begin = 0;         // byte range in the file (header offsets + data-region start)
  uint64_t file_end = 0;
};

// Parses and validates the header of a safetensors file held in `bytes[0, size)`: header length
// within the file, JSON object, known dtypes, non-negative shapes, data_offsets inside the data
// region with begin <= end, byte size == element count * element size (no overflow), no two
// tensors overlapping. `__metadata__` is ignored. Throws adamas::Error naming `source_name`.
std::map<std::string, SafetensorsTensor> parse_safetensors_header(const uint8_t* bytes, size_t size,
                                                                  const std::string& source_name);

// Converts a tensor whose stored bytes start at `data` (any alignment) to fp32. Supports F32, F16
// and BF16; other dtypes throw adamas::Error naming `source_name` and `tensor_name`.
std::vector<float> safetensors_tensor_to_f32(const uint8_t* data, const SafetensorsTensor& tensor,
                                             const std::string& tensor_name,
                                             const std::string& source_name);

// A file mapped read-only into memory for the object's lifetime.
class MappedFile {
 public:
  // Throws adamas::Error naming `path` if it cannot be opened, is not a regular file, or is empty.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size_bytes() const { return size_bytes_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_bytes_ = 0;
};

// One mapped and validated safetensors file.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return file_.path(); }
  const std::map<std::string, SafetensorsTensor>& tensors() const { return tensors_; }
  // Throws adamas::Error naming the file if `name` is not in it.
  const SafetensorsTensor& tensor(const std::string& name) const;
  std::vector<float> load_f32(const std::string& name) const;

 private:
  MappedFile file_;
  std::map<std::string, SafetensorsTensor> tensors_;
};

// Opens one safetensors file as a WeightSource (all of its tensors).
std::unique_ptr<WeightSource> open_safetensors_file(const std::string& path);

}  // namespace adamas
