//===- SafetensorsTest.cpp - Tests for the safetensors reader/writer ------===//
//
// Round trips through writeSafetensors/SafetensorsFile::open, compatibility
// with byte images laid out exactly as Python's `safetensors` writes them,
// one test per validation rule (asserting that the message names the
// problem and tensor), and the atomicity guarantees of the writer.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Safetensors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

using namespace growc::rt;
namespace fs = std::filesystem;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// A fresh directory per test, removed afterwards.
class SafetensorsTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string tmpl =
        (fs::temp_directory_path() / "growc-rt-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  std::string file(const std::string &name) const {
    return (fs::path(dir) / name).string();
  }

  /// Names of all entries in the test directory.
  std::vector<std::string> listDir() const {
    std::vector<std::string> names;
    for (const auto &entry : fs::directory_iterator(dir))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir;
};

std::vector<uint8_t> readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void writeAll(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

/// The 8-byte little-endian length prefix followed by `header` and `data`.
std::vector<uint8_t> makeImage(const std::string &header,
                               const std::vector<uint8_t> &data = {},
                               std::optional<uint64_t> lengthOverride = {}) {
  uint64_t n = lengthOverride.value_or(header.size());
  std::vector<uint8_t> bytes;
  for (int i = 0; i < 8; ++i)
    bytes.push_back(static_cast<uint8_t>(n >> (8 * i)));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

/// Pads a header with spaces to a multiple of 8 bytes, as the reference
/// (Rust/Python) writer does.
std::string padLikePython(std::string header) {
  header.append((8 - header.size() % 8) % 8, ' ');
  return header;
}

template <typename T> std::vector<uint8_t> toBytes(std::initializer_list<T> v) {
  std::vector<uint8_t> bytes(v.size() * sizeof(T));
  std::memcpy(bytes.data(), v.begin(), bytes.size());
  return bytes;
}

std::vector<uint8_t> zeros(size_t n) { return std::vector<uint8_t>(n, 0); }

/// Asserts that validating `bytes` fails with a message containing every
/// string in `parts` and the display name.
void expectInvalid(const std::vector<uint8_t> &bytes,
                   std::initializer_list<const char *> parts) {
  StatusOr<SafetensorsFile> f = SafetensorsFile::fromBytes(bytes, "bad.st");
  ASSERT_FALSE(f.isOk()) << "expected failure containing: " << *parts.begin();
  const std::string &msg = f.status().message();
  EXPECT_EQ(msg.rfind("bad.st: ", 0), 0u)
      << "message must name the file: " << msg;
  for (const char *part : parts)
    EXPECT_NE(msg.find(part), std::string::npos)
        << "missing '" << part << "' in: " << msg;
}

/// A one-tensor header {"w": {...}} with the given entry body.
std::string oneTensor(const std::string &entry) {
  return "{\"w\":" + entry + "}";
}

//===----------------------------------------------------------------------===//
// DType
//===----------------------------------------------------------------------===//

TEST(DTypeTest, NamesSizesAndParsing) {
  struct Row {
    DType dtype;
    const char *name;
    size_t size;
  };
  const Row rows[] = {
      {DType::BOOL, "BOOL", 1},       {DType::U8, "U8", 1},
      {DType::I8, "I8", 1},           {DType::I16, "I16", 2},
      {DType::U16, "U16", 2},         {DType::F16, "F16", 2},
      {DType::BF16, "BF16", 2},       {DType::I32, "I32", 4},
      {DType::U32, "U32", 4},         {DType::F32, "F32", 4},
      {DType::F64, "F64", 8},         {DType::I64, "I64", 8},
      {DType::U64, "U64", 8},         {DType::F8_E4M3, "F8_E4M3", 1},
      {DType::F8_E5M2, "F8_E5M2", 1},
  };
  for (const Row &row : rows) {
    EXPECT_STREQ(dtypeName(row.dtype), row.name);
    EXPECT_EQ(dtypeSize(row.dtype), row.size) << row.name;
    EXPECT_EQ(parseDType(row.name), std::optional<DType>(row.dtype));
  }
  EXPECT_FALSE(parseDType("f32").has_value()) << "names are case-sensitive";
  EXPECT_FALSE(parseDType("F33").has_value());
  EXPECT_FALSE(parseDType("").has_value());
  EXPECT_FALSE(parseDType("F32 ").has_value());
}

TEST(TensorViewTest, NumElements) {
  TensorView t{"t", DType::F32, {}, nullptr, 0};
  EXPECT_EQ(t.numElements(), 1) << "0-d scalar";
  t.shape = {2, 3, 4};
  EXPECT_EQ(t.numElements(), 24);
  t.shape = {5, 0, 7};
  EXPECT_EQ(t.numElements(), 0);
  t.shape = {int64_t(1) << 62, 4};
  EXPECT_EQ(t.numElements(), -1) << "overflow";
  t.shape = {2, -1};
  EXPECT_EQ(t.numElements(), -1) << "negative dimension";
}

//===----------------------------------------------------------------------===//
// Round trips
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, WriteReadRoundTrip) {
  std::vector<float> f32 = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, 7.0f};
  std::vector<int64_t> i64 = {1, -1, INT64_MAX, INT64_MIN};
  std::vector<uint16_t> bf16 = {0x3F80, 0xC000, 0x0001, 0x7F80, 0xFFFF, 0x1234};
  uint8_t scalar = 0xAB;
  std::vector<uint8_t> boolean = {1, 0, 1};
  std::vector<uint8_t> f8 = {0x38, 0xB8};
  std::vector<double> f64 = {3.141592653589793};
  std::vector<TensorToWrite> tensors = {
      {"layer.0.weight", DType::F32, {2, 3}, f32.data(), 24},
      {"ids", DType::I64, {4}, i64.data(), 32},
      {"bf", DType::BF16, {3, 1, 2}, bf16.data(), 12},
      {"scalar", DType::U8, {}, &scalar, 1},
      {"empty", DType::F64, {0, 5}, nullptr, 0},
      {"mask", DType::BOOL, {3}, boolean.data(), 3},
      {"fp8", DType::F8_E4M3, {2}, f8.data(), 2},
      {"pi", DType::F64, {1, 1}, f64.data(), 8},
  };
  std::vector<std::pair<std::string, std::string>> metadata = {
      {"format", "pt"}, {"note", "quote\" backslash\\ \xE2\x82\xAC"}};
  std::string path = file("model.safetensors");
  Status st = writeSafetensors(path, tensors, metadata);
  ASSERT_TRUE(st.isOk()) << st.message();
  EXPECT_EQ(listDir(), std::vector<std::string>{"model.safetensors"})
      << "no temporary file may be left behind";

  StatusOr<SafetensorsFile> opened = SafetensorsFile::open(path);
  ASSERT_TRUE(opened.isOk()) << opened.status().message();
  const SafetensorsFile &f = *opened;
  EXPECT_EQ(f.path(), path);
  EXPECT_EQ(f.metadata(), metadata);
  ASSERT_EQ(f.tensors().size(), tensors.size());
  for (size_t i = 1; i < f.tensors().size(); ++i)
    EXPECT_LT(f.tensors()[i - 1].name, f.tensors()[i].name)
        << "tensors() must be sorted by name";

  for (const TensorToWrite &w : tensors) {
    const TensorView *t = f.find(w.name);
    ASSERT_NE(t, nullptr) << w.name;
    EXPECT_EQ(t->name, w.name);
    EXPECT_EQ(t->dtype, w.dtype) << w.name;
    EXPECT_EQ(t->shape, w.shape) << w.name;
    ASSERT_EQ(t->byteSize, w.byteSize) << w.name;
    EXPECT_EQ(t->numElements() * int64_t(dtypeSize(t->dtype)),
              int64_t(t->byteSize));
    if (w.byteSize) {
      EXPECT_EQ(std::memcmp(t->data, w.data, w.byteSize), 0) << w.name;
    }
  }
  EXPECT_EQ(f.find("scalar")->numElements(), 1);
  EXPECT_TRUE(f.find("scalar")->shape.empty());
  EXPECT_EQ(f.find("empty")->numElements(), 0);
  EXPECT_EQ(f.find("missing"), nullptr);
  EXPECT_EQ(f.find(""), nullptr);
  EXPECT_EQ(f.find("layer"), nullptr);

  // Data is laid out in the given order, contiguously.
  for (size_t i = 1; i < tensors.size(); ++i)
    EXPECT_EQ(f.find(tensors[i - 1].name)->data + tensors[i - 1].byteSize,
              f.find(tensors[i].name)->data)
        << tensors[i].name;

  // The data buffer starts 8-byte aligned and the header is space-padded.
  std::vector<uint8_t> raw = readAll(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | raw[i];
  EXPECT_EQ((8 + n) % 8, 0u);
  EXPECT_EQ(raw.size(), 8 + n + 24 + 32 + 12 + 1 + 0 + 3 + 2 + 8);

  // fromBytes on the same image agrees with open().
  StatusOr<SafetensorsFile> mem =
      SafetensorsFile::fromBytes(raw, "in-memory image");
  ASSERT_TRUE(mem.isOk()) << mem.status().message();
  EXPECT_EQ(mem->path(), "in-memory image");
  ASSERT_EQ(mem->tensors().size(), f.tensors().size());
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const TensorView &a = f.tensors()[i], &b = mem->tensors()[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.shape, b.shape);
    EXPECT_EQ(a.byteSize, b.byteSize);
    EXPECT_EQ(std::memcmp(a.data, b.data, a.byteSize), 0);
  }

  // Rewriting what was read gives the identical file.
  std::vector<TensorToWrite> again;
  for (const TensorToWrite &w : tensors) {
    const TensorView *t = f.find(w.name);
    again.push_back({t->name, t->dtype, t->shape, t->data, t->byteSize});
  }
  std::string path2 = file("again.safetensors");
  ASSERT_TRUE(writeSafetensors(path2, again, f.metadata()).isOk());
  EXPECT_EQ(readAll(path2), raw);
}

