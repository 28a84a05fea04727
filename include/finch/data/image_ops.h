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

// Width and height from the JPEG header without decoding; false when they cannot be read.
bool jpeg_dims(const std::string& path, int64_t& height, int64_t& width);

// Decodes to RGB, using the decoder's reduced-size modes (1/2, 1/4, 1/8) when the shorter side stays
// >= min_short_side. RuntimeError naming the file when it is missing or not a decodable image.
at::Tensor decode_image_file(const std::string& path, int64_t min_short_side = 0);
at::Tensor decode_jpeg_bytes(const uint8_t* data, size_t size, const std::string& what);
std::vector<uint8_t> encode_jpeg(const at::Tensor& rgb, int quality);
void write_jpeg(const std::string& path, const at::Tensor& rgb, int quality);

// Crops `box` (clipped to the image) and resizes it to out_h x out_w: area averaging when
// shrinking, bilinear when enlarging (close to PIL's antialiased resize that torchvision uses).
at::Tensor crop_resize(const at::Tensor& rgb, const Box& box, int64_t out_h, int64_t out_w);

// Resizes the whole image to out_h x out_w with antialiased bilinear filtering, as PIL's resize that
// torchvision's Resize runs (the eval transform; slower than crop_resize's area averaging).
at::Tensor resize_antialiased(const at::Tensor& rgb, int64_t out_h, int64_t out_w);

// Resizes so that the shorter side is `short_side` (aspect kept).
at::Tensor resize_short_side(const at::Tensor& rgb, int64_t short_side);

}  // namespace finch::data
