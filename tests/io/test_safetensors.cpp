#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "finch/core/error.h"
#include "finch/io/safetensors.h"

namespace fs = std::filesystem;
using finch::io::read_safetensors;

namespace {

std::string temp(const std::string& name) { return (fs::temp_directory_path() / ("finch_st_" + name)).string(); }

// A file from a raw header string and a data size (bytes of zeros).
std::string raw_file(const std::string& name, const std::string& header, size_t data_bytes, int64_t claimed_len = -1) {
  const auto path = temp(name);
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = claimed_len >= 0 ? static_cast<uint64_t>(claimed_len) : header.size();
  for (int k = 0; k < 8; ++k) out.put(static_cast<char>(n >> (8 * k)));
  out << header << std::string(data_bytes, '\0');
  return path;
}

void expect_error(const std::string& path, const std::string& fragment) {
  try {
    read_safetensors(path);
    FAIL() << "expected an error containing: " << fragment;
  } catch (const finch::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << "the message must name the file: " << e.what();
  }
}

}  // namespace

TEST(Safetensors, RoundTripsEveryDtypeShapeAndMetadata) {
  const auto path = temp("roundtrip.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> in = {
      {"f32", torch::randn({3, 4})},
      {"f64", torch::randn({2}, torch::kDouble)},
      {"f16", torch::randn({5}).to(torch::kHalf)},
      {"bf16", torch::randn({2, 2}).to(torch::kBFloat16)},
      {"i64", torch::arange(7)},
      {"i32", torch::arange(3, torch::kInt)},
      {"u8", torch::randint(0, 255, {4}, torch::kByte)},
      {"bool", torch::tensor({true, false, true})},
      {"scalar", torch::tensor(3.5)},
      {"empty", torch::zeros({0, 3})},
      {"strided", torch::randn({4, 4}).t()},
  };
  finch::io::write_safetensors(path, in, {{"arch", "efficientnet_b0"}});
  const auto f = read_safetensors(path);
  EXPECT_EQ(f.metadata.at("arch"), "efficientnet_b0");
  ASSERT_EQ(f.tensors.size(), in.size());
  for (const auto& [name, t] : in) {
    const auto& got = f.at(name);
    EXPECT_EQ(got.scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(got.sizes().equals(t.sizes())) << name;
    EXPECT_TRUE(torch::equal(got, t.contiguous())) << name;
  }
  // 8-byte aligned data + largest dtype first: f32 tensors are zero-copy views of the mapping.
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.at("f64").data_ptr()) % 8, 0u);
  EXPECT_THROW(f.at("nope"), finch::RuntimeError);
}

TEST(Safetensors, InPlaceChangesNeverReachTheFile) {
  const auto path = temp("cow.safetensors");
  finch::io::write_safetensors(path, {{"w", torch::ones({16})}});
  {
    auto f = read_safetensors(path);
    f.tensors.at("w").mul_(5);
  }
  EXPECT_TRUE(torch::equal(read_safetensors(path).at("w"), torch::ones({16})));
}

TEST(Safetensors, ReadsTheHeaderOfAForeignWriter) {
  // Hand-written header with spaces, metadata first, offsets not sorted by name.
  const std::string h = R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}   )";
  const auto f = read_safetensors(raw_file("foreign", h, 8));
  EXPECT_EQ(f.names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(f.metadata.at("format"), "pt");
}

TEST(SafetensorsErrors, TooShort) { expect_error(raw_file("short", "", 0, 0).substr(0), "header"); }

TEST(SafetensorsErrors, TruncatedFile) {
  const auto path = temp("trunc.safetensors");
  finch::io::write_safetensors(path, {{"w", torch::ones({1000})}});
  fs::resize_file(path, fs::file_size(path) - 100);
  expect_error(path, "outside the");
}

TEST(SafetensorsErrors, HeaderLongerThanFile) { expect_error(raw_file("hdrlong", "{}", 0, 1 << 20), "runs past the end"); }

TEST(SafetensorsErrors, HeaderNotJson) {
  expect_error(raw_file("notjson", "{\"a\": [1, 2", 0), "not valid JSON");
  expect_error(raw_file("notobject", "[1, 2, 3]", 0), "does not start with a JSON object");
}

TEST(SafetensorsErrors, OffsetsOutOfRange) {
  expect_error(raw_file("oob", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8), "outside the 8 data bytes");
  expect_error(raw_file("reversed", R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", 8), "outside");
}

TEST(SafetensorsErrors, SizeDoesNotMatchShape) {
  expect_error(raw_file("mismatch", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "needs 12");
}

TEST(SafetensorsErrors, WrongOrUnsupportedDtype) {
  expect_error(raw_file("dtype", R"({"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", 4), "unsupported dtype 'F33'");
  expect_error(raw_file("dtype2", R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", 4), "dtype is not a string");
}

TEST(SafetensorsErrors, HostileShapes) {
  expect_error(raw_file("neg", R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4), "negative");
  expect_error(raw_file("huge", R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}})", 4), "too large");
  expect_error(raw_file("missing", R"({"w":{"dtype":"F32","shape":[1]}})", 4), "needs dtype, shape and data_offsets");
  expect_error(raw_file("meta", R"({"__metadata__":{"a":1}})", 0), "not a string");
}

TEST(SafetensorsErrors, OverlappingTensors) {
  expect_error(raw_file("overlap", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
               "overlap");
}

TEST(SafetensorsErrors, MissingFile) { expect_error(temp("does_not_exist"), "cannot open"); }