TEST_F(SafetensorsTest, MovedFileKeepsDataValid) {
  std::vector<int32_t> v = {10, 20, 30};
  std::string path = file("m.safetensors");
  ASSERT_TRUE(
      writeSafetensors(path, {{"v", DType::I32, {3}, v.data(), 12}}).isOk());
  StatusOr<SafetensorsFile> opened = SafetensorsFile::open(path);
  ASSERT_TRUE(opened.isOk()) << opened.status().message();
  SafetensorsFile a = std::move(opened).value();
  SafetensorsFile b = std::move(a);
  const TensorView *t = b.find("v");
  ASSERT_NE(t, nullptr);
  int32_t back[3];
  std::memcpy(back, t->data, 12);
  EXPECT_EQ(back[0], 10);
  EXPECT_EQ(back[2], 30);
}

TEST_F(SafetensorsTest, EmptyFileRoundTrip) {
  std::string path = file("empty.safetensors");
  ASSERT_TRUE(writeSafetensors(path, {}).isOk());
  // Only the metadata every file gets, padded to 8 bytes.
  EXPECT_EQ(readAll(path),
            makeImage(padLikePython(R"({"__metadata__":{"format":"pt"}})")));
  StatusOr<SafetensorsFile> f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.isOk()) << f.status().message();
  EXPECT_TRUE(f->tensors().empty());
  using Metadata = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(f->metadata(), (Metadata{{"format", "pt"}}));
}

