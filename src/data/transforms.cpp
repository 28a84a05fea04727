#include "finch/data/transforms.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

#include "finch/core/seed.h"

namespace finch::data {

int64_t needed_short_side(const TransformOptions& o) { return o.train ? o.size : o.resize; }

Plan plan_transform(int64_t orig_h, int64_t orig_w, const std::optional<BBox>& bbox, const TransformOptions& o, uint64_t sample_seed) {
  // The region the transform works in: the whole image, or the bird's box plus a margin.
  Box region{0, 0, static_cast<double>(orig_w), static_cast<double>(orig_h)};
  if (o.crop_to_bbox && bbox) {
    const double mx = bbox->w * o.bbox_margin, my = bbox->h * o.bbox_margin;
    const double x0 = std::max(0.0, bbox->x - mx), y0 = std::max(0.0, bbox->y - my);
    const double x1 = std::min<double>(orig_w, bbox->x + bbox->w + mx), y1 = std::min<double>(orig_h, bbox->y + bbox->h + my);
    if (x1 - x0 >= 1 && y1 - y0 >= 1) region = Box{x0, y0, x1 - x0, y1 - y0};
  }
  Plan p;
  const double H = region.h, W = region.w;
  if (!o.train) {
    // Resize(shorter side -> resize) + CenterCrop(size) == a centred box of size * short / resize.
    const double side = static_cast<double>(o.size) * std::min(H, W) / static_cast<double>(o.resize);
    p.box = Box{region.x + (W - std::min(side, W)) / 2, region.y + (H - std::min(side, H)) / 2, std::min(side, W), std::min(side, H)};
    return p;
  }
  Rng rng(sample_seed);
  // torchvision RandomResizedCrop.get_params: 10 tries, then a centred crop within the ratio range.
  const double area = H * W, log_lo = std::log(o.ratio_lo), log_hi = std::log(o.ratio_hi);
  bool found = false;
  for (int attempt = 0; attempt < 10 && !found; ++attempt) {
    const double target = area * rng.uniform(o.scale_lo, o.scale_hi);
    const double aspect = std::exp(rng.uniform(log_lo, log_hi));
    const double w = std::round(std::sqrt(target * aspect)), h = std::round(std::sqrt(target / aspect));
    if (w > 0 && w <= W && h > 0 && h <= H) {
      const double y = static_cast<double>(rng.below(static_cast<uint64_t>(H - h) + 1));
      const double x = static_cast<double>(rng.below(static_cast<uint64_t>(W - w) + 1));
      p.box = Box{region.x + x, region.y + y, w, h};
      found = true;
    }
  }
  if (!found) {
    double w = W, h = H;
    if (W / H < o.ratio_lo) h = std::round(w / o.ratio_lo);
    else if (W / H > o.ratio_hi) w = std::round(h * o.ratio_hi);
    p.box = Box{region.x + (W - w) / 2, region.y + (H - h) / 2, w, h};
  }
  p.flip = rng.uniform() < o.hflip;
  if (o.color_jitter > 0) {
    const double lo = std::max(0.0, 1 - o.color_jitter), hi = 1 + o.color_jitter;
    p.brightness = static_cast<float>(rng.uniform(lo, hi));
    p.contrast = static_cast<float>(rng.uniform(lo, hi));
    p.saturation = static_cast<float>(rng.uniform(lo, hi));
  }
  return p;
}

void apply_transform(const at::Tensor& pixels, int64_t orig_h, int64_t orig_w, const Plan& plan, const TransformOptions& o,
                     at::Tensor out) {
  // From original coordinates to the pixels we actually hold.
  const double sy = static_cast<double>(pixels.size(0)) / orig_h, sx = static_cast<double>(pixels.size(1)) / orig_w;
  const Box b{plan.box.x * sx, plan.box.y * sy, plan.box.w * sx, plan.box.h * sy};
  at::Tensor img = crop_resize(pixels, b, o.size, o.size);  // size x size x 3 uint8
  if (plan.flip) img = img.flip(1);
  at::Tensor x = img.permute({2, 0, 1}).to(at::kFloat).div_(255.0f);  // 3 x S x S in [0, 1]
  if (plan.brightness != 1 || plan.contrast != 1 || plan.saturation != 1) {
    // ColorJitter in a fixed order: brightness, contrast, saturation (grey = ITU-R 601-2 luma).
    x.mul_(plan.brightness).clamp_(0, 1);
    auto grey = [](const at::Tensor& t) { return (t[0] * 0.299f + t[1] * 0.587f + t[2] * 0.114f).unsqueeze(0); };
    const auto m = grey(x).mean();
    x = ((x - m) * plan.contrast + m).clamp_(0, 1);
    const auto g = grey(x);
    x = ((x - g) * plan.saturation + g).clamp_(0, 1);
  }
  for (int c = 0; c < 3; ++c) out[c].copy_(x[c]).sub_(kMean[c]).div_(kStd[c]);
}

}  // namespace finch::data
