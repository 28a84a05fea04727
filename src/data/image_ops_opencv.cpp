// image_ops with OpenCV: libjpeg-turbo decoding (with reduced-size modes) and cv::resize.
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "finch/core/error.h"
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
  cv::Mat bgr;
  try {
    bgr = cv::imread(path, flags);
  } catch (const cv::Exception& e) {
    throw RuntimeError(fmt::format("cannot decode image '{}': {}", path, e.what()));
  }
  if (bgr.empty()) throw RuntimeError(fmt::format("cannot decode image '{}' (missing, unreadable or corrupt)", path));
  return to_tensor(bgr);
}

at::Tensor decode_jpeg_bytes(const uint8_t* data, size_t size, const std::string& what) {
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