TEST_F(SafetensorsTest, OverwritesExistingFile) {
  std::string path = file("x.safetensors");
  writeAll(path, {1, 2, 3});
  uint8_t b = 7;
  ASSERT_TRUE(writeSafetensors(path, {{"b", DType::U8, {1}, &b, 1}}).isOk());
  StatusOr<SafetensorsFile> f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.isOk()) << f.status().message();
  EXPECT_EQ(*f->find("b")->data, 7);
}

//===----------------------------------------------------------------------===//
// Compatibility with Python's safetensors
//===----------------------------------------------------------------------===//

TEST(SafetensorsCompat, ReadsPythonLayout) {
  // save_file({"a": torch.tensor([1.5, -2.0])}, metadata={"format": "pt"}):
  // compact JSON, metadata first, header padded with spaces to 8 bytes.
  std::string header =
      padLikePython(R"({"__metadata__":{"format":"pt"},)"
                    R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})");
  std::vector<uint8_t> image = makeImage(header, toBytes<float>({1.5f, -2.0f}));
  StatusOr<SafetensorsFile> f = SafetensorsFile::fromBytes(image, "py.st");
  ASSERT_TRUE(f.isOk()) << f.status().message();
  ASSERT_EQ(f->metadata().size(), 1u);
  EXPECT_EQ(f->metadata()[0].first, "format");
  EXPECT_EQ(f->metadata()[0].second, "pt");
  const TensorView *a = f->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::F32);
  EXPECT_EQ(a->shape, std::vector<int64_t>{2});
  float values[2];
  std::memcpy(values, a->data, 8);
  EXPECT_EQ(values[0], 1.5f);
  EXPECT_EQ(values[1], -2.0f);
}

