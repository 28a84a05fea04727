// Pillow's bilinear resize re-implemented (src/data/pil_resample.cpp): the expected pixels below
// are Pillow 9.4's own output (Image.resize(size, Image.BILINEAR[, box]) on the same 7 x 5 image),
// so a change in the filter, the fixed-point rounding or the pass order shows as a wrong byte.
// Real photographs against torchvision: tests/reference/{eval,train}_fidelity.py.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "finch/data/image_ops.h"
#include "finch/data/transforms.h"

using namespace finch::data;

namespace {

// H x W x 3: (x * 37 + y * 91 + c * 53 + x * y * 11) mod 256, as the Python that made the expectations.
at::Tensor pattern(int64_t H, int64_t W) {
  auto t = torch::empty({H, W, 3}, torch::kByte);
  auto a = t.accessor<uint8_t, 3>();
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x)
      for (int64_t c = 0; c < 3; ++c) a[y][x][c] = static_cast<uint8_t>((x * 37 + y * 91 + c * 53 + x * y * 11) % 256);
  return t;
}

std::vector<int> bytes(const at::Tensor& t) {
  const auto c = t.contiguous();
  return std::vector<int>(c.data_ptr<uint8_t>(), c.data_ptr<uint8_t>() + c.numel());
}

const Box kWhole{0, 0, 7, 5};

}  // namespace

TEST(PilResample, ShrinkIsPillowsToTheByte) {
  const std::vector<int> pillow = {61,  114, 161, 126, 148, 144, 124, 146, 170, 158, 134, 125, 149, 141, 114, 134, 127, 121,
                                   132, 125, 104, 118, 110, 126, 102, 155, 140, 111, 133, 99,  113, 135, 112, 91,  144, 133};
  EXPECT_EQ(bytes(resize_bilinear_pil(pattern(5, 7), kWhole, 3, 4)), pillow);
}

TEST(PilResample, EnlargeIsPillowsToTheByte) {
  const std::vector<int> pillow = {
      12,  65,  118, 58,  111, 164, 111, 164, 217, 164, 217, 157, 210, 92,  60,  44,  97,  150, 94,  147, 152, 137, 136, 173,
      125, 178, 156, 176, 115, 111, 96,  149, 202, 154, 207, 133, 179, 88,  100, 61,  114, 154, 118, 152, 196, 149, 164, 141,
      151, 153, 127, 150, 113, 119, 110, 113, 102, 99,  114, 167, 202, 169, 52,  132, 71,  124, 103, 156, 162, 188, 127, 38,
      90,  57,  110, 112, 127, 104, 129, 131, 105, 146, 109, 115, 124, 126, 116, 128, 143, 101, 51,  104, 147, 122, 175, 89,
      171, 80,  86,  75,  128, 165, 147, 200, 101, 103, 156, 153, 103, 156, 86,  123, 122, 128, 89,  142, 101, 89,  142, 138,
      135, 188, 156, 92,  145, 84,  95,  148, 154, 98,  151, 62,  55,  108, 161};
  EXPECT_EQ(bytes(resize_bilinear_pil(pattern(5, 7), kWhole, 9, 5)), pillow);
}

TEST(PilResample, AFractionalBoxIsPillowsToTheByte) {
  const std::vector<int> pillow = {135, 152, 133, 135, 121, 141, 124, 133, 133, 127, 131, 105, 134, 122, 111, 123, 122, 122};
  EXPECT_EQ(bytes(resize_bilinear_pil(pattern(5, 7), Box{1.5, 0.5, 4.75, 3.5}, 2, 3)), pillow);
}

TEST(PilResample, SameSizeIsACopyAndCropResizeCropsFirst) {
  const auto img = pattern(5, 7);
  EXPECT_TRUE(resize_bilinear_pil(img, kWhole, 5, 7).equal(img));
  // torchvision's resized_crop crops, then resizes the crop: the filter never reaches outside it.
  const auto crop = img.slice(0, 1, 4).slice(1, 2, 6).contiguous();
  EXPECT_TRUE(crop_resize(img, Box{2, 1, 4, 3}, 2, 3).equal(resize_bilinear_pil(crop, Box{0, 0, 4, 3}, 2, 3)));
  EXPECT_FALSE(crop_resize(img, Box{2, 1, 4, 3}, 2, 3).equal(resize_bilinear_pil(img, Box{2, 1, 4, 3}, 2, 3)))
      << "the pattern must tell a filter clipped at the crop from one that reads beyond it";
}

TEST(DecodeReduction, TheCropKeepsTwiceTheOutputSize) {
  TransformOptions o;
  o.size = 64;
  Plan p;
  p.box = Box{0, 0, 1000, 600};  // shorter side 600: 600/4 = 150 >= 128, 600/8 = 75 < 128
  EXPECT_EQ(decode_reduction(p, o), 4);
  o.size = 224;  // 600/2 = 300 < 448
  EXPECT_EQ(decode_reduction(p, o), 1);
  p.box = Box{0, 0, 4000, 3600};
  EXPECT_EQ(decode_reduction(p, o), 8);  // 3600/8 = 450 >= 448
  o.reduced_decode = false;
  EXPECT_EQ(decode_reduction(p, o), 1);
  o.reduced_decode = true;
  o.train = false;  // evaluation: torchvision's full decode
  EXPECT_EQ(decode_reduction(p, o), 1);
}
