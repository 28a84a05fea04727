// Parts of image_ops shared by both implementations.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "finch/data/image_ops.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "finch/core/error.h"

namespace finch::data {

void check_image_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw RuntimeError(fmt::format("'{}' is not an image file ({})", path,
                                   std::filesystem::exists(path, ec) ? "a FIFO, device or directory" : "missing"));
  if (int64_t h = 0, w = 0; jpeg_dims(path, h, w) && h * w > kMaxImagePixels)
    throw RuntimeError(fmt::format("'{}' claims {} x {} pixels, more than the {} finch decodes (a decompression bomb, or an image "
                                   "to shrink first)", path, w, h, kMaxImagePixels));
}

bool jpeg_dims(const std::string& path, int64_t& height, int64_t& width) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;  // never open a FIFO: it blocks
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  auto u8 = [&]() { return in.get(); };
  if (u8() != 0xFF || u8() != 0xD8) return false;  // SOI
  while (in) {
    int c = u8();
    if (c != 0xFF) return false;
    int marker = u8();
    while (marker == 0xFF) marker = u8();
    if (marker == 0xD9 || marker == 0xDA || marker < 0) return false;  // EOI / SOS before a frame header
    const int len = (u8() << 8) | u8();
    if (len < 2) return false;
    // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC) carry the frame size.
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      u8();  // precision
      height = (u8() << 8) | u8();
      width = (u8() << 8) | u8();
      return in.good() && height > 0 && width > 0;
    }
    in.seekg(len - 2, std::ios::cur);
  }
  return false;
}

at::Tensor resize_short_side(const at::Tensor& rgb, int64_t short_side) {
  // torchvision's Resize(short_side): the longer side becomes int(short_side * long / short), and
  // the filter is PIL's antialiased bilinear, so that a packed image at the eval resize is exactly
  // what torchvision's Resize makes of the original.
  const int64_t h = rgb.size(0), w = rgb.size(1);
  const int64_t oh = h <= w ? short_side : static_cast<int64_t>(static_cast<double>(short_side) * h / w);
  const int64_t ow = w < h ? short_side : static_cast<int64_t>(static_cast<double>(short_side) * w / h);
  if (oh == h && ow == w) return rgb.contiguous();
  return resize_antialiased(rgb, oh, ow);
}

}  // namespace finch::data