TEST_F(SafetensorsTest, WritesPythonLayoutByteForByte) {
  std::vector<float> a = {1.5f, -2.0f};
  std::string path = file("a.safetensors");
  ASSERT_TRUE(writeSafetensors(path, {{"a", DType::F32, {2}, a.data(), 8}},
                               {{"format", "pt"}})
                  .isOk());
  std::string header =
      padLikePython(R"({"__metadata__":{"format":"pt"},)"
                    R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})");
  EXPECT_EQ(readAll(path), makeImage(header, toBytes<float>({1.5f, -2.0f})));
}

TEST_F(SafetensorsTest, AddsFormatPtWhereTheCallerGivesNone) {
  // transformers (up to at least 4.46) refuses a file without "format":
  // without it from the caller, the file is what save_pretrained writes;
  // the caller's own keys follow it; the caller's "format" is kept.
  using Metadata = std::vector<std::pair<std::string, std::string>>;
  std::vector<float> a = {1.5f, -2.0f};
  std::vector<TensorToWrite> tensors = {{"a", DType::F32, {2}, a.data(), 8}};
  std::string path = file("a.safetensors");
  ASSERT_TRUE(writeSafetensors(path, tensors).isOk());
  std::string header =
      padLikePython(R"({"__metadata__":{"format":"pt"},)"
                    R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})");
  EXPECT_EQ(readAll(path), makeImage(header, toBytes<float>({1.5f, -2.0f})));

  ASSERT_TRUE(writeSafetensors(path, tensors, {{"step", "3"}}).isOk());
  StatusOr<SafetensorsFile> f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.isOk()) << f.status().message();
  EXPECT_EQ(f->metadata(), (Metadata{{"format", "pt"}, {"step", "3"}}));

  ASSERT_TRUE(writeSafetensors(path, tensors, {{"step", "3"}, {"format", "np"}})
                  .isOk());
  f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.isOk()) << f.status().message();
  EXPECT_EQ(f->metadata(), (Metadata{{"step", "3"}, {"format", "np"}}));
}

TEST(SafetensorsCompat, PythonStyleMultiTensorLayouts) {
  // Python orders data by dtype size then name, while JSON members may be in
  // any order; unpadded headers (older writers) are accepted too.
  std::string header =
      R"({"b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
      R"("scalar":{"dtype":"F16","shape":[],"data_offsets":[12,14]},)"
      R"("a":{"dtype":"I32","shape":[1],"data_offsets":[8,12]},)"
      R"("z":{"dtype":"F32","shape":[0],"data_offsets":[14,14]}})";
  std::vector<uint8_t> data = toBytes<int64_t>({-3});
  std::vector<uint8_t> a = toBytes<int32_t>({42});
  data.insert(data.end(), a.begin(), a.end());
  data.push_back(0x00);
  data.push_back(0x3C); // F16 1.0
  StatusOr<SafetensorsFile> f =
      SafetensorsFile::fromBytes(makeImage(header, data), "multi.st");
  ASSERT_TRUE(f.isOk()) << f.status().message();
  ASSERT_EQ(f->tensors().size(), 4u);
  EXPECT_EQ(f->tensors()[0].name, "a");
  EXPECT_EQ(f->tensors()[1].name, "b");
  EXPECT_EQ(f->tensors()[2].name, "scalar");
  EXPECT_EQ(f->tensors()[3].name, "z");
  int32_t av;
  std::memcpy(&av, f->find("a")->data, 4);
  EXPECT_EQ(av, 42);
  EXPECT_EQ(f->find("scalar")->data[1], 0x3C);
  EXPECT_EQ(f->find("z")->byteSize, 0u);
  EXPECT_TRUE(f->metadata().empty());

  // Pretty-printed JSON with whitespace everywhere is still JSON.
  std::string spaced = "{ \"w\" : { \"shape\" : [ 1 ] , \"dtype\" : \"U8\" , "
                       "\"data_offsets\" : [ 0 , 1 ] } }\n\t ";
  EXPECT_TRUE(SafetensorsFile::fromBytes(makeImage(spaced, {9}), "s").isOk());
}

