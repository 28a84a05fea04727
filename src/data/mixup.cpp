#include "finch/data/mixup.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

namespace finch::data {

MixupOptions MixupOptions::from_config(const Config& c) {
  MixupOptions o;
  o.mixup_alpha = c.data.mixup.mixup_alpha;
  o.cutmix_alpha = c.data.mixup.cutmix_alpha;
  o.cutmix_minmax = c.data.mixup.cutmix_minmax;
  if (o.cutmix_minmax) o.cutmix_alpha = 1.0;  // timm: forced when minmax is set
  o.prob = c.data.mixup.prob;
  o.switch_prob = c.data.mixup.switch_prob;
  o.mode = c.data.mixup.mode;
  o.correct_lam = c.data.mixup.correct_lam;
  o.label_smoothing = c.train.label_smoothing;
  o.classes = c.model.classes;
  return o;
}

std::vector<double> MixDraws::uniforms(int64_t n) {
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& x : v) x = uniform();
  return v;
}

std::vector<double> MixDraws::betas(double a, int64_t n) {
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& x : v) x = beta(a);
  return v;
}

double SeededMixDraws::normal() {  // Box-Muller, one of the pair
  const double u1 = 1.0 - rng_.uniform(), u2 = rng_.uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

double SeededMixDraws::gamma(double a) {  // Marsaglia and Tsang (2000); a < 1 through a + 1
  if (a < 1.0) return gamma(a + 1.0) * std::pow(1.0 - rng_.uniform(), 1.0 / a);
  const double d = a - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = normal();
      v = 1.0 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = 1.0 - rng_.uniform();
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
  }
}

double SeededMixDraws::beta(double a) {
  const double x = gamma(a), y = gamma(a);
  if (x + y <= 0) return rng_.uniform() < 0.5 ? 0.0 : 1.0;  // both underflowed (a far below 1)
  return x / (x + y);
}

int64_t SeededMixDraws::randint(int64_t lo, int64_t hi) {
  return hi <= lo ? lo : lo + static_cast<int64_t>(rng_.below(static_cast<uint64_t>(hi - lo)));
}

Mixup::Mixup(MixupOptions options) : o_(std::move(options)) {}

// timm's cutmix_bbox_and_lam: rand_bbox from λ (numpy float32 arithmetic when λ is a float32, as
// in the per-element modes), or rand_bbox_minmax; `corrected` receives λ after correct_lam.
Mixup::Box Mixup::cutmix_box(int64_t h, int64_t w, double lam, bool in_float32, MixDraws& draws, double* corrected) const {
  Box b{};
  if (o_.cutmix_minmax) {
    const auto& mm = *o_.cutmix_minmax;
    const int64_t cut_h = draws.randint(static_cast<int64_t>(static_cast<double>(h) * mm[0]), static_cast<int64_t>(static_cast<double>(h) * mm[1]));
    const int64_t cut_w = draws.randint(static_cast<int64_t>(static_cast<double>(w) * mm[0]), static_cast<int64_t>(static_cast<double>(w) * mm[1]));
    b.y0 = draws.randint(0, h - cut_h + 1);
    b.x0 = draws.randint(0, w - cut_w + 1);
    b.y1 = b.y0 + cut_h;
    b.x1 = b.x0 + cut_w;
  } else {
    int64_t cut_h, cut_w;
    if (in_float32) {
      const float ratio = std::sqrt(1.0f - static_cast<float>(lam));
      cut_h = static_cast<int64_t>(static_cast<float>(h) * ratio);
      cut_w = static_cast<int64_t>(static_cast<float>(w) * ratio);
    } else {
      const double ratio = std::sqrt(1.0 - lam);
      cut_h = static_cast<int64_t>(static_cast<double>(h) * ratio);
      cut_w = static_cast<int64_t>(static_cast<double>(w) * ratio);
    }
    const int64_t cy = draws.randint(0, h), cx = draws.randint(0, w);
    // numpy's // floors; the halves here are of non-negative sizes
    b.y0 = std::clamp<int64_t>(cy - cut_h / 2, 0, h);
    b.y1 = std::clamp<int64_t>(cy + (cut_h + 1) / 2, 0, h);
    b.x0 = std::clamp<int64_t>(cx - cut_w / 2, 0, w);
    b.x1 = std::clamp<int64_t>(cx + (cut_w + 1) / 2, 0, w);
  }
  *corrected = lam;
  if (o_.correct_lam || o_.cutmix_minmax)
    *corrected = 1.0 - static_cast<double>((b.y1 - b.y0) * (b.x1 - b.x0)) / static_cast<double>(h * w);
  return b;
}

namespace {
at::Tensor box_of(const at::Tensor& t, int64_t y0, int64_t y1, int64_t x0, int64_t x1) { return t.slice(-2, y0, y1).slice(-1, x0, x1); }
}  // namespace

