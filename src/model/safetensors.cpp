#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "adamas/dtype.h"
#include "adamas/error.h"

namespace adamas {
namespace {

using Json = nlohmann::json;

// The stored data is little-endian; F32 tensors are copied as whole blocks.
static_assert(std::endian::native == std::endian::little, "safetensors loading assumes a little-endian host");

constexpr size_t kHeaderLengthBytes = 8;

// Every dtype of the safetensors format, so that byte ranges of tensors we cannot convert (an I64
// buffer, say) are still validated; only F32/F16/BF16 convert to fp32.
size_t safetensors_element_size(const std::string& dtype) {
  static const std::map<std::string, size_t> kSizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2},
      {"U16", 2},  {"F16", 2}, {"BF16", 2}, {"I32", 4},    {"U32", 4},     {"F32", 4},
      {"F64", 8},  {"I64", 8}, {"U64", 8}};
  const auto found = kSizes.find(dtype);
  return found == kSizes.end() ? 0 : found->second;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

// Reads a JSON value that must be a non-negative integer fitting in int64.
uint64_t non_negative_integer(const Json& value, const std::string& what, const std::string& source_name) {
  if (value.is_number_unsigned()) {
    const uint64_t number = value.get<uint64_t>();
    ADAMAS_CHECK(number <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), source_name, ": ",
                 what, " is ", number, ", larger than the largest supported value ",
                 std::numeric_limits<int64_t>::max());
    return number;
  }
  ADAMAS_CHECK(value.is_number_integer(), source_name, ": ", what, " is ", value.dump(),
               ", expected a non-negative integer");
  const int64_t number = value.get<int64_t>();
  ADAMAS_CHECK(number >= 0, source_name, ": ", what, " is ", number, ", expected a non-negative integer");
  return static_cast<uint64_t>(number);
}

SafetensorsTensor parse_tensor_entry(const std::string& name, const Json& entry, uint64_t data_region_begin,
                                     uint64_t data_region_bytes, const std::string& source_name) {
  const std::string where = "tensor '" + name + "'";
  ADAMAS_CHECK(entry.is_object(), source_name, ": header entry for ", where, " is ", entry.type_name(),
               ", expected an object with dtype, shape and data_offsets");
  SafetensorsTensor tensor;

  const auto dtype = entry.find("dtype");
  ADAMAS_CHECK(dtype != entry.end(), source_name, ": ", where, " has no dtype");
  ADAMAS_CHECK(dtype->is_string(), source_name, ": ", where, " has dtype ", dtype->dump(), ", expected a string");
  tensor.dtype = dtype->get<std::string>();
  tensor.element_size_bytes = safetensors_element_size(tensor.dtype);
  ADAMAS_CHECK(tensor.element_size_bytes != 0, source_name, ": ", where, " has unknown dtype '", tensor.dtype,
               "', expected one of the safetensors dtypes (F32, F16, BF16 can be loaded)");

  const auto shape = entry.find("shape");
  ADAMAS_CHECK(shape != entry.end(), source_name, ": ", where, " has no shape");
  ADAMAS_CHECK(shape->is_array(), source_name, ": ", where, " has shape ", shape->dump(),
               ", expected an array of non-negative integers");
  uint64_t element_count = 1;
  bool count_overflowed = false;
  for (size_t axis = 0; axis < shape->size(); ++axis) {
    const uint64_t extent =
        non_negative_integer((*shape)[axis], where + " shape[" + std::to_string(axis) + "]", source_name);
    tensor.shape.push_back(static_cast<int64_t>(extent));
    count_overflowed = count_overflowed || __builtin_mul_overflow(element_count, extent, &element_count);
  }
  tensor.element_count = element_count;
  uint64_t byte_count = 0;
  const bool bytes_overflowed =
      count_overflowed || __builtin_mul_overflow(element_count, tensor.element_size_bytes, &byte_count);
  // An overflowing size cannot fit any file; report it as such rather than as a wrapped number.
  ADAMAS_CHECK(!bytes_overflowed && byte_count <= data_region_bytes, source_name, ": ", where, " has shape ",
               shape_string(tensor.shape), " of ", tensor.dtype, ", which needs more bytes than the ",
               data_region_bytes, "-byte data region holds");

  const auto offsets = entry.find("data_offsets");
  ADAMAS_CHECK(offsets != entry.end(), source_name, ": ", where, " has no data_offsets");
  ADAMAS_CHECK(offsets->is_array() && offsets->size() == 2, source_name, ": ", where, " has data_offsets ",
               offsets->dump(), ", expected [begin, end]");
  const uint64_t begin = non_negative_integer((*offsets)[0], where + " data_offsets[0]", source_name);
  const uint64_t end = non_negative_integer((*offsets)[1], where + " data_offsets[1]", source_name);
  ADAMAS_CHECK(begin <= end, source_name, ": ", where, " has data_offsets [", begin, ", ", end,
               "], expected begin <= end");
  ADAMAS_CHECK(end <= data_region_bytes, source_name, ": ", where, " has data_offsets [", begin, ", ", end,
               "], beyond the end of the ", data_region_bytes, "-byte data region (file truncated?)");
  ADAMAS_CHECK(end - begin == byte_count, source_name, ": ", where, " has data_offsets [", begin, ", ", end,
               "] (", end - begin, " bytes), expected ", byte_count, " bytes for shape ",
               shape_string(tensor.shape), " of ", tensor.dtype);
  tensor.file_begin = data_region_begin + begin;
  tensor.file_end = data_region_begin + end;
  return tensor;
}