//===----------------------------------------------------------------------===//
// Malformed files
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, TruncatedAtEveryCutPoint) {
  std::vector<float> a = {1, 2, 3, 4};
  std::vector<int16_t> b = {5, 6};
  std::string path = file("full.safetensors");
  ASSERT_TRUE(writeSafetensors(path, {{"a", DType::F32, {4}, a.data(), 16},
                                      {"b", DType::I16, {2}, b.data(), 4}})
                  .isOk());
  std::vector<uint8_t> full = readAll(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | full[i];
  ASSERT_TRUE(SafetensorsFile::fromBytes(full, "full").isOk());

  for (size_t cut = 0; cut < full.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    std::vector<uint8_t> prefix(full.begin(), full.begin() + cut);
    if (cut < 8)
      expectInvalid(prefix, {"too short for the 8-byte header length"});
    else if (cut < 8 + n)
      expectInvalid(prefix, {"truncated header"});
    else if (cut < 8 + n + 16)
      expectInvalid(prefix, {"truncated: tensor 'a' ends at byte 16",
                             "the file has only"});
    else
      expectInvalid(prefix, {"truncated: tensor 'b' ends at byte 20"});
  }

  // Through open() as well, on a file truncated on disk.
  std::string cutPath = file("cut.safetensors");
  writeAll(cutPath, std::vector<uint8_t>(full.begin(), full.end() - 1));
  StatusOr<SafetensorsFile> f = SafetensorsFile::open(cutPath);
  ASSERT_FALSE(f.isOk());
  EXPECT_NE(f.status().message().find(cutPath), std::string::npos);
  EXPECT_NE(f.status().message().find("truncated: tensor 'b' ends at byte 20 "
                                      "of the data buffer but the file has "
                                      "only 19 bytes"),
            std::string::npos)
      << f.status().message();
}

TEST_F(SafetensorsTest, OpenErrors) {
  StatusOr<SafetensorsFile> missing = SafetensorsFile::open(file("nope"));
  ASSERT_FALSE(missing.isOk());
  EXPECT_NE(missing.status().message().find("cannot open"), std::string::npos);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);

  StatusOr<SafetensorsFile> directory = SafetensorsFile::open(dir);
  ASSERT_FALSE(directory.isOk());
  EXPECT_NE(directory.status().message().find("not a regular file"),
            std::string::npos);

  writeAll(file("empty"), {});
  StatusOr<SafetensorsFile> empty = SafetensorsFile::open(file("empty"));
  ASSERT_FALSE(empty.isOk());
  EXPECT_NE(empty.status().message().find("only 0 bytes"), std::string::npos)
      << empty.status().message();
}

TEST(SafetensorsInvalid, HeaderLength) {
  expectInvalid(makeImage("{}", {}, 0), {"header length is 0"});
  expectInvalid(makeImage("{}", {}, (100ull << 20) + 1),
                {"header length 104857601 exceeds the limit"});
  expectInvalid(makeImage("{}", {}, ~uint64_t(0)), {"exceeds the limit"});
  expectInvalid(makeImage("{}", {}, 3),
                {"truncated header: header length is 3 bytes but only 2"});
  // Exactly at the limit but absent: truncated, not "too large".
  expectInvalid(makeImage("{}", {}, 100ull << 20), {"truncated header"});
}

TEST(SafetensorsInvalid, HeaderNotJsonObject) {
  expectInvalid(makeImage("[1]     "), {"header does not start with '{'"});
  expectInvalid(makeImage(" {}"), {"does not start with '{'"});
  expectInvalid(makeImage("{\"a\":"),
                {"invalid JSON header", "JSON parse error at byte 5"});
  expectInvalid(makeImage("{} x"),
                {"invalid JSON header", "expected end of input"});
  // NUL padding is not whitespace.
  expectInvalid(makeImage(std::string("{}\0\0\0\0\0\0", 8)),
                {"invalid JSON header", "byte 0x00"});
  expectInvalid(makeImage("{\"w\":1,}"), {"trailing commas"});
  expectInvalid(makeImage("{\"\xFF\":1}"), {"invalid UTF-8"});
  // Trailing spaces are the padding the format allows.
  EXPECT_TRUE(SafetensorsFile::fromBytes(makeImage("{}" + std::string(30, ' ')),
                                         "padded")
                  .isOk());
}

TEST(SafetensorsInvalid, DuplicateTensorName) {
  std::string header =
      R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
      R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})";
  expectInvalid(makeImage(header, zeros(2)), {"duplicate key 'w'"});
}

