#include "model/gguf_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "adamas/error.h"

namespace adamas {

namespace {

constexpr uint32_t kGgufMagic = 0x46554747u;  // "GGUF" read as a little-endian u32
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;          // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 3;         // arrays of arrays are legal; deeper nesting is not used
constexpr int64_t kMaxElements = int64_t{1} << 50;  // far above any model, far below overflow

// Bounds-checked little-endian reads over the file bytes; every failure names the file, the
// thing being read and the offset.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> bytes, const std::string& source) : bytes_(bytes), source_(source) {}

  uint64_t position() const { return position_; }
  uint64_t remaining() const { return bytes_.size() - position_; }

  void require(uint64_t n, const char* what) const {
    ADAMAS_CHECK(n <= remaining(), source_, ": truncated while reading ", what, " at offset ", position_,
                 ": need ", n, " bytes, file has ", remaining(), " left");
  }

  template <typename T>
  T read(const char* what) {
    require(sizeof(T), what);
    T value;
    std::memcpy(&value, bytes_.data() + position_, sizeof(T));  // host is little-endian (x86, arm64)
    position_ += sizeof(T);
    return value;
  }

  std::string read_string(const char* what) {
    const uint64_t length = read<uint64_t>(what);
    ADAMAS_CHECK(length <= remaining(), source_, ": ", what, " at offset ", position_ - 8, " has length ",
                 length, ", but only ", remaining(), " bytes remain in the file");
    std::string text(reinterpret_cast<const char*>(bytes_.data() + position_), length);
    position_ += length;
    return text;
  }

 private:
  std::span<const uint8_t> bytes_;
  const std::string& source_;
  uint64_t position_ = 0;
};

uint64_t scalar_size(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool: return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16: return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32: return 4;
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64: return 8;
    case GgufValueType::kString: return 8;  // at least the length field
    case GgufValueType::kArray: return 12;  // at least element type + count
  }
  return 0;
}

bool valid_value_type(uint32_t raw) { return raw <= static_cast<uint32_t>(GgufValueType::kFloat64); }

GgufValue read_value(Cursor& cursor, GgufValueType type, const std::string& key, int depth,
                     const std::string& source) {
  GgufValue value;
  value.type = type;
  switch (type) {
    case GgufValueType::kUint8: value.int_value = cursor.read<uint8_t>("u8 value"); break;
    case GgufValueType::kInt8: value.int_value = cursor.read<int8_t>("i8 value"); break;
    case GgufValueType::kUint16: value.int_value = cursor.read<uint16_t>("u16 value"); break;
    case GgufValueType::kInt16: value.int_value = cursor.read<int16_t>("i16 value"); break;
    case GgufValueType::kUint32: value.int_value = cursor.read<uint32_t>("u32 value"); break;
    case GgufValueType::kInt32: value.int_value = cursor.read<int32_t>("i32 value"); break;
    case GgufValueType::kInt64: value.int_value = cursor.read<int64_t>("i64 value"); break;
    case GgufValueType::kUint64:
      value.uint_value = cursor.read<uint64_t>("u64 value");
      value.int_value = static_cast<int64_t>(value.uint_value);  // checked by get_int
      break;
    case GgufValueType::kFloat32: value.float_value = cursor.read<float>("f32 value"); break;
    case GgufValueType::kFloat64: value.float_value = cursor.read<double>("f64 value"); break;
    case GgufValueType::kBool: {
      const uint8_t raw = cursor.read<uint8_t>("bool value");
      ADAMAS_CHECK(raw <= 1, source, ": metadata '", key, "' is a bool with byte value ", int{raw},
                   ", expected 0 or 1");
      value.bool_value = raw != 0;
      break;
    }
    case GgufValueType::kString: value.string_value = cursor.read_string("string value"); break;
    case GgufValueType::kArray: {
      ADAMAS_CHECK(depth < kMaxArrayDepth, source, ": metadata '", key, "' nests arrays ", depth + 1,
                   " deep, expected at most ", kMaxArrayDepth);
      const uint32_t raw_element_type = cursor.read<uint32_t>("array element type");
      ADAMAS_CHECK(valid_value_type(raw_element_type), source, ": metadata '", key,
                   "' is an array of unknown value type ", raw_element_type, ", expected 0..12");
      value.element_type = static_cast<GgufValueType>(raw_element_type);
      const uint64_t count = cursor.read<uint64_t>("array length");
      // Each element needs at least scalar_size bytes, so a count the file cannot hold is
      // rejected before anything is allocated.
      ADAMAS_CHECK(count <= cursor.remaining() / scalar_size(value.element_type), source, ": metadata '",
                   key, "' declares ", count, " array elements of type ",
                   gguf_value_type_name(value.element_type), ", but only ", cursor.remaining(),
                   " bytes remain in the file");
      value.array.reserve(count);
      for (uint64_t i = 0; i < count; ++i) {
        value.array.push_back(read_value(cursor, value.element_type, key, depth + 1, source));
      }
      break;
    }
  }
  return value;
}