// Converts `count` 16-bit values at `data` (any alignment) with `convert`.
template <typename Convert>
void convert_16bit(const uint8_t* data, uint64_t count, float* out, Convert convert) {
  for (uint64_t i = 0; i < count; ++i) {
    uint16_t bits;
    std::memcpy(&bits, data + 2 * i, 2);
    out[i] = convert(bits);
  }
}

class SafetensorsWeights final : public WeightSource {
 public:
  // `source_name` names the checkpoint in messages (the file, or the index of a sharded one).
  SafetensorsWeights(std::vector<std::unique_ptr<SafetensorsFile>> files,
                     std::map<std::string, const SafetensorsFile*> file_of_tensor, std::string source_name)
      : files_(std::move(files)), file_of_tensor_(std::move(file_of_tensor)), source_name_(std::move(source_name)) {}

  bool has_tensor(const std::string& name) const override { return file_of_tensor_.count(name) != 0; }

  std::vector<std::string> tensor_names() const override {
    std::vector<std::string> names;
    names.reserve(file_of_tensor_.size());
    for (const auto& [name, file] : file_of_tensor_) names.push_back(name);
    return names;
  }

  std::vector<int64_t> tensor_shape(const std::string& name) const override {
    return file_for(name).tensor(name).shape;
  }

  std::vector<float> load_f32(const std::string& name) const override { return file_for(name).load_f32(name); }

  std::string stored_type(const std::string& name) const override { return file_for(name).tensor(name).dtype; }

 private:
  const SafetensorsFile& file_for(const std::string& name) const {
    const auto found = file_of_tensor_.find(name);
    ADAMAS_CHECK(found != file_of_tensor_.end(), source_name_, ": no tensor named '", name, "'");
    return *found->second;
  }

  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const SafetensorsFile*> file_of_tensor_;
  std::string source_name_;
};

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ADAMAS_CHECK(in, path, ": cannot open for reading");
  std::ostringstream text;
  text << in.rdbuf();
  ADAMAS_CHECK(!in.bad(), path, ": read failed");
  return text.str();
}