TEST(SafetensorsInvalid, EntryStructure) {
  expectInvalid(makeImage(oneTensor("[1]")),
                {"tensor 'w': entry must be an object"});
  expectInvalid(makeImage(oneTensor(R"({"dtype":"U8","shape":[1]})"), zeros(1)),
                {"tensor 'w': missing key 'data_offsets'"});
  expectInvalid(
      makeImage(oneTensor(R"({"shape":[1],"data_offsets":[0,1]})"), zeros(1)),
      {"tensor 'w': missing key 'dtype'"});
  expectInvalid(
      makeImage(oneTensor(R"({"dtype":"U8","data_offsets":[0,1]})"), zeros(1)),
      {"tensor 'w': missing key 'shape'"});
  expectInvalid(
      makeImage(
          oneTensor(R"({"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":0})"),
          zeros(1)),
      {"tensor 'w': unexpected key 'x'"});
  expectInvalid(
      makeImage(R"({"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
                zeros(1)),
      {"tensor with an empty name"});
}

TEST(SafetensorsInvalid, DType) {
  expectInvalid(
      makeImage(
          oneTensor(R"({"dtype":"F33","shape":[1],"data_offsets":[0,4]})"),
          zeros(4)),
      {"tensor 'w': unknown dtype 'F33'"});
  expectInvalid(
      makeImage(
          oneTensor(R"({"dtype":"f32","shape":[1],"data_offsets":[0,4]})"),
          zeros(4)),
      {"tensor 'w': unknown dtype 'f32'"});
  expectInvalid(
      makeImage(oneTensor(R"({"dtype":4,"shape":[1],"data_offsets":[0,4]})"),
                zeros(4)),
      {"tensor 'w': dtype must be a string"});
}

TEST(SafetensorsInvalid, Shape) {
  for (const char *shape : {"[-1]", "[2,-3]", "[1.0]", "[\"2\"]", "[null]",
                            "[1e2]", "4", "{}", "[9223372036854775808]"}) {
    SCOPED_TRACE(shape);
    std::string entry = std::string(R"({"dtype":"U8","shape":)") + shape +
                        R"(,"data_offsets":[0,0]})";
    expectInvalid(makeImage(oneTensor(entry)),
                  {"tensor 'w': shape must be an array of non-negative "
                   "integers"});
  }
  // The product overflows even though each dimension is valid.
  expectInvalid(
      makeImage(oneTensor(R"({"dtype":"F32","shape":[4611686018427387904,4],)"
                          R"("data_offsets":[0,0]})")),
      {"tensor 'w': shape", "too large"});
  expectInvalid(
      makeImage(oneTensor(R"({"dtype":"F64","shape":[2305843009213693952,2],)"
                          R"("data_offsets":[0,0]})")),
      {"tensor 'w'", "too large"});
}

TEST(SafetensorsInvalid, SizeMismatch) {
  expectInvalid(
      makeImage(
          oneTensor(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})"),
          zeros(8)),
      {"tensor 'w': size mismatch", "span 8 bytes", "needs 12 bytes"});
  expectInvalid(makeImage(oneTensor(
                    R"({"dtype":"F32","shape":[],"data_offsets":[0,0]})")),
                {"tensor 'w': size mismatch", "needs 4 bytes"});
}

TEST(SafetensorsInvalid, DataOffsets) {
  auto entry = [](const std::string &offsets) {
    return oneTensor(R"({"dtype":"U8","shape":[4],"data_offsets":)" + offsets +
                     "}");
  };
  for (const char *bad :
       {"[0]", "[0,4,8]", "[-1,3]", "[0,-4]", "[0.0,4]", "[\"0\",\"4\"]", "{}",
        "null", "[0,18446744073709551616]"}) {
    SCOPED_TRACE(bad);
    expectInvalid(makeImage(entry(bad), zeros(4)),
                  {"tensor 'w': data_offsets must be two non-negative "
                   "integers"});
  }
  expectInvalid(makeImage(entry("[8,4]"), zeros(8)),
                {"tensor 'w': data_offsets begin 8 is after end 4"});
  // Out of range: consistent size but past the end of the file.
  expectInvalid(
      makeImage(entry("[4,8]"), zeros(4)),
      {"truncated: tensor 'w' ends at byte 8", "the file has only 4 bytes"});
  expectInvalid(
      makeImage(entry("[9223372036854775800,9223372036854775804]"), zeros(4)),
      {"truncated: tensor 'w'"});
}

