// A minimal GGUF writer for tests: metadata of any value type and raw tensor bytes, laid out as
// the format says (u64 string lengths, aligned data section), so that tests can build valid
// files and then break them on purpose.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace adamas::test {

class GgufWriter {
 public:
  // GGUF value type ids.
  enum : uint32_t { kU8 = 0, kI8, kU16, kI16, kU32, kI32, kF32, kBool, kString, kArray, kU64, kI64, kF64 };

  void add_u32(const std::string& key, uint32_t value) { scalar(key, kU32, &value, 4); }
  void add_i32(const std::string& key, int32_t value) { scalar(key, kI32, &value, 4); }
  void add_u64(const std::string& key, uint64_t value) { scalar(key, kU64, &value, 8); }
  void add_f32(const std::string& key, float value) { scalar(key, kF32, &value, 4); }
  void add_f64(const std::string& key, double value) { scalar(key, kF64, &value, 8); }
  void add_bool(const std::string& key, bool value) {
    const uint8_t byte = value ? 1 : 0;
    scalar(key, kBool, &byte, 1);
  }
  void add_string(const std::string& key, const std::string& value) {
    put_string(metadata_, key);
    put<uint32_t>(metadata_, kString);
    put_string(metadata_, value);
    ++kv_count_;
  }
  void add_string_array(const std::string& key, const std::vector<std::string>& values) {
    put_string(metadata_, key);
    put<uint32_t>(metadata_, kArray);
    put<uint32_t>(metadata_, kString);
    put<uint64_t>(metadata_, values.size());
    for (const std::string& value : values) put_string(metadata_, value);
    ++kv_count_;
  }
  void add_i32_array(const std::string& key, const std::vector<int32_t>& values) {
    put_string(metadata_, key);
    put<uint32_t>(metadata_, kArray);
    put<uint32_t>(metadata_, kI32);
    put<uint64_t>(metadata_, values.size());
    for (int32_t value : values) put<int32_t>(metadata_, value);
    ++kv_count_;
  }
  // Any pre-encoded value (for malformed-file tests).
  void add_raw(const std::string& key, uint32_t type, const std::vector<uint8_t>& encoded_value) {
    put_string(metadata_, key);
    put<uint32_t>(metadata_, type);
    metadata_.insert(metadata_.end(), encoded_value.begin(), encoded_value.end());
    ++kv_count_;
  }

  // `ne` in GGUF order (ne[0] innermost); `data` is the stored bytes of the given ggml type id.
  void add_tensor(const std::string& name, const std::vector<int64_t>& ne, uint32_t type,
                  const std::vector<uint8_t>& data) {
    tensors_.push_back({name, ne, type, data});
  }

  void set_alignment(uint64_t alignment) { alignment_ = alignment; }
  void set_version(uint32_t version) { version_ = version; }

  // The file. Tensor data follows the infos after padding to the alignment; each tensor starts
  // aligned; the file ends right after the last tensor's bytes (no trailing padding).
  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> out;
    put<uint32_t>(out, 0x46554747u);
    put<uint32_t>(out, version_);
    put<uint64_t>(out, tensors_.size());
    put<uint64_t>(out, kv_count_);
    out.insert(out.end(), metadata_.begin(), metadata_.end());
    uint64_t offset = 0;
    for (const Tensor& tensor : tensors_) {
      put_string(out, tensor.name);
      put<uint32_t>(out, static_cast<uint32_t>(tensor.ne.size()));
      for (int64_t extent : tensor.ne) put<uint64_t>(out, static_cast<uint64_t>(extent));
      put<uint32_t>(out, tensor.type);
      put<uint64_t>(out, offset);
      offset = pad(offset + tensor.data.size());
    }
    out.resize(pad(out.size()), 0);
    const size_t data_start = out.size();
    offset = 0;
    for (const Tensor& tensor : tensors_) {
      out.resize(data_start + offset, 0);
      out.insert(out.end(), tensor.data.begin(), tensor.data.end());
      offset = pad(offset + tensor.data.size());
    }
    return out;
  }

  template <typename T>
  static void put(std::vector<uint8_t>& out, T value) {
    uint8_t raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T));
    out.insert(out.end(), raw, raw + sizeof(T));
  }
  static void put_string(std::vector<uint8_t>& out, const std::string& text) {
    put<uint64_t>(out, text.size());
    out.insert(out.end(), text.begin(), text.end());
  }

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    uint32_t type;
    std::vector<uint8_t> data;
  };

  void scalar(const std::string& key, uint32_t type, const void* value, size_t size) {
    put_string(metadata_, key);
    put<uint32_t>(metadata_, type);
    const uint8_t* raw = static_cast<const uint8_t*>(value);
    metadata_.insert(metadata_.end(), raw, raw + size);
    ++kv_count_;
  }
  uint64_t pad(uint64_t n) const { return (n + alignment_ - 1) / alignment_ * alignment_; }

  std::vector<uint8_t> metadata_;
  uint64_t kv_count_ = 0;
  std::vector<Tensor> tensors_;
  uint64_t alignment_ = 32;
  uint32_t version_ = 3;
};

}  // namespace adamas::test