std::unique_ptr<WeightSource> open_sharded(const std::filesystem::path& directory,
                                           const std::filesystem::path& index_path) {
  const std::string index_name = index_path.string();
  Json index;
  try {
    index = Json::parse(read_text_file(index_name));
  } catch (const Json::exception& error) {
    throw Error(index_name + ": malformed JSON: " + error.what());
  }
  ADAMAS_CHECK(index.is_object(), index_name, ": top level is ", index.type_name(), ", expected an object");
  const auto weight_map = index.find("weight_map");
  ADAMAS_CHECK(weight_map != index.end(), index_name, ": no weight_map");
  ADAMAS_CHECK(weight_map->is_object(), index_name, ": weight_map is ", weight_map->type_name(),
               ", expected an object of tensor name -> shard file");
  ADAMAS_CHECK(!weight_map->empty(), index_name, ": weight_map is empty, expected at least one tensor");

  std::map<std::string, std::unique_ptr<SafetensorsFile>> shards;
  std::map<std::string, const SafetensorsFile*> file_of_tensor;
  for (const auto& [tensor_name, shard_value] : weight_map->items()) {
    ADAMAS_CHECK(shard_value.is_string(), index_name, ": weight_map entry for tensor '", tensor_name, "' is ",
                 shard_value.dump(), ", expected a shard file name");
    const std::string shard = shard_value.get<std::string>();
    // Shards sit next to the index; a path could reach outside the checkpoint directory.
    ADAMAS_CHECK(!shard.empty() && shard != "." && shard != ".." && shard.find('/') == std::string::npos &&
                     shard.find('\\') == std::string::npos,
                 index_name, ": weight_map entry for tensor '", tensor_name, "' names shard '", shard,
                 "', expected a plain file name in the same directory");
    auto& file = shards[shard];
    if (!file) {
      const std::filesystem::path shard_path = directory / shard;
      std::error_code error;
      ADAMAS_CHECK(std::filesystem::exists(shard_path, error), index_name, ": shard '", shard,
                   "' (listed for tensor '", tensor_name, "') does not exist at ", shard_path.string());
      file = std::make_unique<SafetensorsFile>(shard_path.string());
    }
    ADAMAS_CHECK(file->tensors().count(tensor_name) != 0, index_name, ": weight_map puts tensor '", tensor_name,
                 "' in shard '", shard, "', but that file has no such tensor");
    file_of_tensor[tensor_name] = file.get();
  }
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  for (auto& [shard, file] : shards) files.push_back(std::move(file));
  return std::make_unique<SafetensorsWeights>(std::move(files), std::move(file_of_tensor), index_name);
}

}  // namespace

std::map<std::string, SafetensorsTensor> parse_safetensors_header(const uint8_t* bytes, size_t size,
                                                                  const std::string& source_name) {
  ADAMAS_CHECK(size >= kHeaderLengthBytes, source_name, ": file is ", size,
               " bytes, shorter than the 8-byte header length that starts a safetensors file");
  uint64_t header_bytes = 0;
  for (size_t i = 0; i < kHeaderLengthBytes; ++i) header_bytes |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  const uint64_t available = size - kHeaderLengthBytes;
  ADAMAS_CHECK(header_bytes <= available, source_name, ": header length is ", header_bytes, " bytes, but only ",
               available, " bytes follow the length field (truncated, or not a safetensors file)");

  Json header;
  try {
    const char* text = reinterpret_cast<const char*>(bytes + kHeaderLengthBytes);
    header = Json::parse(text, text + header_bytes);
  } catch (const Json::exception& error) {
    throw Error(source_name + ": header is not valid JSON: " + error.what());
  }
  ADAMAS_CHECK(header.is_object(), source_name, ": header is a JSON ", header.type_name(),
               ", expected an object of tensor entries");

  const uint64_t data_region_begin = kHeaderLengthBytes + header_bytes;
  const uint64_t data_region_bytes = size - data_region_begin;
  std::map<std::string, SafetensorsTensor> tensors;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    tensors.emplace(name, parse_tensor_entry(name, entry, data_region_begin, data_region_bytes, source_name));
  }

  // Overlapping byte ranges mean a corrupt or hand-crafted file: no writer produces them.
  std::vector<std::pair<const SafetensorsTensor*, const std::string*>> by_offset;
  for (const auto& [name, tensor] : tensors) {
    if (tensor.file_end > tensor.file_begin) by_offset.emplace_back(&tensor, &name);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const auto& a, const auto& b) { return a.first->file_begin < b.first->file_begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    ADAMAS_CHECK(by_offset[i].first->file_begin >= by_offset[i - 1].first->file_end, source_name, ": tensor '",
                 *by_offset[i].second, "' overlaps the bytes of tensor '", *by_offset[i - 1].second, "'");
  }
  return tensors;
}

