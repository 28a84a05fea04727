#include <cmath>

#include <gtest/gtest.h>

#include <torch/torch.h>

#include "finch/data/transforms.h"

using namespace finch::data;

TEST(Transforms, EvalIsResizeShorterSideThenCenterCrop) {
  TransformOptions o;
  o.train = false;
  o.size = 224;
  o.resize = 256;
  // torchvision on a 375 x 500 image: Resize(256) -> 256 x int(256 * 500 / 375) = 256 x 341;
  // CenterCrop(224) -> top round(32 / 2) = 16, left round(117 / 2) = round(58.5) = 58 (Python's
  // round: half to even).
  const Plan p = plan_transform(375, 500, std::nullopt, o, 1);
  EXPECT_EQ(p.resize_h, 256);
  EXPECT_EQ(p.resize_w, 341);
  EXPECT_EQ(p.crop_top, 16);
  EXPECT_EQ(p.crop_left, 58);
  // The same crop in the original image's pixels.
  EXPECT_NEAR(p.box.x, 58 * 500.0 / 341, 1e-9);
  EXPECT_NEAR(p.box.w, 224 * 500.0 / 341, 1e-9);
  EXPECT_NEAR(p.box.y, 16 * 375.0 / 256, 1e-9);
  EXPECT_NEAR(p.box.h, 224 * 375.0 / 256, 1e-9);
  EXPECT_FALSE(p.flip);
  // Round half to even the other way: 299 wide -> left round(37.5) = 38.
  EXPECT_EQ(plan_transform(256, 299, std::nullopt, o, 1).crop_left, 38);
}

TEST(Transforms, TrainCropsStayInsideWithScaleAndRatioInRange) {
  TransformOptions o;  // scale [0.08, 1], ratio [3/4, 4/3], hflip 0.5
  int flips = 0;
  const int n = 2000;
  for (int k = 0; k < n; ++k) {
    const Plan p = plan_transform(300, 400, std::nullopt, o, 1000 + k);
    ASSERT_GE(p.box.x, 0);
    ASSERT_GE(p.box.y, 0);
    ASSERT_LE(p.box.x + p.box.w, 400 + 1e-9);
    ASSERT_LE(p.box.y + p.box.h, 300 + 1e-9);
    const double area = p.box.w * p.box.h / (300.0 * 400.0), ratio = p.box.w / p.box.h;
    // Rounding to whole pixels lets area and ratio step slightly outside the sampled range.
    EXPECT_GE(area, 0.08 * 0.95);
    EXPECT_LE(area, 1.0 + 1e-9);
    EXPECT_GE(ratio, 0.75 * 0.97);
    EXPECT_LE(ratio, 4.0 / 3.0 * 1.03);
    flips += p.flip;
  }
  EXPECT_NEAR(flips / static_cast<double>(n), 0.5, 0.05);
  // The plan is a function of its seed alone.
  const Plan a = plan_transform(300, 400, std::nullopt, o, 77), b = plan_transform(300, 400, std::nullopt, o, 77);
  EXPECT_EQ(a.box.x, b.box.x);
  EXPECT_EQ(a.box.w, b.box.w);
  EXPECT_EQ(a.flip, b.flip);
}

TEST(Transforms, CropToBoundingBoxConfinesEveryCrop) {
  TransformOptions o;
  o.crop_to_bbox = true;
  o.bbox_margin = 0.1;
  const BBox bird{100, 50, 80, 60};  // margin: 8 x 6 pixels each side
  for (int k = 0; k < 500; ++k) {
    const Plan p = plan_transform(300, 400, bird, o, k);
    ASSERT_GE(p.box.x, 92 - 1e-9);
    ASSERT_GE(p.box.y, 44 - 1e-9);
    ASSERT_LE(p.box.x + p.box.w, 188 + 1e-9);
    ASSERT_LE(p.box.y + p.box.h, 116 + 1e-9);
  }
  o.train = false;
  const Plan e = plan_transform(300, 400, bird, o, 0);
  // Centred on the box, up to torchvision's whole-pixel crop offset (half a resized pixel).
  EXPECT_NEAR(e.box.x + e.box.w / 2, 140, 0.5);
  EXPECT_NEAR(e.box.y + e.box.h / 2, 80, 0.5);
  // Without the option the box is ignored.
  o.crop_to_bbox = false;
  const Plan whole = plan_transform(300, 400, bird, o, 0);
  EXPECT_NEAR(whole.box.x + whole.box.w / 2, 200, 1.0);
}

// The loader's one-pass ToTensor + Normalize gives what ATen's ops give (u8 -> float, / 255, - mean,
// / std), to the bit, for a flipped and a strided (cropped) input, into an NCHW or an NHWC sample.
TEST(Transforms, OnePassNormaliseIsAtensToTheBit) {
  torch::manual_seed(3);
  const auto full = torch::randint(0, 256, {40, 50, 3}, torch::kByte);
  const auto crop = full.slice(0, 3, 35).slice(1, 5, 45);  // not contiguous
  for (const bool flip : {false, true}) {
    auto ours = torch::empty({3, 32, 40});
    finch::data::to_normalized_chw(crop, flip, ours);
    auto img = flip ? crop.flip(1) : crop;
    auto x = img.permute({2, 0, 1}).to(torch::kFloat).div_(255.0f);
    auto theirs = torch::empty({3, 32, 40});
    for (int c = 0; c < 3; ++c) theirs[c].copy_(x[c]).sub_(static_cast<float>(finch::data::kImageNetMean[c])).div_(static_cast<float>(finch::data::kImageNetStd[c]));
    EXPECT_TRUE(torch::equal(ours, theirs)) << "flip " << flip << ": max difference " << (ours - theirs).abs().max().item<float>();
    // A sample of a channels_last batch (Note [Memory format]): the same values through its strides.
    auto nhwc = torch::zeros({2, 3, 32, 40}).contiguous(at::MemoryFormat::ChannelsLast);
    finch::data::to_normalized_chw(crop, flip, nhwc[1]);
    EXPECT_TRUE(torch::equal(nhwc[1], theirs)) << "flip " << flip << ", written NHWC";
    EXPECT_TRUE(torch::equal(nhwc[0], torch::zeros({3, 32, 40}))) << "flip " << flip << ": the other sample was written";
  }
  auto wrong = torch::empty({3, 40, 32});
  EXPECT_THROW(finch::data::to_normalized_chw(crop, false, wrong), c10::Error);
}