uint64_t align_up(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

const char* value_kind(const GgufValue& value) { return gguf_value_type_name(value.type); }

}  // namespace

const char* gguf_value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8: return "u8";
    case GgufValueType::kInt8: return "i8";
    case GgufValueType::kUint16: return "u16";
    case GgufValueType::kInt16: return "i16";
    case GgufValueType::kUint32: return "u32";
    case GgufValueType::kInt32: return "i32";
    case GgufValueType::kFloat32: return "f32";
    case GgufValueType::kBool: return "bool";
    case GgufValueType::kString: return "string";
    case GgufValueType::kArray: return "array";
    case GgufValueType::kUint64: return "u64";
    case GgufValueType::kInt64: return "i64";
    case GgufValueType::kFloat64: return "f64";
  }
  return "unknown";
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kUint64:
    case GgufValueType::kInt64: return true;
    default: return false;
  }
}

GgufFile GgufFile::parse(std::span<const uint8_t> bytes, std::shared_ptr<const void> storage,
                         const std::string& source_name) {
  GgufFile file;
  file.source_name_ = source_name;
  file.storage_ = std::move(storage);
  file.bytes_ = bytes;
  const std::string& source = file.source_name_;
  Cursor cursor(bytes, source);

  ADAMAS_CHECK(bytes.size() >= 4, source, ": file has ", bytes.size(), " bytes, too short for a GGUF header");
  const uint32_t magic = cursor.read<uint32_t>("magic");
  ADAMAS_CHECK(magic == kGgufMagic, source, ": bad magic 0x", std::hex, magic, std::dec,
               ", expected \"GGUF\" (0x46554747)");
  file.version_ = cursor.read<uint32_t>("version");
  ADAMAS_CHECK(file.version_ != 0x03000000u && file.version_ != 0x02000000u, source,
               ": big-endian GGUF is not supported");
  // v1 used 32-bit counts and lengths; v2 and v3 share this layout (v3 only added big-endian files).
  ADAMAS_CHECK(file.version_ == 2 || file.version_ == 3, source, ": GGUF version ", file.version_,
               ", expected 2 or 3");
  const uint64_t tensor_count = cursor.read<uint64_t>("tensor count");
  const uint64_t kv_count = cursor.read<uint64_t>("metadata count");
  // Smallest encodings: a key-value is 8 (key length) + 4 (type) + 1 (u8) bytes; a tensor info is
  // 8 (name length) + 4 (n_dims) + 8 (one dim) + 4 (type) + 8 (offset) bytes.
  ADAMAS_CHECK(kv_count <= cursor.remaining() / 13, source, ": header declares ", kv_count,
               " metadata entries, but the file has only ", cursor.remaining(), " bytes after the header");
  ADAMAS_CHECK(tensor_count <= cursor.remaining() / 32, source, ": header declares ", tensor_count,
               " tensors, but the file has only ", cursor.remaining(), " bytes after the header");

  file.metadata_.reserve(kv_count);
  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key = cursor.read_string("metadata key");
    const uint32_t raw_type = cursor.read<uint32_t>("metadata value type");
    ADAMAS_CHECK(valid_value_type(raw_type), source, ": metadata '", key, "' has unknown value type ",
                 raw_type, ", expected 0..12");
    GgufValue value = read_value(cursor, static_cast<GgufValueType>(raw_type), key, 0, source);
    ADAMAS_CHECK(file.metadata_index_.emplace(key, file.metadata_.size()).second, source,
                 ": metadata key '", key, "' appears twice");
    file.metadata_.emplace_back(std::move(key), std::move(value));
  }

  if (const GgufValue* alignment = file.find("general.alignment")) {
    ADAMAS_CHECK(alignment->type == GgufValueType::kUint32, source, ": general.alignment has type ",
                 value_kind(*alignment), ", expected u32");
    const int64_t a = alignment->int_value;
    ADAMAS_CHECK(a > 0 && (a & (a - 1)) == 0, source, ": general.alignment is ", a,
                 ", expected a power of two");
    file.alignment_ = static_cast<uint64_t>(a);
  } else {
    file.alignment_ = kDefaultAlignment;
  }

  file.tensors_.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo info;
    info.name = cursor.read_string("tensor name");
    const uint32_t n_dims = cursor.read<uint32_t>("tensor n_dims");
    ADAMAS_CHECK(n_dims >= 1 && n_dims <= kMaxDims, source, ": tensor '", info.name, "' has ", n_dims,
                 " dimensions, expected 1..", kMaxDims);
    info.n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t extent = cursor.read<uint64_t>("tensor dimension");
      ADAMAS_CHECK(extent >= 1 && extent <= static_cast<uint64_t>(kMaxElements), source, ": tensor '",
                   info.name, "' has ne[", d, "] = ", extent, ", expected 1..", kMaxElements);
      ADAMAS_CHECK(static_cast<uint64_t>(info.n_elements) <= static_cast<uint64_t>(kMaxElements) / extent,
                   source, ": tensor '", info.name, "' has more than ", kMaxElements, " elements");
      info.n_elements *= static_cast<int64_t>(extent);
      info.ne.push_back(static_cast<int64_t>(extent));
    }
    const uint32_t type_id = cursor.read<uint32_t>("tensor type");
    info.type = find_ggml_type(type_id);
    ADAMAS_CHECK(info.type != nullptr, source, ": tensor '", info.name, "' has ggml type ", type_id,
                 ", which this reader does not know (supported ids: 0-3, 6-15, 24-28, 30)");
    ADAMAS_CHECK(info.ne[0] % info.type->block_elements == 0, source, ": tensor '", info.name,
                 "' of type ", info.type->name, " has rows of ", info.ne[0],
                 " values, expected a multiple of the block size ", info.type->block_elements);
    // n_elements <= 2^50 and block_bytes / block_elements <= 8, so this cannot overflow.
    info.n_bytes = ggml_row_bytes(*info.type, info.ne[0]) * (info.n_elements / info.ne[0]);
    info.offset = cursor.read<uint64_t>("tensor offset");
    ADAMAS_CHECK(info.offset % file.alignment_ == 0, source, ": tensor '", info.name, "' has offset ",
                 info.offset, ", expected a multiple of the alignment ", file.alignment_);
    ADAMAS_CHECK(file.tensor_index_.emplace(info.name, file.tensors_.size()).second, source, ": tensor '",
                 info.name, "' appears twice");
    file.tensors_.push_back(std::move(info));
  }

  file.data_offset_ = align_up(cursor.position(), file.alignment_);
  const uint64_t file_size = bytes.size();
  if (!file.tensors_.empty()) {
    ADAMAS_CHECK(file.data_offset_ <= file_size, source, ": tensor data would start at offset ",
                 file.data_offset_, ", past the end of the file (", file_size, " bytes)");
  }
  const uint64_t data_size = file_size - std::min(file_size, file.data_offset_);
  for (const GgufTensorInfo& info : file.tensors_) {
    const uint64_t n_bytes = static_cast<uint64_t>(info.n_bytes);
    ADAMAS_CHECK(info.offset <= data_size && n_bytes <= data_size - info.offset, source, ": tensor '",
                 info.name, "' (", info.type->name, ", ", n_bytes, " bytes) at data offset ", info.offset,
                 " ends past the end of the data section (", data_size, " bytes)");
  }
  return file;
}

