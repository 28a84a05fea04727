#include "finch/data/transforms.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

#include "finch/core/seed.h"

namespace finch::data {

// Training decodes at a reduced JPEG size (1/2, 1/4, 1/8), the speed lever of the raw-JPEG path,
// where the crop keeps at least twice its output size in pixels: it is then still shrunk by the
// antialiasing filter, and on real photographs the input stays within ~1/255 of torchvision's on
// average (tests/reference/train_fidelity.py). The rule is the crop's, not the image's: with the
// image's (shorter side >= output size, the first design) a small RandomResizedCrop was enlarged
// from a few reduced pixels: 1.6-5.1 levels of 255 off on average at 64-224 px; with the crop's
// rule and a margin of 1 instead of 2, 0.9-3.0.
// Evaluation decodes in full (bit for bit torchvision's, tests/reference/eval_fidelity.py).
int decode_reduction(const Plan& plan, const TransformOptions& o) {
  if (!o.train || !o.reduced_decode) return 1;
  const double crop_short = std::min(plan.box.w, plan.box.h);
  int k = 8;
  while (k > 1 && crop_short / k < 2.0 * static_cast<double>(o.size)) k /= 2;
  return k;
}

Planned decode_planned(const std::optional<std::pair<int64_t, int64_t>>& original, const std::function<at::Tensor(int)>& decode,
                       const std::optional<BBox>& bbox, const TransformOptions& o, uint64_t sample_seed) {
  Planned p;
  if (original) {
    std::tie(p.orig_h, p.orig_w) = *original;
    p.plan = plan_transform(p.orig_h, p.orig_w, bbox, o, sample_seed);
    p.pixels = decode(decode_reduction(p.plan, o));
  } else {
    p.pixels = decode(1);
    p.orig_h = p.pixels.size(0), p.orig_w = p.pixels.size(1);
    p.plan = plan_transform(p.orig_h, p.orig_w, bbox, o, sample_seed);
  }
  return p;
}

namespace {
// Random erasing's draws from the sample's Rng (Note [Random erasing]).
class RngErasingDraws : public ErasingDraws {
 public:
  explicit RngErasingDraws(Rng& rng) : rng_(rng) {}
  double random() override { return rng_.uniform(); }
  double uniform(double a, double b) override { return a + (b - a) * rng_.uniform(); }
  int64_t randint(int64_t a, int64_t b) override { return a + static_cast<int64_t>(rng_.below(static_cast<uint64_t>(b - a + 1))); }

 private:
  Rng& rng_;
};

// Automatic augmentation's draws from the sample's Rng (Note [Automatic augmentation]).
class RngAugmentDraws : public AugmentDraws {
 public:
  explicit RngAugmentDraws(Rng& rng) : rng_(rng) {}
  int64_t randint(int64_t n) override { return static_cast<int64_t>(rng_.below(static_cast<uint64_t>(n))); }
  double rand() override { return static_cast<float>(rng_.uniform()); }

 private:
  Rng& rng_;
};

// ColorJitter then Normalize (the rarer path: jitter is off by default).
void color_jitter_normalized(at::Tensor img, const Plan& plan, const TransformOptions& o, at::Tensor out);
}  // namespace

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
    // torchvision's Resize(resize) + CenterCrop(size), with its integer arithmetic: the longer side
    // becomes int(resize * long / short), the crop starts at round((resized - size) / 2) (Python's
    // round: half to even, as std::nearbyint). A sub-pixel difference here costs several levels
    // of 255 on a sharp photograph (tests/reference/eval_fidelity.py).
    const double Hi = std::max(1.0, std::round(H)), Wi = std::max(1.0, std::round(W));
    if (Wi <= Hi) p.resize_w = o.resize, p.resize_h = static_cast<int64_t>(static_cast<double>(o.resize) * Hi / Wi);
    else p.resize_h = o.resize, p.resize_w = static_cast<int64_t>(static_cast<double>(o.resize) * Wi / Hi);
    p.crop_top = std::max<int64_t>(0, static_cast<int64_t>(std::nearbyint((p.resize_h - o.size) / 2.0)));
    p.crop_left = std::max<int64_t>(0, static_cast<int64_t>(std::nearbyint((p.resize_w - o.size) / 2.0)));
    p.region = Box{region.x, region.y, Wi, Hi};
    const double sy = Hi / p.resize_h, sx = Wi / p.resize_w;
    p.box = Box{region.x + p.crop_left * sx, region.y + p.crop_top * sy, std::min<double>(o.size, p.resize_w) * sx,
                std::min<double>(o.size, p.resize_h) * sy};
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
  if (o.auto_augment.policy != AutoAugmentPolicy::kNone) {  // after the draws above: runs without it draw what they drew
    RngAugmentDraws draws(rng);
    p.augment = plan_auto_augment(o.auto_augment, o.size, o.size, draws);
  }
  if (o.erasing.prob > 0) {  // after the other draws: a run without erasing draws what it always drew
    RngErasingDraws draws(rng);
    p.erase = plan_erasing(o.size, o.size, o.erasing, draws);
    p.erase_seed = rng.next();
  }
  return p;
}

