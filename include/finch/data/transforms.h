// Train and eval transforms, as torchvision's recipe for fine-tuning:
//   train: RandomResizedCrop(size, scale, ratio) -> RandomHorizontalFlip(p) -> [ColorJitter] -> Normalize
//          (-> [TrivialAugmentWide | RandAugment | AutoAugment]: torchvision's, Note [Automatic augmentation])
//          -> [RandomErasing] (timm's; Note [Random erasing])
//   eval:  Resize(shorter side = resize) -> CenterCrop(size) -> Normalize
// Crops are planned in the coordinates of the *original* image (plan_*), then applied to whatever
// resolution the pixels arrived in (a reduced-size JPEG decode, a packed copy at 256 px): raw and
// packed inputs get the same crops, up to resize arithmetic. Every random draw comes from one Rng
// seeded by (seed, epoch, sample index): never from the rank, the thread or the clock.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>

#include <ATen/core/Tensor.h>

#include "finch/data/cub.h"
#include "finch/data/image_ops.h"
#include "finch/data/auto_augment.h"
#include "finch/data/random_erasing.h"

namespace finch::data {

// ImageNet statistics (torchvision's): the default normalisation, and what PyTorch-trained weights
// record (finch import-weights, train/run_inputs).
constexpr std::array<double, 3> kImageNetMean = {0.485, 0.456, 0.406};
constexpr std::array<double, 3> kImageNetStd = {0.229, 0.224, 0.225};

// Normalize(mean, std) on [0, 1] pixels. The statistics belong to the weights (data.mean/std,
// resolved from model.pretrained's metadata; TF Lite models: 127/255 and 128/255).
struct Normalize {
  std::array<float, 3> mean = {float(kImageNetMean[0]), float(kImageNetMean[1]), float(kImageNetMean[2])};
  std::array<float, 3> std = {float(kImageNetStd[0]), float(kImageNetStd[1]), float(kImageNetStd[2])};
};

struct TransformOptions {
  bool train = true;
  int64_t size = 224;     // output crop
  int64_t resize = 256;   // eval: shorter side before the center crop
  double scale_lo = 0.08, scale_hi = 1.0;
  double ratio_lo = 3.0 / 4.0, ratio_hi = 4.0 / 3.0;
  double hflip = 0.5;
  double color_jitter = 0.0;
  bool crop_to_bbox = false;
  double bbox_margin = 0.1;
  bool reduced_decode = true;  // train: JPEGs decoded at reduced size where the crop allows (decode_reduction)
  Normalize normalize;
  AutoAugmentOptions auto_augment;  // train: policy none is off
  RandomErasingOptions erasing;  // train: prob 0 is off
};

struct Plan {
  Box box;               // in original-image pixels
  // Eval: torchvision's Resize + CenterCrop exactly — the region resized to resize_h x resize_w,
  // then the crop at (crop_top, crop_left) of that.
  int64_t resize_h = 0, resize_w = 0, crop_top = 0, crop_left = 0;
  Box region;            // eval: what is resized (the image, or the bird's box with its margin)
  bool flip = false;
  float brightness = 1, contrast = 1, saturation = 1;
  std::vector<AugStep> augment;  // automatic augmentation's ops on the output crop (train)
  std::vector<EraseBox> erase;  // random erasing's boxes in the output crop (train)
  uint64_t erase_seed = 0;      // their fill values' seed (rand, pixel)
};

// orig_h x orig_w: the original image; bbox in the same coordinates (used with crop_to_bbox).
Plan plan_transform(int64_t orig_h, int64_t orig_w, const std::optional<BBox>& bbox, const TransformOptions& o, uint64_t sample_seed);

// How much smaller than stored a JPEG may be decoded for `plan` (1, 2, 4 or 8: the decoder's
// reduced-size modes): the largest reduction that leaves the crop box at least twice the output
// size in pixels, so the crop is still shrunk to its size, never enlarged from fewer pixels than
// torchvision has. 1 for evaluation (torchvision's full decode) and with reduced_decode off.
int decode_reduction(const Plan& plan, const TransformOptions& o);

// One image's pixels with the plan they are transformed by. The crop is planned in the original
// image's pixels first (`original`: height and width when known without decoding — a JPEG header,
// a packed index), so that `decode(reduction)` can decode as small as that crop allows
// (decode_reduction); without them the image is decoded in full and planned from its pixels.
// The loader and input_from_file (predict, transform) both take this one path.
struct Planned {
  at::Tensor pixels;  // RGB uint8 H x W x 3, possibly a reduced decode
  int64_t orig_h = 0, orig_w = 0;
  Plan plan;
};
Planned decode_planned(const std::optional<std::pair<int64_t, int64_t>>& original, const std::function<at::Tensor(int)>& decode,
                       const std::optional<BBox>& bbox, const TransformOptions& o, uint64_t sample_seed);

// Applies `plan` to `pixels` (RGB uint8 H x W x 3 of an image originally orig_h x orig_w) and writes
// the normalised float32 3 x size x size result into `out` (any strides).
void apply_transform(const at::Tensor& pixels, int64_t orig_h, int64_t orig_w, const Plan& plan, const TransformOptions& o,
                     at::Tensor out);

// RGB uint8 H x W x 3 (any strides), mirrored left-right when `flip`, to the normalised float32
// 3 x H x W in `out` (any strides: a sample of an NCHW or a channels_last batch): ToTensor then
// Normalize, in one pass on the calling thread.
void to_normalized_chw(const at::Tensor& hwc, bool flip, at::Tensor out, const Normalize& n = {});

}  // namespace finch::data
