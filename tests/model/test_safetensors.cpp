#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "adamas/error.h"
#include "adamas/model/weight_source.h"
#include "model/model_test_support.h"
#include "model/safetensors.h"

namespace adamas {
namespace {

using test::expect_error;
using test::safetensors_bytes;
using test::StoredTensor;
using test::stored_tensor;
using test::TempDir;
using test::write_bytes;
using test::write_text;
using Json = nlohmann::json;

// ---- round trips ---------------------------------------------------------------------------

class SafetensorsRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(SafetensorsRoundTrip, ValuesComeBackAsStoredRounding) {
  const std::string dtype = GetParam();
  TempDir dir;
  const std::vector<int64_t> shape = {3, 5, 7};
  const uint32_t seed = 1234;
  std::vector<float> values = test::random_values(3 * 5 * 7, seed);
  // Exactly representable values and special cases in every dtype.
  values[0] = 0.0f;
  values[1] = -2.5f;
  values[2] = 1024.0f;
  values[3] = INFINITY;
  values[4] = -0.0f;
  write_bytes(dir.file("model.safetensors"),
              safetensors_bytes({stored_tensor("model.a", dtype, shape, values),
                                 stored_tensor("model.b", dtype, {2}, {1.5f, -3.0f})}));
  const auto weights = open_safetensors_dir(dir.path().string());
  ASSERT_TRUE(weights->has_tensor("model.a"));
  EXPECT_EQ(weights->tensor_shape("model.a"), shape);
  EXPECT_EQ(weights->stored_type("model.a"), dtype);
  const std::vector<float> loaded = weights->load_f32("model.a");
  ASSERT_EQ(loaded.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    // Bit-exact: loading must undo storing exactly, so compare the rounded value, not a tolerance.
    const float expected = test::round_trip(dtype, values[i]);
    EXPECT_EQ(std::memcmp(&loaded[i], &expected, 4), 0)
        << "dtype " << dtype << " seed " << seed << " index " << i << ": " << loaded[i] << " vs " << expected;
  }
  EXPECT_EQ(weights->load_f32("model.b"), (std::vector<float>{1.5f, -3.0f}));
  EXPECT_EQ(weights->tensor_names(), (std::vector<std::string>{"model.a", "model.b"}));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, SafetensorsRoundTrip, ::testing::Values("F32", "F16", "BF16"),
                         [](const auto& info) { return info.param; });

TEST(Safetensors, F16SubnormalsAndBf16KnownBits) {
  TempDir dir;
  StoredTensor half{"half", "F16", {3}, {0x01, 0x00, 0x00, 0x3c, 0xff, 0x7b}};  // 2^-24, 1.0, 65504
  StoredTensor brain{"brain", "BF16", {2}, {0x80, 0x3f, 0x00, 0xc0}};             // 1.0, -2.0
  write_bytes(dir.file("model.safetensors"), safetensors_bytes({half, brain}));
  const auto weights = open_safetensors_dir(dir.path().string());
  EXPECT_EQ(weights->load_f32("half"), (std::vector<float>{std::ldexp(1.0f, -24), 1.0f, 65504.0f}));
  EXPECT_EQ(weights->load_f32("brain"), (std::vector<float>{1.0f, -2.0f}));
}

TEST(Safetensors, UnalignedDataScalarsAndEmptyTensors) {
  TempDir dir;
  // A 3-byte U8 tensor first puts the F32 data at an odd offset: loads must not assume alignment.
  StoredTensor bytes{"bytes", "U8", {3}, {1, 2, 3}};
  write_bytes(dir.file("model.safetensors"),
              safetensors_bytes({bytes, stored_tensor("scalar", "F32", {}, {7.0f}),
                                 stored_tensor("empty", "BF16", {4, 0}, {}),
                                 stored_tensor("odd", "F32", {2}, {0.25f, -8.0f})}));
  const auto weights = open_safetensors_dir(dir.path().string());
  EXPECT_EQ(weights->tensor_shape("scalar"), std::vector<int64_t>{});
  EXPECT_EQ(weights->load_f32("scalar"), std::vector<float>{7.0f});
  EXPECT_EQ(weights->tensor_shape("empty"), (std::vector<int64_t>{4, 0}));
  EXPECT_TRUE(weights->load_f32("empty").empty());
  EXPECT_EQ(weights->load_f32("odd"), (std::vector<float>{0.25f, -8.0f}));
  // U8 is a valid safetensors dtype (so the file opens) but not one we convert.
  EXPECT_EQ(weights->stored_type("bytes"), "U8");
  expect_error([&] { weights->load_f32("bytes"); }, {"tensor 'bytes' is stored as U8", "expected F32, F16 or BF16"});
}

TEST(Safetensors, UnknownTensorNameIsAnError) {
  TempDir dir;
  write_bytes(dir.file("model.safetensors"), safetensors_bytes({stored_tensor("a", "F32", {1}, {1.0f})}));
  const auto weights = open_safetensors_dir(dir.path().string());
  EXPECT_FALSE(weights->has_tensor("b"));
  expect_error([&] { weights->load_f32("b"); }, {"model.safetensors", "no tensor named 'b'"});
  expect_error([&] { weights->tensor_shape("b"); }, {"no tensor named 'b'"});
  expect_error([&] { weights->stored_type("b"); }, {"no tensor named 'b'"});
}

TEST(Safetensors, MetadataIsIgnored) {
  TempDir dir;
  write_bytes(dir.file("model.safetensors"),
              safetensors_bytes({stored_tensor("a", "F32", {1}, {1.0f})},
                                [](Json& header) { header["__metadata__"] = {{"anything", "goes"}}; }));
  const auto weights = open_safetensors_dir(dir.path().string());
  EXPECT_EQ(weights->tensor_names(), std::vector<std::string>{"a"});
}

// ---- sharded checkpoints -------------------------------------------------------------------

void write_two_shards(const TempDir& dir) {
  write_bytes(dir.file("model-00001-of-00002.safetensors"),
              safetensors_bytes({stored_tensor("model.embed_tokens.weight", "BF16", {2, 2}, {1, 2, 3, 4}),
                                 stored_tensor("model.norm.weight", "F32", {2}, {0.5f, 0.25f})}));
  write_bytes(dir.file("model-00002-of-00002.safetensors"),
              safetensors_bytes({stored_tensor("lm_head.weight", "F16", {2, 2}, {-1, -2, -3, -4}),
                                 stored_tensor("unlisted", "F32", {1}, {9.0f})}));
}

Json two_shard_index() {
  return {{"metadata", {{"total_size", 32}}},
          {"weight_map",
           {{"model.embed_tokens.weight", "model-00001-of-00002.safetensors"},
            {"model.norm.weight", "model-00001-of-00002.safetensors"},
            {"lm_head.weight", "model-00002-of-00002.safetensors"}}}};
}

TEST(SafetensorsSharded, LoadsEveryTensorOfTheWeightMap) {
  TempDir dir;
  write_two_shards(dir);
  write_text(dir.file("model.safetensors.index.json"), two_shard_index().dump(2));
  const auto weights = open_safetensors_dir(dir.path().string());
  EXPECT_EQ(weights->tensor_names(),
            (std::vector<std::string>{"lm_head.weight", "model.embed_tokens.weight", "model.norm.weight"}));
  EXPECT_EQ(weights->load_f32("model.embed_tokens.weight"), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(weights->load_f32("lm_head.weight"), (std::vector<float>{-1, -2, -3, -4}));
  EXPECT_EQ(weights->load_f32("model.norm.weight"), (std::vector<float>{0.5f, 0.25f}));
  EXPECT_EQ(weights->stored_type("lm_head.weight"), "F16");
  // The index is the authority: tensors a shard holds but the index does not list are not exposed.
  EXPECT_FALSE(weights->has_tensor("unlisted"));
}

TEST(SafetensorsSharded, MissingShardFile) {
  TempDir dir;
  write_two_shards(dir);
  std::filesystem::remove(dir.file("model-00002-of-00002.safetensors"));
  write_text(dir.file("model.safetensors.index.json"), two_shard_index().dump());
  expect_error([&] { open_safetensors_dir(dir.path().string()); },
               {"model.safetensors.index.json", "shard 'model-00002-of-00002.safetensors'", "does not exist"});
}

TEST(SafetensorsSharded, TensorNotInItsShard) {
  TempDir dir;
  write_two_shards(dir);
  Json index = two_shard_index();
  index["weight_map"]["lm_head.weight"] = "model-00001-of-00002.safetensors";
  write_text(dir.file("model.safetensors.index.json"), index.dump());
  expect_error([&] { open_safetensors_dir(dir.path().string()); },
               {"tensor 'lm_head.weight'", "shard 'model-00001-of-00002.safetensors'", "no such tensor"});
}

TEST(SafetensorsSharded, MalformedIndex) {
  TempDir dir;
  write_two_shards(dir);
  const std::string index_path = dir.file("model.safetensors.index.json");
  const std::string directory = dir.path().string();

  write_text(index_path, "{\"weight_map\": ");
  expect_error([&] { open_safetensors_dir(directory); }, {"model.safetensors.index.json", "malformed JSON"});
  write_text(index_path, "[]");
  expect_error([&] { open_safetensors_dir(directory); }, {"expected an object"});
  write_text(index_path, R"({"metadata": {}})");
  expect_error([&] { open_safetensors_dir(directory); }, {"no weight_map"});
  write_text(index_path, R"({"weight_map": []})");
  expect_error([&] { open_safetensors_dir(directory); }, {"weight_map is array"});
  write_text(index_path, R"({"weight_map": {}})");
  expect_error([&] { open_safetensors_dir(directory); }, {"weight_map is empty"});
  write_text(index_path, R"({"weight_map": {"a": 3}})");
  expect_error([&] { open_safetensors_dir(directory); }, {"tensor 'a'", "expected a shard file name"});
  for (const char* shard : {"../model-00001-of-00002.safetensors", "/etc/passwd", "", ".."}) {
    write_text(index_path, Json{{"weight_map", {{"a", shard}}}}.dump());
    expect_error([&] { open_safetensors_dir(directory); }, {"expected a plain file name"});
  }
}

TEST(SafetensorsDir, MissingWeights) {
  TempDir dir;
  expect_error([&] { open_safetensors_dir(dir.path().string()); },
               {"no model.safetensors or model.safetensors.index.json"});
  write_text(dir.file("pytorch_model.bin"), "not really");
  expect_error([&] { open_safetensors_dir(dir.path().string()); }, {"PyTorch .bin checkpoints are not supported"});
  expect_error([&] { open_safetensors_dir(dir.file("nonexistent")); }, {"nonexistent", "not a directory"});
}

// ---- malformed single files ----------------------------------------------------------------

std::vector<StoredTensor> small_tensors() {
  return {stored_tensor("w", "BF16", {2, 3}, {1, 2, 3, 4, 5, 6}), stored_tensor("v", "F32", {2}, {-1, 1})};
}

// Writes `bytes` as a one-file checkpoint and opens it.
void open_bytes(const TempDir& dir, const std::vector<uint8_t>& bytes) {
  write_bytes(dir.file("model.safetensors"), bytes);
  open_safetensors_dir(dir.path().string());
}

void open_header(const TempDir& dir, const std::function<void(Json&)>& edit) {
  open_bytes(dir, safetensors_bytes(small_tensors(), edit));
}

TEST(SafetensorsMalformed, TruncatedAtEveryLength) {
  TempDir dir;
  const std::vector<uint8_t> bytes = safetensors_bytes(small_tensors());
  open_bytes(dir, bytes);  // the whole file is fine
  for (size_t length = 0; length < bytes.size(); ++length) {
    SCOPED_TRACE("truncated to " + std::to_string(length) + " of " + std::to_string(bytes.size()) + " bytes");
    const std::vector<uint8_t> truncated(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length));
    expect_error([&] { open_bytes(dir, truncated); }, {"model.safetensors"});
  }
}

TEST(SafetensorsMalformed, HeaderLength) {
  TempDir dir;
  std::vector<uint8_t> bytes = safetensors_bytes(small_tensors());
  std::vector<uint8_t> beyond = bytes;
  beyond[0] = 0xff;
  beyond[1] = 0xff;
  expect_error([&] { open_bytes(dir, beyond); }, {"header length is 65", "bytes follow the length field"});
  std::vector<uint8_t> huge = bytes;
  for (int i = 0; i < 8; ++i) huge[i] = 0xff;
  expect_error([&] { open_bytes(dir, huge); }, {"header length is 18446744073709551615"});
  expect_error([&] { open_bytes(dir, {1, 2, 3}); }, {"file is 3 bytes", "8-byte header length"});
  std::vector<uint8_t> zero_header(8, 0);
  expect_error([&] { open_bytes(dir, zero_header); }, {"header is not valid JSON"});
}

TEST(SafetensorsMalformed, BadJson) {
  TempDir dir;
  std::vector<uint8_t> bytes = safetensors_bytes(small_tensors());
  bytes[8] = '[';  // the opening brace
  expect_error([&] { open_bytes(dir, bytes); }, {"header is not valid JSON"});
  expect_error([&] { open_header(dir, [](Json& header) { header = Json::array({1, 2}); }); },
               {"header is a JSON array", "expected an object"});
  expect_error([&] { open_header(dir, [](Json& header) { header["w"] = "F32"; }); },
               {"tensor 'w'", "expected an object"});
}

TEST(SafetensorsMalformed, MissingFields) {
  TempDir dir;
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    expect_error([&] { open_header(dir, [&](Json& header) { header["w"].erase(field); }); },
                 {"tensor 'w' has no " + std::string(field)});
  }
}

TEST(SafetensorsMalformed, Dtypes) {
  TempDir dir;
  expect_error([&] { open_header(dir, [](Json& header) { header["w"]["dtype"] = "Q4_0"; }); },
               {"tensor 'w' has unknown dtype 'Q4_0'"});
  expect_error([&] { open_header(dir, [](Json& header) { header["w"]["dtype"] = 16; }); },
               {"tensor 'w' has dtype 16", "expected a string"});
  // Same size as BF16, so the file is consistent; loading it as fp32 is what fails.
  write_bytes(dir.file("model.safetensors"),
              safetensors_bytes(small_tensors(), [](Json& header) { header["w"]["dtype"] = "I16"; }));
  const auto weights = open_safetensors_dir(dir.path().string());
  expect_error([&] { weights->load_f32("w"); }, {"tensor 'w' is stored as I16"});
  EXPECT_EQ(weights->load_f32("v"), (std::vector<float>{-1, 1}));
}

TEST(SafetensorsMalformed, Shapes) {
  TempDir dir;
  expect_error([&] { open_header(dir, [](Json& header) { header["w"]["shape"] = {2, -3}; }); },
               {"tensor 'w' shape[1] is -3", "non-negative integer"});
  expect_error([&] { open_header(dir, [](Json& header) { header["w"]["shape"] = {2, 3.0}; }); },
               {"tensor 'w' shape[1] is 3.0"});
  expect_error([&] { open_header(dir, [](Json& header) { header["w"]["shape"] = "2x3"; }); },
               {"tensor 'w' has shape \"2x3\""});
  // The element count overflows 64 bits; must not wrap around to a small byte count.
  expect_error(
      [&] {
        open_header(dir, [](Json& header) {
          header["w"]["shape"] = {uint64_t{1} << 32, uint64_t{1} << 32, 1};
        });
      },
      {"tensor 'w' has shape [4294967296, 4294967296, 1]", "needs more bytes than"});
  // 2^62 elements of 2 bytes: the byte count overflows even though the element count does not.
  expect_error([&] { open_header(dir, [](Json& header) { header["w"]["shape"] = {uint64_t{1} << 62}; }); },
               {"needs more bytes than"});
  expect_error([&] { open_header(dir, [](Json& header) { header["w"]["shape"] = {UINT64_MAX}; }); },
               {"shape[0] is 18446744073709551615", "larger than the largest supported value"});
}

TEST(SafetensorsMalformed, Offsets) {
  TempDir dir;
  // Data region: w = [0, 12), v = [12, 20).
  expect_error([&] { open_header(dir, [](Json& header) { header["v"]["data_offsets"] = {12, 28}; }); },
               {"tensor 'v' has data_offsets [12, 28]", "beyond the end of the 20-byte data region"});
  expect_error([&] { open_header(dir, [](Json& header) { header["v"]["data_offsets"] = {20, 12}; }); },
               {"tensor 'v' has data_offsets [20, 12]", "begin <= end"});
  expect_error([&] { open_header(dir, [](Json& header) { header["v"]["data_offsets"] = {12, 19}; }); },
               {"tensor 'v' has data_offsets [12, 19] (7 bytes), expected 8 bytes for shape [2] of F32"});
  expect_error([&] { open_header(dir, [](Json& header) { header["v"]["data_offsets"] = {12}; }); },
               {"tensor 'v' has data_offsets [12]", "expected [begin, end]"});
  expect_error([&] { open_header(dir, [](Json& header) { header["v"]["data_offsets"] = {-4, 4}; }); },
               {"data_offsets[0] is -4"});
  expect_error(
      [&] { open_header(dir, [](Json& header) { header["v"]["data_offsets"] = {UINT64_MAX - 3, UINT64_MAX}; }); },
      {"data_offsets[0] is 18446744073709551612"});
  expect_error([&] { open_header(dir, [](Json& header) { header["v"]["data_offsets"] = {4, 12}; }); },
               {"overlaps"});
}

TEST(SafetensorsMalformed, FilesThatAreNotFiles) {
  TempDir dir;
  std::filesystem::create_directory(dir.file("model.safetensors"));
  expect_error([&] { open_safetensors_dir(dir.path().string()); }, {"model.safetensors", "not a regular file"});
  std::filesystem::remove(dir.file("model.safetensors"));
  write_bytes(dir.file("model.safetensors"), {});
  expect_error([&] { open_safetensors_dir(dir.path().string()); }, {"model.safetensors", "empty"});
  expect_error([&] { open_safetensors_file(dir.file("absent.safetensors")); },
               {"absent.safetensors", "cannot open"});
}

// ---- fuzzing -------------------------------------------------------------------------------

// Applies one random edit: flip a bit, overwrite a byte (often with a digit or JSON punctuation,
// which reach deeper into the parser than random bytes), truncate, duplicate a span, or rewrite the
// header length.
void mutate(std::vector<uint8_t>& bytes, std::mt19937& generator) {
  auto below = [&](size_t bound) { return bound == 0 ? size_t{0} : std::uniform_int_distribution<size_t>(0, bound - 1)(generator); };
  static const char kInteresting[] = "0123456789-[]{},:\"eE.FBI ";
  switch (below(6)) {
    case 0:
      if (!bytes.empty()) bytes[below(bytes.size())] ^= static_cast<uint8_t>(1u << below(8));
      break;
    case 1:
      if (!bytes.empty()) bytes[below(bytes.size())] = static_cast<uint8_t>(kInteresting[below(sizeof(kInteresting) - 1)]);
      break;
    case 2:
      if (!bytes.empty()) bytes[below(bytes.size())] = static_cast<uint8_t>(below(256));
      break;
    case 3:
      bytes.resize(below(bytes.size() + 1));
      break;
    case 4: {
      if (bytes.empty()) break;
      const size_t begin = below(bytes.size());
      const size_t length = below(std::min<size_t>(16, bytes.size() - begin) + 1);
      const std::vector<uint8_t> span(bytes.begin() + static_cast<std::ptrdiff_t>(begin),
                                      bytes.begin() + static_cast<std::ptrdiff_t>(begin + length));
      bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(below(bytes.size() + 1)), span.begin(), span.end());
      break;
    }
    default:
      if (bytes.size() >= 8) {
        const uint64_t length = below(bytes.size() + 4);
        for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(length >> (8 * i));
      }
      break;
  }
}

