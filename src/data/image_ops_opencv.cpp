// image_ops with OpenCV: libjpeg-turbo decoding (with reduced-size modes) and cv::resize.
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/core/regular_file.h"
#include "finch/data/image_ops.h"

namespace finch::data {
namespace {

at::Tensor to_tensor(const cv::Mat& bgr) {
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  auto t = at::empty({rgb.rows, rgb.cols, 3}, at::kByte);
  cv::Mat dst(rgb.rows, rgb.cols, CV_8UC3, t.data_ptr());
  rgb.copyTo(dst);
  return t;
}

// A JPEG cut short decodes "successfully" in libjpeg (the missing rows grey, a warning on stderr);
// PIL refuses it ("image file is truncated"), and so does finch. Entropy-coded data never holds
// FF D9 (an FF there is followed by 00 or a restart marker), so a JPEG is whole when an end-of-image
// marker follows its first start-of-scan; data after that marker (a phone's appended video) is
// allowed. Not a JPEG, or no scan found: left to the decoder.
constexpr uintmax_t kMaxImageFileBytes = 1u << 30;  // 1 GiB: no photograph is larger; a cv::Mat of bytes is int-indexed

bool jpeg_is_truncated(const uint8_t* data, size_t size) {
  if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) return false;
  size_t i = 2;
  while (i + 4 <= size) {  // marker segments up to the first SOS
    if (data[i] != 0xFF) return false;
    const uint8_t marker = data[i + 1];
    if (marker == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    const size_t length = (static_cast<size_t>(data[i + 2]) << 8) | data[i + 3];
    if (marker == 0xDA) {  // SOS: the scan data follows its header
      for (size_t k = i + 2 + length; k + 1 < size;) {
        const void* ff = std::memchr(data + k, 0xFF, size - k - 1);
        if (!ff) return true;
        k = static_cast<size_t>(static_cast<const uint8_t*>(ff) - data);
        if (data[k + 1] == 0xD9) return false;
        ++k;
      }
      return true;
    }
    i += 2 + length;
  }
  return true;  // the headers themselves end early
}

cv::Mat view(const at::Tensor& rgb) {
  // Only a contiguous H x W x 3 uint8 tensor can be viewed in place.
  return cv::Mat(static_cast<int>(rgb.size(0)), static_cast<int>(rgb.size(1)), CV_8UC3, rgb.data_ptr());
}

}  // namespace

bool have_jpeg_codec() { return true; }

at::Tensor decode_image_file(const std::string& path, int reduction) {
  // The stored pixels, as PIL's open + convert("RGB") gives them to torchvision: an EXIF
  // orientation tag is not applied (OpenCV would rotate, and the pixels would then disagree with
  // the header's size that the crops are planned in).
  int flags = cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION;
  if (reduction >= 8) flags = cv::IMREAD_REDUCED_COLOR_8 | cv::IMREAD_IGNORE_ORIENTATION;
  else if (reduction >= 4) flags = cv::IMREAD_REDUCED_COLOR_4 | cv::IMREAD_IGNORE_ORIENTATION;
  else if (reduction >= 2) flags = cv::IMREAD_REDUCED_COLOR_2 | cv::IMREAD_IGNORE_ORIENTATION;
  check_image_file(path);
  // Read here (Note [Only regular files are opened]) and decoded from memory, so that the bytes
  // checked for truncation are the bytes decoded.
  std::error_code ec;
  if (std::filesystem::file_size(path, ec) > kMaxImageFileBytes)
    throw RuntimeError(fmt::format("'{}' is larger than the {} bytes finch reads for one image", path, kMaxImageFileBytes));
  std::ifstream in = open_regular(path, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.eof() && in.fail()) throw RuntimeError(fmt::format("cannot read image '{}'", path));
  if (jpeg_is_truncated(bytes.data(), bytes.size()))
    throw RuntimeError(fmt::format("'{}' is truncated: its JPEG data ends before the end-of-image marker (a partial copy or download?)", path));
  cv::Mat bgr;
  try {
    if (!bytes.empty()) bgr = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<uint8_t*>(bytes.data())), flags);
  } catch (const cv::Exception& e) {
    throw RuntimeError(fmt::format("cannot decode image '{}': {}", path, e.what()));
  }
  if (bgr.empty()) throw RuntimeError(fmt::format("cannot decode image '{}' (missing, unreadable or corrupt)", path));
  return to_tensor(bgr);
}

at::Tensor decode_jpeg_bytes(const uint8_t* data, size_t size, const std::string& what) {
  if (jpeg_is_truncated(data, size)) throw RuntimeError(fmt::format("cannot decode {}: its JPEG data ends before the end-of-image marker", what));
  const cv::Mat buf(1, static_cast<int>(size), CV_8UC1, const_cast<uint8_t*>(data));
  cv::Mat bgr;
  try {
    bgr = cv::imdecode(buf, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
  } catch (const cv::Exception& e) {
    throw RuntimeError(fmt::format("cannot decode {}: {}", what, e.what()));
  }
  if (bgr.empty()) throw RuntimeError(fmt::format("cannot decode {} (corrupt JPEG data)", what));
  return to_tensor(bgr);
}

std::vector<uint8_t> encode_jpeg(const at::Tensor& rgb, int quality) {
  const auto c = rgb.contiguous();
  cv::Mat bgr;
  cv::cvtColor(view(c), bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> out;
  if (!cv::imencode(".jpg", bgr, out, {cv::IMWRITE_JPEG_QUALITY, quality})) throw RuntimeError("JPEG encoding failed");
  return out;
}

void write_jpeg(const std::string& path, const at::Tensor& rgb, int quality) {
  const auto c = rgb.contiguous();
  cv::Mat bgr;
  cv::cvtColor(view(c), bgr, cv::COLOR_RGB2BGR);
  if (!cv::imwrite(path, bgr, {cv::IMWRITE_JPEG_QUALITY, quality})) throw RuntimeError("cannot write '" + path + "'");
}

}  // namespace finch::data
