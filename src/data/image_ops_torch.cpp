// image_ops without OpenCV (GPU machines rarely have it): resizing with LibTorch's antialiased
// bilinear interpolation; no JPEG codec, so raw CUB trees are refused with a clear message and
// packed datasets (raw encoding) are the input format.
#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/nn/functional/upsampling.h>

#include "finch/core/error.h"
#include "finch/data/image_ops.h"

namespace finch::data {
namespace {

[[noreturn]] void no_codec(const std::string& what) {
  throw RuntimeError(fmt::format("cannot decode {}: this finch was built without OpenCV (FINCH_WITH_OPENCV=OFF), so it "
                                 "reads packed datasets with raw encoding only: run `finch pack` on a machine with OpenCV",
                                 what));
}

}  // namespace

bool have_jpeg_codec() { return false; }
at::Tensor decode_image_file(const std::string& path, int64_t) { no_codec("'" + path + "'"); }
at::Tensor decode_jpeg_bytes(const uint8_t*, size_t, const std::string& what) { no_codec(what); }
std::vector<uint8_t> encode_jpeg(const at::Tensor&, int) { no_codec("(JPEG encoding)"); }
void write_jpeg(const std::string& path, const at::Tensor&, int) { no_codec("'" + path + "' (JPEG encoding)"); }

at::Tensor crop_resize(const at::Tensor& rgb, const Box& box, int64_t out_h, int64_t out_w) {
  const int64_t H = rgb.size(0), W = rgb.size(1);
  const int64_t x0 = std::clamp<int64_t>(static_cast<int64_t>(std::floor(box.x)), 0, W - 1);
  const int64_t y0 = std::clamp<int64_t>(static_cast<int64_t>(std::floor(box.y)), 0, H - 1);
  const int64_t x1 = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(box.x + box.w)), x0 + 1, W);
  const int64_t y1 = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(box.y + box.h)), y0 + 1, H);
  auto roi = rgb.slice(0, y0, y1).slice(1, x0, x1).permute({2, 0, 1}).unsqueeze(0).to(at::kFloat);
  namespace F = torch::nn::functional;
  auto out = F::interpolate(roi, F::InterpolateFuncOptions()
                                     .size(std::vector<int64_t>{out_h, out_w})
                                     .mode(torch::kBilinear)
                                     .align_corners(false)
                                     .antialias(true));
  return out.squeeze(0).permute({1, 2, 0}).round().clamp(0, 255).to(at::kByte).contiguous();
}

}  // namespace finch::data
