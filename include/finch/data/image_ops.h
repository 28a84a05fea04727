// Pixel-level operations on RGB uint8 H x W x 3 tensors. Two implementations behind one header:
// OpenCV (src/data/image_ops_opencv.cpp) and pure LibTorch (src/data/image_ops_torch.cpp, for
// builds with FINCH_WITH_OPENCV=OFF, where JPEG decoding is refused with a clear message).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace finch::data {

struct Box {
  double x = 0, y = 0, w = 0, h = 0;  // in pixels of the image it refers to
};

bool have_jpeg_codec();

// Images larger than this are refused before decoding, as Pillow refuses them (its
// DecompressionBombError at twice MAX_IMAGE_PIXELS): a 1.5 KB JPEG can claim 20000 x 20000 pixels
// and take gigabytes to decode. (Formats whose header finch does not read get OpenCV's own cap,
// 2^30 pixels.)
inline constexpr int64_t kMaxImagePixels = 178'956'970;

// RuntimeError naming the file unless `path` is a regular file (a FIFO would block the reader for
// good, and a signal with it) whose JPEG header, where it has one, claims at most kMaxImagePixels.
void check_image_file(const std::string& path);

// Width and height from the JPEG header without decoding; false when they cannot be read (or the
// file is not a regular file).
bool jpeg_dims(const std::string& path, int64_t& height, int64_t& width);

// Decodes to RGB at 1/reduction of the stored size where the format has such modes (JPEG: 2, 4, 8;
// libjpeg rounds each side up), in full otherwise. RuntimeError naming the file when it is missing
// or not a decodable image, or check_image_file refuses it.
at::Tensor decode_image_file(const std::string& path, int reduction = 1);
at::Tensor decode_jpeg_bytes(const uint8_t* data, size_t size, const std::string& what);
std::vector<uint8_t> encode_jpeg(const at::Tensor& rgb, int quality);
void write_jpeg(const std::string& path, const at::Tensor& rgb, int quality);

// Pillow's Image.resize(size, BILINEAR, box) bit for bit (up to Pillow 12; src/data/pil_resample.cpp): the region
// `box` (in rgb's pixels, may be fractional) resized to out_h x out_w with Pillow's antialiased
// bilinear filter, one thread, integer arithmetic.
at::Tensor resize_bilinear_pil(const at::Tensor& rgb, const Box& box, int64_t out_h, int64_t out_w);
// torchvision's resized_crop on a PIL image: `box` cropped (at the whole pixels that cover it) and
// resized to out_h x out_w as Pillow resizes, the filter kept inside the crop.
at::Tensor crop_resize(const at::Tensor& rgb, const Box& box, int64_t out_h, int64_t out_w);
// The whole image resized to out_h x out_w as Pillow's resize that torchvision's Resize runs.
at::Tensor resize_antialiased(const at::Tensor& rgb, int64_t out_h, int64_t out_w);
// Resizes so that the shorter side is `short_side` (aspect kept).
at::Tensor resize_short_side(const at::Tensor& rgb, int64_t short_side);

}  // namespace finch::data