// Parses and loads everything; returns whether the bytes were accepted. Anything other than
// adamas::Error escaping (or a crash) fails the test.
bool parse_and_load(const std::vector<uint8_t>& bytes) {
  try {
    const auto tensors = parse_safetensors_header(bytes.data(), bytes.size(), "fuzz.safetensors");
    for (const auto& [name, tensor] : tensors) {
      if (tensor.file_end > bytes.size() || tensor.file_begin > tensor.file_end) {
        ADD_FAILURE() << "accepted tensor '" << name << "' outside the buffer";
        return true;
      }
      try {
        safetensors_tensor_to_f32(bytes.data() + tensor.file_begin, tensor, name, "fuzz.safetensors");
      } catch (const Error&) {
        // an unconvertible dtype
      }
    }
    return true;
  } catch (const Error&) {
    return false;
  }
}

TEST(SafetensorsFuzz, RandomMutationsLoadOrThrowAdamasError) {
  const std::vector<uint8_t> valid = safetensors_bytes(
      {stored_tensor("model.w", "BF16", {3, 4}, test::random_values(12, 7)), stored_tensor("b", "F16", {5}, {1, 2, 3, 4, 5}),
       StoredTensor{"flag", "BOOL", {2}, {0, 1}}, stored_tensor("s", "F32", {}, {3.0f})});
  ASSERT_TRUE(parse_and_load(valid));
  const uint32_t seed = 20240611;
  std::mt19937 generator(seed);
  constexpr int kIterations = 50000;
  int accepted = 0;
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    std::vector<uint8_t> bytes = valid;
    const int edits = 1 + static_cast<int>(generator() % 4);
    for (int edit = 0; edit < edits; ++edit) mutate(bytes, generator);
    SCOPED_TRACE("seed " + std::to_string(seed) + " iteration " + std::to_string(iteration));
    accepted += parse_and_load(bytes) ? 1 : 0;
  }
  // Both outcomes must occur, or the mutations are not exercising the parser.
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, kIterations);
}

TEST(SafetensorsFuzz, MutatedFilesThroughTheDirectoryEntryPoint) {
  TempDir dir;
  const std::vector<uint8_t> valid = safetensors_bytes(small_tensors());
  const uint32_t seed = 99;
  std::mt19937 generator(seed);
  for (int iteration = 0; iteration < 300; ++iteration) {
    std::vector<uint8_t> bytes = valid;
    mutate(bytes, generator);
    SCOPED_TRACE("seed " + std::to_string(seed) + " iteration " + std::to_string(iteration));
    try {
      write_bytes(dir.file("model.safetensors"), bytes);
      const auto weights = open_safetensors_dir(dir.path().string());
      for (const std::string& name : weights->tensor_names()) {
        try {
          weights->load_f32(name);
        } catch (const Error&) {
        }
      }
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace adamas