GgufFile GgufFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ADAMAS_CHECK(fd >= 0, path, ": cannot open: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int saved = errno;
    ::close(fd);
    throw Error(detail::concat(path, ": cannot stat: ", std::strerror(saved)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + ": not a regular file, expected a .gguf file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    throw Error(path + ": file is empty, expected a GGUF header");
  }
  void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int saved = errno;
  ::close(fd);
  ADAMAS_CHECK(mapping != MAP_FAILED, path, ": cannot mmap ", size, " bytes: ", std::strerror(saved));
  std::shared_ptr<const void> storage(mapping, [size](const void* p) { ::munmap(const_cast<void*>(p), size); });
  return parse(std::span<const uint8_t>(static_cast<const uint8_t*>(mapping), size), std::move(storage), path);
}

const GgufValue* GgufFile::find(const std::string& key) const {
  const auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

namespace {
const GgufValue& require_key(const GgufFile& file, const std::string& key) {
  const GgufValue* value = file.find(key);
  ADAMAS_CHECK(value != nullptr, file.source_name(), ": metadata '", key, "' is missing");
  return *value;
}
}  // namespace

int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue& value = require_key(*this, key);
  ADAMAS_CHECK(value.is_integer(), source_name_, ": metadata '", key, "' has type ", value_kind(value),
               ", expected an integer");
  ADAMAS_CHECK(value.type != GgufValueType::kUint64 ||
                   value.uint_value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
               source_name_, ": metadata '", key, "' is ", value.uint_value, ", too large");
  return value.int_value;
}

double GgufFile::get_float(const std::string& key) const {
  const GgufValue& value = require_key(*this, key);
  if (value.type == GgufValueType::kFloat32 || value.type == GgufValueType::kFloat64) return value.float_value;
  ADAMAS_CHECK(value.is_integer(), source_name_, ": metadata '", key, "' has type ", value_kind(value),
               ", expected a float");
  return static_cast<double>(get_int(key));
}

bool GgufFile::get_bool(const std::string& key) const {
  const GgufValue& value = require_key(*this, key);
  ADAMAS_CHECK(value.type == GgufValueType::kBool, source_name_, ": metadata '", key, "' has type ",
               value_kind(value), ", expected bool");
  return value.bool_value;
}

const std::string& GgufFile::get_string(const std::string& key) const {
  const GgufValue& value = require_key(*this, key);
  ADAMAS_CHECK(value.type == GgufValueType::kString, source_name_, ": metadata '", key, "' has type ",
               value_kind(value), ", expected string");
  return value.string_value;
}

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  const GgufValue& value = require_key(*this, key);
  ADAMAS_CHECK(value.type == GgufValueType::kArray && value.element_type == GgufValueType::kString,
               source_name_, ": metadata '", key, "' has type ", value_kind(value),
               value.type == GgufValueType::kArray ? std::string(" of ") + gguf_value_type_name(value.element_type)
                                                   : std::string(),
               ", expected array of string");
  std::vector<std::string> out;
  out.reserve(value.array.size());
  for (const GgufValue& element : value.array) out.push_back(element.string_value);
  return out;
}

std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  const GgufValue& value = require_key(*this, key);
  GgufValue element_probe;
  element_probe.type = value.element_type;
  ADAMAS_CHECK(value.type == GgufValueType::kArray && element_probe.is_integer(),
               source_name_, ": metadata '", key, "' has type ", value_kind(value),
               value.type == GgufValueType::kArray ? std::string(" of ") + gguf_value_type_name(value.element_type)
                                                   : std::string(),
               ", expected array of integers");
  std::vector<int64_t> out;
  out.reserve(value.array.size());
  for (const GgufValue& element : value.array) out.push_back(element.int_value);
  return out;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const uint8_t* GgufFile::tensor_data(const GgufTensorInfo& info) const {
  return bytes_.data() + data_offset_ + info.offset;
}

}  // namespace adamas