void to_normalized_chw(const at::Tensor& hwc, bool flip, at::Tensor out, const Normalize& n) {
  // One pass over the pixels on the calling thread: a loader worker is one thread of work, as a
  // DataLoader worker process with torch.set_num_threads(1) (ATen's per-op parallelism would give
  // every worker its own OpenMP team beside the training's). The arithmetic is ATen's, in the same
  // order and precision: u8 -> float, / 255, - mean, / std.
  TORCH_CHECK(hwc.dim() == 3 && hwc.size(2) == 3 && hwc.scalar_type() == at::kByte, "to_normalized_chw: expects H x W x 3 uint8");
  TORCH_CHECK(out.dim() == 3 && out.scalar_type() == at::kFloat && out.size(0) == 3 && out.size(1) == hwc.size(0) &&
                  out.size(2) == hwc.size(1),
              "to_normalized_chw: expects a 3 x H x W float output");
  const at::Tensor src = hwc.contiguous();
  const int64_t H = src.size(0), W = src.size(1);
  const uint8_t* in = src.data_ptr<uint8_t>();
  float* dst = out.data_ptr<float>();
  const int64_t sc = out.stride(0), sy = out.stride(1), sx = out.stride(2);
  const auto value = [&](int64_t y, int64_t x, int c) {
    const int64_t from = flip ? W - 1 - x : x;
    return (static_cast<float>(in[(y * W + from) * 3 + c]) / 255.0f - n.mean[c]) / n.std[c];
  };
  if (out.is_contiguous()) {  // NCHW batches: plane by plane
    for (int c = 0; c < 3; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) dst[c * sc + y * sy + x * sx] = value(y, x, c);
  } else {  // a channels_last batch (Note [Memory format]), or any other strides: pixel by pixel, as the input
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x)
        for (int c = 0; c < 3; ++c) dst[c * sc + y * sy + x * sx] = value(y, x, c);
  }
}

void apply_transform(const at::Tensor& pixels, int64_t orig_h, int64_t orig_w, const Plan& plan, const TransformOptions& o,
                     at::Tensor out) {
  // From original coordinates to the pixels we actually hold.
  const double sy = static_cast<double>(pixels.size(0)) / orig_h, sx = static_cast<double>(pixels.size(1)) / orig_w;
  at::Tensor img;  // size x size x 3 uint8
  if (plan.resize_h > 0) {
    // Eval: the region (whole pixels of what was decoded) resized as PIL would, then the centre crop.
    const int64_t H = pixels.size(0), W = pixels.size(1);
    const int64_t x0 = std::clamp<int64_t>(static_cast<int64_t>(std::floor(plan.region.x * sx)), 0, W - 1);
    const int64_t y0 = std::clamp<int64_t>(static_cast<int64_t>(std::floor(plan.region.y * sy)), 0, H - 1);
    const int64_t x1 = std::clamp<int64_t>(static_cast<int64_t>(std::ceil((plan.region.x + plan.region.w) * sx)), x0 + 1, W);
    const int64_t y1 = std::clamp<int64_t>(static_cast<int64_t>(std::ceil((plan.region.y + plan.region.h) * sy)), y0 + 1, H);
    const at::Tensor resized = resize_antialiased(pixels.slice(0, y0, y1).slice(1, x0, x1), plan.resize_h, plan.resize_w);
    const int64_t ch = std::min<int64_t>(o.size, plan.resize_h), cw = std::min<int64_t>(o.size, plan.resize_w);
    img = resized.slice(0, plan.crop_top, plan.crop_top + ch).slice(1, plan.crop_left, plan.crop_left + cw);
    if (ch != o.size || cw != o.size) img = crop_resize(img.contiguous(), Box{0, 0, double(cw), double(ch)}, o.size, o.size);
  } else {
    const Box b{plan.box.x * sx, plan.box.y * sy, plan.box.w * sx, plan.box.h * sy};
    img = crop_resize(pixels, b, o.size, o.size);
  }
  bool flip = plan.flip;
  if (!plan.augment.empty()) {  // torchvision's order: the crop, the flip, then the policy's ops (on 3 x S x S uint8)
    const at::Tensor chw = apply_auto_augment((flip ? img.flip(1) : img).permute({2, 0, 1}).contiguous(), plan.augment);
    img = chw.permute({1, 2, 0});
    flip = false;
  }
  if (plan.brightness == 1 && plan.contrast == 1 && plan.saturation == 1) {
    to_normalized_chw(img, flip, out, o.normalize);
  } else {
    Plan jitter = plan;
    jitter.flip = flip;
    color_jitter_normalized(img, jitter, o, out);
  }
  if (!plan.erase.empty()) erase_(out, plan.erase, o.erasing.mode, seeded_normal(plan.erase_seed));
}

namespace {
void color_jitter_normalized(at::Tensor img, const Plan& plan, const TransformOptions& o, at::Tensor out) {
  // ColorJitter in a fixed order: brightness, contrast, saturation (grey = ITU-R 601-2 luma), on
  // ATen ops (the rarer path: jitter is off by default).
  if (plan.flip) img = img.flip(1);
  at::Tensor x = img.permute({2, 0, 1}).to(at::kFloat).div_(255.0f);  // 3 x S x S in [0, 1]
  x.mul_(plan.brightness).clamp_(0, 1);
  auto grey = [](const at::Tensor& t) { return (t[0] * 0.299f + t[1] * 0.587f + t[2] * 0.114f).unsqueeze(0); };
  const auto m = grey(x).mean();
  x = ((x - m) * plan.contrast + m).clamp_(0, 1);
  const auto g = grey(x);
  x = ((x - g) * plan.saturation + g).clamp_(0, 1);
  for (int c = 0; c < 3; ++c) out[c].copy_(x[c]).sub_(o.normalize.mean[c]).div_(o.normalize.std[c]);
}
}  // namespace

}  // namespace finch::data
