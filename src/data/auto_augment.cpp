#include "finch/data/auto_augment.h"

#include <cmath>
#include <utility>

#include <fmt/format.h>
#include <torch/torch.h>

#include "finch/core/error.h"

namespace finch::data {
namespace {

constexpr std::pair<AugOp, const char*> kNames[] = {
    {AugOp::kIdentity, "Identity"},       {AugOp::kShearX, "ShearX"},         {AugOp::kShearY, "ShearY"},
    {AugOp::kTranslateX, "TranslateX"},   {AugOp::kTranslateY, "TranslateY"}, {AugOp::kRotate, "Rotate"},
    {AugOp::kBrightness, "Brightness"},   {AugOp::kColor, "Color"},           {AugOp::kContrast, "Contrast"},
    {AugOp::kSharpness, "Sharpness"},     {AugOp::kPosterize, "Posterize"},   {AugOp::kSolarize, "Solarize"},
    {AugOp::kAutoContrast, "AutoContrast"}, {AugOp::kEqualize, "Equalize"},   {AugOp::kInvert, "Invert"},
};

// An op's magnitudes (a float32 tensor, or none) and whether its sign is drawn: one row of a
// torchvision _augmentation_space, in its dict's order.
struct OpMeta {
  AugOp op;
  at::Tensor magnitudes;  // undefined: the op takes none (torch.tensor(0.0), ndim 0)
  bool is_signed;
};

at::Tensor lin(double a, double b, int64_t bins) { return torch::linspace(a, b, bins, torch::kFloat); }
at::Tensor posterize_bits(int64_t bins, double base, double span) {  // base - (arange(bins) / ((bins - 1) / span)).round().int()
  return (base - (torch::arange(bins) / (static_cast<double>(bins - 1) / span)).round().to(torch::kInt)).to(torch::kFloat);
}

std::vector<OpMeta> trivial_wide_space(int64_t bins) {
  return {{AugOp::kIdentity, {}, false},          {AugOp::kShearX, lin(0, 0.99, bins), true},   {AugOp::kShearY, lin(0, 0.99, bins), true},
          {AugOp::kTranslateX, lin(0, 32, bins), true}, {AugOp::kTranslateY, lin(0, 32, bins), true}, {AugOp::kRotate, lin(0, 135, bins), true},
          {AugOp::kBrightness, lin(0, 0.99, bins), true}, {AugOp::kColor, lin(0, 0.99, bins), true}, {AugOp::kContrast, lin(0, 0.99, bins), true},
          {AugOp::kSharpness, lin(0, 0.99, bins), true}, {AugOp::kPosterize, posterize_bits(bins, 8, 6), false},
          {AugOp::kSolarize, lin(255, 0, bins), false}, {AugOp::kAutoContrast, {}, false}, {AugOp::kEqualize, {}, false}};
}

// RandAugment's space, and AutoAugment's (without Identity, with Invert).
std::vector<OpMeta> rand_space(int64_t bins, int64_t h, int64_t w, bool autoaugment) {
  std::vector<OpMeta> s;
  if (!autoaugment) s.push_back({AugOp::kIdentity, {}, false});
  const std::vector<OpMeta> rest = {
      {AugOp::kShearX, lin(0, 0.3, bins), true}, {AugOp::kShearY, lin(0, 0.3, bins), true},
      {AugOp::kTranslateX, lin(0, 150.0 / 331.0 * static_cast<double>(w), bins), true},
      {AugOp::kTranslateY, lin(0, 150.0 / 331.0 * static_cast<double>(h), bins), true}, {AugOp::kRotate, lin(0, 30, bins), true},
      {AugOp::kBrightness, lin(0, 0.9, bins), true}, {AugOp::kColor, lin(0, 0.9, bins), true}, {AugOp::kContrast, lin(0, 0.9, bins), true},
      {AugOp::kSharpness, lin(0, 0.9, bins), true}, {AugOp::kPosterize, posterize_bits(bins, 8, 4), false},
      {AugOp::kSolarize, lin(255, 0, bins), false}, {AugOp::kAutoContrast, {}, false}, {AugOp::kEqualize, {}, false}};
  s.insert(s.end(), rest.begin(), rest.end());
  if (autoaugment) s.push_back({AugOp::kInvert, {}, false});
  return s;
}

const OpMeta& meta_of(const std::vector<OpMeta>& space, AugOp op) {
  for (const auto& m : space)
    if (m.op == op) return m;
  throw RuntimeError(fmt::format("auto_augment: {} is not in the policy's space", aug_op_name(op)));
}

double magnitude_at(const OpMeta& m, int64_t bin) { return m.magnitudes.defined() ? static_cast<double>(m.magnitudes[bin].item<float>()) : 0.0; }

// AutoAugmentPolicy.IMAGENET: (op, probability, magnitude bin or -1 for none), two per sub-policy.
struct SubOp {
  AugOp op;
  double p;
  int bin;
};
const std::vector<std::pair<SubOp, SubOp>>& imagenet_policy() {
  using A = AugOp;
  static const std::vector<std::pair<SubOp, SubOp>> p = {
      {{A::kPosterize, 0.4, 8}, {A::kRotate, 0.6, 9}},       {{A::kSolarize, 0.6, 5}, {A::kAutoContrast, 0.6, -1}},
      {{A::kEqualize, 0.8, -1}, {A::kEqualize, 0.6, -1}},    {{A::kPosterize, 0.6, 7}, {A::kPosterize, 0.6, 6}},
      {{A::kEqualize, 0.4, -1}, {A::kSolarize, 0.2, 4}},     {{A::kEqualize, 0.4, -1}, {A::kRotate, 0.8, 8}},
      {{A::kSolarize, 0.6, 3}, {A::kEqualize, 0.6, -1}},     {{A::kPosterize, 0.8, 5}, {A::kEqualize, 1.0, -1}},
      {{A::kRotate, 0.2, 3}, {A::kSolarize, 0.6, 8}},        {{A::kEqualize, 0.6, -1}, {A::kPosterize, 0.4, 6}},
      {{A::kRotate, 0.8, 8}, {A::kColor, 0.4, 0}},           {{A::kRotate, 0.4, 9}, {A::kEqualize, 0.6, -1}},
      {{A::kEqualize, 0.0, -1}, {A::kEqualize, 0.8, -1}},    {{A::kInvert, 0.6, -1}, {A::kEqualize, 1.0, -1}},
      {{A::kColor, 0.6, 4}, {A::kContrast, 1.0, 8}},         {{A::kRotate, 0.8, 8}, {A::kColor, 1.0, 2}},
      {{A::kColor, 0.8, 8}, {A::kSolarize, 0.8, 7}},         {{A::kSharpness, 0.4, 7}, {A::kInvert, 0.6, -1}},
      {{A::kShearX, 0.6, 5}, {A::kEqualize, 1.0, -1}},       {{A::kColor, 0.4, 0}, {A::kEqualize, 0.6, -1}},
      {{A::kEqualize, 0.4, -1}, {A::kSolarize, 0.2, 4}},     {{A::kSolarize, 0.6, 5}, {A::kAutoContrast, 0.6, -1}},
      {{A::kInvert, 0.6, -1}, {A::kEqualize, 1.0, -1}},      {{A::kColor, 0.6, 4}, {A::kContrast, 1.0, 8}},
      {{A::kEqualize, 0.8, -1}, {A::kEqualize, 0.6, -1}},
  };
  return p;
}

// torchvision's _get_inverse_affine_matrix (inverted).
std::array<double, 6> inverse_affine(double cx, double cy, double angle, double tx, double ty, double shear_x, double shear_y) {
  const double rot = angle * M_PI / 180.0, sx = shear_x * M_PI / 180.0, sy = shear_y * M_PI / 180.0;
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  std::array<double, 6> m = {d, -b, 0.0, -c, a, 0.0};  // scale 1
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
  m[2] += cx;
  m[5] += cy;
  return m;
}

// torchvision's _functional_tensor.affine / rotate (expand=False): _gen_affine_grid, then
// grid_sample (nearest, zeros, align_corners=False) on the image as float32, rounded back.
at::Tensor affine_nearest(const at::Tensor& chw, const std::array<double, 6>& matrix) {
  const int64_t h = chw.size(1), w = chw.size(2);
  const auto theta = torch::tensor(std::vector<double>(matrix.begin(), matrix.end()), torch::kFloat).reshape({1, 2, 3});
  auto base = torch::empty({1, h, w, 3}, torch::kFloat);
  const double d = 0.5;
  base.select(3, 0).copy_(torch::linspace(-static_cast<double>(w) * 0.5 + d, static_cast<double>(w) * 0.5 + d - 1, w, torch::kFloat));
  base.select(3, 1).copy_(torch::linspace(-static_cast<double>(h) * 0.5 + d, static_cast<double>(h) * 0.5 + d - 1, h, torch::kFloat).unsqueeze(-1));
  base.select(3, 2).fill_(1);
  const auto rescaled = theta.transpose(1, 2) / torch::tensor({0.5 * static_cast<double>(w), 0.5 * static_cast<double>(h)}, torch::kFloat);
  const auto grid = base.view({1, h * w, 3}).bmm(rescaled).view({1, h, w, 2});
  namespace F = torch::nn::functional;
  auto out = F::grid_sample(chw.unsqueeze(0).to(torch::kFloat), grid,
                            F::GridSampleFuncOptions().mode(torch::kNearest).padding_mode(torch::kZeros).align_corners(false));
  return torch::round(out.squeeze(0)).to(chw.scalar_type());
}

at::Tensor blend(const at::Tensor& img1, const at::Tensor& img2, double ratio) {  // _blend: truncated back to uint8
  return (img1 * ratio + img2 * (1.0 - ratio)).clamp(0, 255).to(img1.scalar_type());
}

at::Tensor grayscale(const at::Tensor& chw) {  // rgb_to_grayscale, one channel, the image's dtype
  return (chw[0] * 0.2989 + chw[1] * 0.587 + chw[2] * 0.114).to(chw.scalar_type()).unsqueeze(0);
}

at::Tensor equalize_channel(const at::Tensor& c) {  // _scale_channel (the CPU's bincount)
  const auto hist = torch::bincount(c.reshape(-1), {}, 256);
  const auto nonzero = hist.index({hist != 0});
  const auto step = torch::div(nonzero.slice(0, 0, nonzero.size(0) - 1).sum(), 255, "floor");
  if (step.item<int64_t>() == 0) return c;
  auto lut = torch::div(torch::cumsum(hist, 0) + torch::div(step, 2, "floor"), step, "floor");
  lut = torch::constant_pad_nd(lut, {1, 0}).slice(0, 0, 256).clamp(0, 255);
  return lut.index({c.to(torch::kLong)}).to(torch::kByte);
}

}  // namespace

const char* aug_op_name(AugOp op) {
  for (const auto& [o, n] : kNames)
    if (o == op) return n;
  return "?";
}

AugOp aug_op_from_name(const std::string& name) {
  for (const auto& [o, n] : kNames)
    if (name == n) return o;
  throw RuntimeError("unknown augmentation op '" + name + "'");
}

std::vector<AugStep> plan_auto_augment(const AutoAugmentOptions& o, int64_t h, int64_t w, AugmentDraws& draws) {
  std::vector<AugStep> steps;
  auto signed_magnitude = [&](const OpMeta& m, double magnitude) {
    if (m.is_signed && draws.randint(2) != 0) magnitude *= -1.0;
    return magnitude;
  };
  switch (o.policy) {
    case AutoAugmentPolicy::kNone:
      break;
    case AutoAugmentPolicy::kTrivialAugmentWide: {
      const auto space = trivial_wide_space(o.magnitude_bins);
      const auto& m = space[static_cast<size_t>(draws.randint(static_cast<int64_t>(space.size())))];
      const double magnitude = m.magnitudes.defined() ? magnitude_at(m, draws.randint(m.magnitudes.size(0))) : 0.0;
      steps.push_back({m.op, signed_magnitude(m, magnitude)});
      break;
    }
    case AutoAugmentPolicy::kRandAugment: {
      const auto space = rand_space(o.magnitude_bins, h, w, false);
      for (int k = 0; k < o.num_ops; ++k) {
        const auto& m = space[static_cast<size_t>(draws.randint(static_cast<int64_t>(space.size())))];
        steps.push_back({m.op, signed_magnitude(m, magnitude_at(m, o.magnitude))});
      }
      break;
    }
    case AutoAugmentPolicy::kAutoAugmentImagenet: {
      const auto& policy = imagenet_policy();
      const auto& [first, second] = policy[static_cast<size_t>(draws.randint(static_cast<int64_t>(policy.size())))];
      const float probs[2] = {static_cast<float>(draws.rand()), static_cast<float>(draws.rand())};
      const int64_t signs[2] = {draws.randint(2), draws.randint(2)};
      const auto space = rand_space(10, h, w, true);
      const SubOp ops[2] = {first, second};
      for (int i = 0; i < 2; ++i) {
        if (!(probs[i] <= static_cast<float>(ops[i].p))) continue;  // a float32 tensor against the probability
        const auto& m = meta_of(space, ops[i].op);
        double magnitude = ops[i].bin >= 0 ? magnitude_at(m, ops[i].bin) : 0.0;
        if (m.is_signed && signs[i] == 0) magnitude *= -1.0;
        steps.push_back({m.op, magnitude});
      }
      break;
    }
  }
  return steps;
}

at::Tensor apply_aug_op(const at::Tensor& img, AugOp op, double magnitude) {
  const int64_t h = img.size(1), w = img.size(2);
  const double shear_degrees = std::atan(magnitude) * 180.0 / M_PI;  // torchvision: math.degrees(math.atan(magnitude))
  switch (op) {
    case AugOp::kIdentity:
      return img.clone();
    case AugOp::kShearX:  // center [0, 0] in pixels: (-w/2, -h/2) from the image's centre
      return affine_nearest(img, inverse_affine(-0.5 * static_cast<double>(w), -0.5 * static_cast<double>(h), 0, 0, 0, shear_degrees, 0));
    case AugOp::kShearY:
      return affine_nearest(img, inverse_affine(-0.5 * static_cast<double>(w), -0.5 * static_cast<double>(h), 0, 0, 0, 0, shear_degrees));
    case AugOp::kTranslateX:
      return affine_nearest(img, inverse_affine(0, 0, 0, static_cast<double>(static_cast<int64_t>(magnitude)), 0, 0, 0));
    case AugOp::kTranslateY:
      return affine_nearest(img, inverse_affine(0, 0, 0, 0, static_cast<double>(static_cast<int64_t>(magnitude)), 0, 0));
    case AugOp::kRotate:  // F.rotate passes -angle to the matrix
      return affine_nearest(img, inverse_affine(0, 0, -magnitude, 0, 0, 0, 0));
    case AugOp::kBrightness:
      return blend(img, torch::zeros_like(img), 1.0 + magnitude);
    case AugOp::kColor:
      return blend(img, grayscale(img), 1.0 + magnitude);
    case AugOp::kContrast:
      return blend(img, torch::mean(grayscale(img).to(torch::kFloat), {-3, -2, -1}, true), 1.0 + magnitude);
    case AugOp::kSharpness: {
      if (w <= 2 || h <= 2) return img.clone();
      auto kernel = torch::ones({3, 3}, torch::kFloat);
      kernel[1][1] = 5.0;
      kernel /= kernel.sum();
      kernel = kernel.expand({img.size(0), 1, 3, 3});
      auto blurred = torch::conv2d(img.unsqueeze(0).to(torch::kFloat), kernel, at::Tensor(), at::IntArrayRef{1}, at::IntArrayRef{0}, at::IntArrayRef{1}, img.size(0));
      blurred = torch::round(blurred.squeeze(0)).to(img.scalar_type());
      auto degenerate = img.clone();
      degenerate.slice(1, 1, h - 1).slice(2, 1, w - 1).copy_(blurred);
      return blend(img, degenerate, 1.0 + magnitude);
    }
    case AugOp::kPosterize:
      return torch::bitwise_and(img, -static_cast<int64_t>(std::pow(2.0, 8 - static_cast<int>(magnitude))));
    case AugOp::kSolarize:
      return torch::where(img >= magnitude, 255 - img, img);
    case AugOp::kAutoContrast: {
      auto minimum = img.amin({-2, -1}, true).to(torch::kFloat), maximum = img.amax({-2, -1}, true).to(torch::kFloat);
      auto scale = (maximum - minimum).reciprocal() * 255.0;  // Python's `255 / tensor` is Tensor.__rdiv__: reciprocal() * 255
      const auto eq = torch::isfinite(scale).logical_not();
      minimum.index_put_({eq}, 0);
      scale.index_put_({eq}, 1);
      return ((img - minimum) * scale).clamp(0, 255).to(img.scalar_type());
    }
    case AugOp::kEqualize:
      return torch::stack({equalize_channel(img[0]), equalize_channel(img[1]), equalize_channel(img[2])});
    case AugOp::kInvert:
      return 255 - img;
  }
  return img.clone();
}

at::Tensor apply_auto_augment(at::Tensor chw, const std::vector<AugStep>& steps) {
  for (const auto& s : steps) chw = apply_aug_op(chw, s.op, s.magnitude);
  return chw;
}

}  // namespace finch::data