// timm's _mix_batch (one λ for the batch); returns λ as a 0-dim double tensor on the CPU.
at::Tensor Mixup::mix_batch_(at::Tensor& x, MixDraws& draws) const {
  double lam = 1.0;
  bool use_cutmix = false;
  if (draws.uniform() < o_.prob) {  // timm's _params_per_batch
    if (o_.mixup_alpha > 0 && o_.cutmix_alpha > 0) {
      use_cutmix = draws.uniform() < o_.switch_prob;
      lam = use_cutmix ? draws.beta(o_.cutmix_alpha) : draws.beta(o_.mixup_alpha);
    } else if (o_.mixup_alpha > 0) {
      lam = draws.beta(o_.mixup_alpha);
    } else {
      use_cutmix = true;
      lam = draws.beta(o_.cutmix_alpha);
    }
  }
  if (lam != 1.0) {
    if (use_cutmix) {
      const Box b = cutmix_box(x.size(-2), x.size(-1), lam, false, draws, &lam);
      box_of(x, b.y0, b.y1, b.x0, b.x1).copy_(box_of(x.flip(0), b.y0, b.y1, b.x0, b.x1));
    } else {
      auto flipped = x.flip(0).mul_(1.0 - lam);
      x.mul_(lam).add_(flipped);
    }
  }
  return torch::scalar_tensor(lam, torch::kDouble);
}

// timm's _mix_elem (one λ per image) and _mix_pair (one per pair i, N-1-i); returns the N x 1
// float32 λ column. λ is a float32 here, as numpy's array of them in timm.
at::Tensor Mixup::mix_elements_(at::Tensor& x, MixDraws& draws, bool pairs) const {
  const int64_t n = x.size(0), m = pairs ? n / 2 : n;
  std::vector<float> lam(static_cast<size_t>(m), 1.0f);
  std::vector<bool> use_cutmix(static_cast<size_t>(m), false);
  std::vector<double> mixed;  // timm's _params_per_elem
  if (o_.mixup_alpha > 0 && o_.cutmix_alpha > 0) {
    const auto s = draws.uniforms(m);
    const auto cut = draws.betas(o_.cutmix_alpha, m), mix = draws.betas(o_.mixup_alpha, m);  // np.where evaluates both
    for (int64_t i = 0; i < m; ++i) use_cutmix[i] = s[i] < o_.switch_prob, mixed.push_back(use_cutmix[i] ? cut[i] : mix[i]);
  } else if (o_.mixup_alpha > 0) {
    mixed = draws.betas(o_.mixup_alpha, m);
  } else {
    use_cutmix.assign(static_cast<size_t>(m), true);
    mixed = draws.betas(o_.cutmix_alpha, m);
  }
  const auto p = draws.uniforms(m);
  for (int64_t i = 0; i < m; ++i)
    if (p[i] < o_.prob) lam[i] = static_cast<float>(mixed[i]);
  const at::Tensor orig = x.clone();
  for (int64_t i = 0; i < m; ++i) {
    const int64_t j = n - i - 1;
    if (lam[i] == 1.0f) continue;
    if (use_cutmix[i]) {
      double corrected = 0;
      const Box b = cutmix_box(x.size(-2), x.size(-1), lam[i], true, draws, &corrected);
      box_of(x[i], b.y0, b.y1, b.x0, b.x1).copy_(box_of(orig[j], b.y0, b.y1, b.x0, b.x1));
      if (pairs) box_of(x[j], b.y0, b.y1, b.x0, b.x1).copy_(box_of(orig[i], b.y0, b.y1, b.x0, b.x1));
      lam[i] = static_cast<float>(corrected);
    } else {
      const float l = lam[i], r = 1.0f - l;
      x[i].copy_(x[i] * l + orig[j] * r);
      if (pairs) x[j].copy_(x[j] * l + orig[i] * r);
    }
  }
  std::vector<float> column = lam;
  if (pairs) {
    if (n % 2 == 1) column.push_back(1.0f);  // an odd batch (images skipped): the middle one unmixed
    column.insert(column.end(), lam.rbegin(), lam.rend());
  }
  return torch::tensor(column, torch::kFloat).unsqueeze(1);
}

at::Tensor Mixup::apply_(at::Tensor& images, const at::Tensor& labels, MixDraws& draws) const {
  torch::NoGradGuard no_grad;
  const at::Tensor lam = o_.mode == MixupMode::kBatch ? mix_batch_(images, draws) : mix_elements_(images, draws, o_.mode == MixupMode::kPair);
  // timm's mixup_target: smoothed one-hot targets, mixed with the flipped batch's by λ
  const double off = o_.label_smoothing / static_cast<double>(o_.classes), on = 1.0 - o_.label_smoothing + off;
  const auto y1 = torch::full({labels.size(0), o_.classes}, off, images.options().dtype(torch::kFloat))
                      .scatter_(1, labels.to(images.device()).view({-1, 1}), on);
  const auto y2 = y1.flip(0);
  if (lam.dim() == 0) {
    const double l = lam.item<double>();
    return y1 * l + y2 * (1.0 - l);
  }
  const auto l = lam.to(images.device());
  return y1 * l + y2 * (1 - l);
}

}  // namespace finch::data