TEST(SafetensorsInvalid, Overlap) {
  std::string header =
      R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}})";
  expectInvalid(makeImage(header, zeros(12)), {"tensors 'a' and 'b' overlap"});
  // Identical ranges alias the same bytes.
  std::string same = R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                     R"("b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})";
  expectInvalid(makeImage(same, zeros(4)), {"overlap", "'a'", "'b'"});
}

TEST(SafetensorsInvalid, Hole) {
  std::string header =
      R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
      R"("b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}})";
  expectInvalid(makeImage(header, zeros(12)),
                {"hole in the data buffer: bytes [4, 8)", "tensor 'b'",
                 "not covered by any tensor"});
  // A hole at the start.
  expectInvalid(
      makeImage(oneTensor(R"({"dtype":"U8","shape":[4],"data_offsets":[4,8]})"),
                zeros(8)),
      {"hole in the data buffer: bytes [0, 4)"});
}

TEST(SafetensorsInvalid, TrailingBytes) {
  expectInvalid(
      makeImage(oneTensor(R"({"dtype":"U8","shape":[4],"data_offsets":[0,4]})"),
                zeros(5)),
      {"trailing bytes", "has 5 bytes but the tensors cover only 4",
       "not covered by any tensor"});
  expectInvalid(makeImage("{}", zeros(1)), {"trailing bytes"});
  expectInvalid(makeImage(R"({"__metadata__":{}})", zeros(3)),
                {"trailing bytes"});
}

TEST(SafetensorsInvalid, Metadata) {
  expectInvalid(makeImage(R"({"__metadata__":{"format":"pt","n":1}})"),
                {"__metadata__ value for key 'n' is not a string"});
  expectInvalid(makeImage(R"({"__metadata__":{"k":null}})"),
                {"__metadata__", "'k'", "not a string"});
  expectInvalid(makeImage(R"({"__metadata__":{"k":{"x":"y"}}})"),
                {"'k' is not a string"});
  expectInvalid(makeImage(R"({"__metadata__":["a"]})"),
                {"__metadata__ must be an object"});
  expectInvalid(makeImage(R"({"__metadata__":"x"})"),
                {"__metadata__ must be an object"});
  // Empty metadata is fine.
  StatusOr<SafetensorsFile> ok =
      SafetensorsFile::fromBytes(makeImage(R"({"__metadata__":{}})"), "ok");
  ASSERT_TRUE(ok.isOk()) << ok.status().message();
  EXPECT_TRUE(ok->metadata().empty());
}

TEST(SafetensorsInvalid, TooShort) {
  expectInvalid({}, {"file is only 0 bytes"});
  expectInvalid({2, 0, 0, 0, 0, 0, 0}, {"file is only 7 bytes"});
}

//===----------------------------------------------------------------------===//
// Writer rejections and atomicity
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, WriterRejectionsWriteNothing) {
  std::vector<float> f = {1, 2, 3, 4};
  struct Case {
    const char *what;
    std::vector<TensorToWrite> tensors;
    std::vector<std::pair<std::string, std::string>> metadata;
    const char *expected;
  };
  const Case cases[] = {
      {"empty name", {{"", DType::F32, {4}, f.data(), 16}}, {}, "empty name"},
      {"duplicate",
       {{"a", DType::F32, {2}, f.data(), 8},
        {"a", DType::F32, {2}, f.data() + 2, 8}},
       {},
       "duplicate tensor name 'a'"},
      {"reserved",
       {{"__metadata__", DType::F32, {4}, f.data(), 16}},
       {},
       "reserved"},
      {"size mismatch",
       {{"a", DType::F32, {4}, f.data(), 12}},
       {},
       "tensor 'a': byteSize is 12 but shape [4] of dtype F32 needs 16 bytes"},
      {"scalar size",
       {{"s", DType::F64, {}, f.data(), 4}},
       {},
       "needs 8 bytes"},
      {"negative dim",
       {{"a", DType::F32, {-4}, f.data(), 16}},
       {},
       "tensor 'a': invalid shape [-4]"},
      {"overflow",
       {{"a", DType::F32, {int64_t(1) << 62, 8}, f.data(), 16}},
       {},
       "tensor 'a'"},
      {"null data", {{"a", DType::F32, {4}, nullptr, 16}}, {}, "data is null"},
      {"duplicate metadata",
       {{"a", DType::F32, {4}, f.data(), 16}},
       {{"k", "1"}, {"k", "2"}},
       "duplicate metadata key 'k'"},
      {"bad dtype",
       {{"a", static_cast<DType>(99), {4}, f.data(), 16}},
       {},
       "invalid dtype"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.what);
    std::string path = file("out.safetensors");
    Status st = writeSafetensors(path, c.tensors, c.metadata);
    ASSERT_FALSE(st.isOk());
    EXPECT_NE(st.message().find(c.expected), std::string::npos) << st.message();
    EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
    EXPECT_TRUE(listDir().empty()) << "a rejected write must create nothing";

    // ... and must not disturb an existing file either.
    writeAll(path, {'o', 'l', 'd'});
    EXPECT_FALSE(writeSafetensors(path, c.tensors, c.metadata).isOk());
    EXPECT_EQ(readAll(path), (std::vector<uint8_t>{'o', 'l', 'd'}));
    EXPECT_EQ(listDir(), std::vector<std::string>{"out.safetensors"});
    fs::remove(path);
  }
}