std::vector<float> safetensors_tensor_to_f32(const uint8_t* data, const SafetensorsTensor& tensor,
                                             const std::string& tensor_name, const std::string& source_name) {
  std::vector<float> values(tensor.element_count);
  if (tensor.dtype == "F32") {
    if (tensor.element_count != 0) std::memcpy(values.data(), data, tensor.element_count * 4);
  } else if (tensor.dtype == "F16") {
    convert_16bit(data, tensor.element_count, values.data(), f16_to_f32);
  } else if (tensor.dtype == "BF16") {
    convert_16bit(data, tensor.element_count, values.data(), bf16_to_f32);
  } else {
    throw Error(source_name + ": tensor '" + tensor_name + "' is stored as " + tensor.dtype +
                ", expected F32, F16 or BF16");
  }
  return values;
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ADAMAS_CHECK(descriptor >= 0, path, ": cannot open: ", std::strerror(errno));
  struct stat info {};
  if (::fstat(descriptor, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(descriptor);
    throw Error(path + ": not a regular file");
  }
  if (info.st_size == 0) {
    ::close(descriptor);
    throw Error(path + ": file is empty");
  }
  size_bytes_ = static_cast<size_t>(info.st_size);
  void* mapping = ::mmap(nullptr, size_bytes_, PROT_READ, MAP_PRIVATE, descriptor, 0);
  const int map_errno = errno;
  ::close(descriptor);  // the mapping keeps the file alive
  ADAMAS_CHECK(mapping != MAP_FAILED, path, ": mmap of ", size_bytes_, " bytes failed: ", std::strerror(map_errno));
  data_ = static_cast<const uint8_t*>(mapping);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_bytes_);
}

SafetensorsFile::SafetensorsFile(const std::string& path)
    : file_(path), tensors_(parse_safetensors_header(file_.data(), file_.size_bytes(), path)) {}

const SafetensorsTensor& SafetensorsFile::tensor(const std::string& name) const {
  const auto found = tensors_.find(name);
  ADAMAS_CHECK(found != tensors_.end(), path(), ": no tensor named '", name, "'");
  return found->second;
}

std::vector<float> SafetensorsFile::load_f32(const std::string& name) const {
  const SafetensorsTensor& entry = tensor(name);
  return safetensors_tensor_to_f32(file_.data() + entry.file_begin, entry, name, path());
}

std::unique_ptr<WeightSource> open_safetensors_file(const std::string& path) {
  auto file = std::make_unique<SafetensorsFile>(path);
  std::map<std::string, const SafetensorsFile*> file_of_tensor;
  for (const auto& [name, tensor] : file->tensors()) file_of_tensor[name] = file.get();
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  files.push_back(std::move(file));
  return std::make_unique<SafetensorsWeights>(std::move(files), std::move(file_of_tensor), path);
}

std::unique_ptr<WeightSource> open_safetensors_dir(const std::string& directory) {
  namespace fs = std::filesystem;
  std::error_code error;
  ADAMAS_CHECK(fs::is_directory(directory, error), directory, ": not a directory");
  const fs::path single = fs::path(directory) / "model.safetensors";
  if (fs::exists(single, error)) return open_safetensors_file(single.string());
  const fs::path index = fs::path(directory) / "model.safetensors.index.json";
  if (fs::exists(index, error)) return open_sharded(directory, index);
  const bool has_pytorch = fs::exists(fs::path(directory) / "pytorch_model.bin", error) ||
                           fs::exists(fs::path(directory) / "pytorch_model.bin.index.json", error);
  throw Error(directory + ": no model.safetensors or model.safetensors.index.json" +
              (has_pytorch ? " (PyTorch .bin checkpoints are not supported; convert them to safetensors)" : ""));
}

}  // namespace adamas
