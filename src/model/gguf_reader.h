// GGUF container parsing (v2 and v3, little-endian): header, typed metadata, tensor infos and the
// aligned data section. Every count, length, dimension and offset is checked against the bytes
// actually present, so a truncated or corrupted file yields adamas::Error, never a bad read.
//
// Layout: "GGUF" u32 version, u64 tensor_count, u64 kv_count; kv_count x (string key, u32 type,
// value); tensor_count x (string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset);
// padding to `general.alignment` (default 32); tensor data, each tensor at data_offset + offset.
// Strings are u64 length + bytes (no terminator). ne[0] is the innermost (contiguous) dimension.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/dequantize.h"

namespace adamas {

enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

const char* gguf_value_type_name(GgufValueType type);

// One metadata value. Integers are kept in `int_value` (uint64 values above INT64_MAX in
// `uint_value` as well), floats in `float_value`, strings in `string_value`, arrays in `array`.
struct GgufValue {
  GgufValueType type = GgufValueType::kUint8;
  int64_t int_value = 0;
  uint64_t uint_value = 0;
  double float_value = 0.0;
  bool bool_value = false;
  std::string string_value;
  GgufValueType element_type = GgufValueType::kUint8;  // arrays only
  std::vector<GgufValue> array;

  bool is_integer() const;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;     // GGUF order: ne[0] innermost
  const GgmlTypeInfo* type = nullptr;
  uint64_t offset = 0;         // from the start of the data section
  int64_t n_elements = 0;
  int64_t n_bytes = 0;
};

class GgufFile {
 public:
  // Parses `bytes`; `storage` keeps them alive for the GgufFile's lifetime. Throws adamas::Error
  // naming `source_name` on anything malformed.
  static GgufFile parse(std::span<const uint8_t> bytes, std::shared_ptr<const void> storage,
                        const std::string& source_name);
  // Memory-maps and parses a file.
  static GgufFile open(const std::string& path);

  const std::string& source_name() const { return source_name_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }

  // Metadata in file order; find returns nullptr for an absent key.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find(const std::string& key) const;
  // Typed getters: throw adamas::Error naming the key when absent or of the wrong type.
  int64_t get_int(const std::string& key) const;  // any integer type, range-checked to int64
  double get_float(const std::string& key) const;  // float32/float64 (integers accepted)
  bool get_bool(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  // The tensor's bytes (already checked to lie inside the file).
  const uint8_t* tensor_data(const GgufTensorInfo& info) const;

 private:
  std::string source_name_;
  std::shared_ptr<const void> storage_;
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace adamas