TEST_F(SafetensorsTest, AtomicWriteSuccess) {
  std::string path = file("f.txt");
  writeAll(path, {'o', 'l', 'd'});
  bool sawTemp = false;
  Status st = writeFileAtomically(path, [&](std::FILE *f) {
    std::fputs("new contents", f);
    std::fflush(f);
    // While writing, `path` still has the old contents and the data goes to
    // a temporary file next to it.
    EXPECT_EQ(readAll(path), (std::vector<uint8_t>{'o', 'l', 'd'}));
    std::string prefix = "f.txt.tmp." + std::to_string(::getpid()) + ".";
    for (const std::string &name : listDir())
      if (name.rfind(prefix, 0) == 0 && name.size() > prefix.size())
        sawTemp = true;
    return Status::ok();
  });
  ASSERT_TRUE(st.isOk()) << st.message();
  EXPECT_TRUE(sawTemp);
  std::vector<uint8_t> got = readAll(path);
  EXPECT_EQ(std::string(got.begin(), got.end()), "new contents");
  EXPECT_EQ(listDir(), std::vector<std::string>{"f.txt"});
}

TEST_F(SafetensorsTest, FailedAtomicWriteLeavesExistingFileUntouched) {
  std::string path = file("model.safetensors");
  uint8_t b = 1;
  ASSERT_TRUE(writeSafetensors(path, {{"b", DType::U8, {1}, &b, 1}}).isOk());
  std::vector<uint8_t> before = readAll(path);

  Status st = writeFileAtomically(path, [](std::FILE *f) {
    std::fputs("partial garbage", f);
    return Status::error("simulated failure");
  });
  ASSERT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("simulated failure"), std::string::npos);
  EXPECT_NE(st.message().find(path), std::string::npos);
  EXPECT_EQ(readAll(path), before);
  EXPECT_EQ(listDir(), std::vector<std::string>{"model.safetensors"})
      << "the temporary file must be removed";

  // An exception from the callback is reported, not propagated.
  st = writeFileAtomically(path, [](std::FILE *f) -> Status {
    std::fputs("partial", f);
    throw std::runtime_error("boom");
  });
  ASSERT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("boom"), std::string::npos);
  EXPECT_EQ(readAll(path), before);
  EXPECT_EQ(listDir(), std::vector<std::string>{"model.safetensors"});

  ASSERT_TRUE(SafetensorsFile::open(path).isOk());
}

TEST_F(SafetensorsTest, AtomicWriteFileSystemErrors) {
  // Missing directory: nothing can be created.
  std::string inMissing = file("no/such/dir/x");
  bool called = false;
  Status st = writeFileAtomically(inMissing, [&](std::FILE *) {
    called = true;
    return Status::ok();
  });
  ASSERT_FALSE(st.isOk());
  EXPECT_FALSE(called);
  EXPECT_NE(st.message().find("cannot create temporary file"),
            std::string::npos)
      << st.message();
  EXPECT_TRUE(listDir().empty());

  // The rename fails when the destination is a non-empty directory; the
  // temporary file must still be cleaned up.
  std::string sub = file("sub");
  fs::create_directory(sub);
  writeAll(file("sub/keep"), {1});
  st = writeFileAtomically(sub, [](std::FILE *f) {
    std::fputs("x", f);
    return Status::ok();
  });
  ASSERT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("cannot rename"), std::string::npos)
      << st.message();
  EXPECT_EQ(listDir(), std::vector<std::string>{"sub"});
  EXPECT_TRUE(fs::is_directory(sub));
  EXPECT_EQ(readAll(file("sub/keep")), std::vector<uint8_t>{1});
}

} // namespace
