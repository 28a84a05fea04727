// Random erasing, as timm's RandomErasing (timm/data/random_erasing.py), on one normalised image.
//
// Note [Random erasing]
// With data.random_erasing.prob > 0 each training image, after Normalize, loses up to max_count
// rectangles (timm's re_count: the count is drawn from 1..max_count, each box's area from
// [scale] / count of the image, its aspect from log-uniform [ratio], 10 tries each), filled with 0
// (const: the mean colour), one N(0, 1) colour per channel (rand) or N(0, 1) per pixel (pixel,
// timm train.py's default). The boxes are planned with the sample's other augmentation draws
// (transforms.cpp plan_transform: one Rng per (seed, epoch, sample)) and the fill values drawn from
// a seed of the same plan, so the pixels do not depend on the world size, a worker or a resume.
// The draws are timm's calls to Python's random (random(), uniform(a, b), randint(a, b)) in timm's
// order; the reference test replays timm's own (ErasingDraws).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <ATen/core/Tensor.h>

#include "finch/core/config.h"

namespace finch::data {

struct RandomErasingOptions {
  double prob = 0.0;
  double min_area = 0.02, max_area = 1.0 / 3.0;
  double min_aspect = 0.3, max_aspect = 1.0 / 0.3;
  ErasingMode mode = ErasingMode::kPixel;
  int max_count = 1;
};

struct EraseBox {
  int64_t top = 0, left = 0, h = 0, w = 0;
};

// Python's random module as timm's _erase calls it.
class ErasingDraws {
 public:
  virtual ~ErasingDraws() = default;
  virtual double random() = 0;                             // [0, 1)
  virtual double uniform(double a, double b) = 0;          // a + (b - a) * random()
  virtual int64_t randint(int64_t a, int64_t b) = 0;       // [a, b], both ends
};

// timm's _erase for an img_h x img_w image: the boxes to fill (none when the image is not erased).
std::vector<EraseBox> plan_erasing(int64_t img_h, int64_t img_w, const RandomErasingOptions& o, ErasingDraws& draws);

// Fills `boxes` of `img` (C x H x W float) as `mode` says; `normal(shape)` gives the N(0, 1) values
// of rand (C x 1 x 1) and pixel (C x h x w) boxes, box by box.
void erase_(at::Tensor& img, const std::vector<EraseBox>& boxes, ErasingMode mode,
            const std::function<at::Tensor(std::vector<int64_t>)>& normal);

// finch's fill values for a plan's erase seed: N(0, 1) by Box-Muller on core/seed.h's Rng.
std::function<at::Tensor(std::vector<int64_t>)> seeded_normal(uint64_t seed);

}  // namespace finch::data
