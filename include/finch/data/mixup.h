// Mixup and CutMix on a training batch, as timm's Mixup (timm/data/mixup.py).
//
// Note [Mixup and CutMix]
// With data.mixup on (mixup_alpha > 0, cutmix_alpha > 0 or cutmix_minmax set), each micro-batch is
// mixed on the device after it arrives and before the forward (train/train_step.cpp), and the loss
// is the soft-target cross-entropy against the mixed one-hot targets, smoothed by
// train.label_smoothing as timm's Mixup(label_smoothing=...) smooths them. The partner of image i
// is image N-1-i (timm's flip). mode batch draws one λ (and one box) per batch, pair one per pair
// (i, N-1-i), elem one per image; cutmix_minmax draws the box from its size range instead of from
// λ (and forces cutmix_alpha 1, as timm); correct_lam sets λ to the share of the image outside the
// box after clipping. The draws come in timm's order (prob, switch, λ, box), from a stream seeded
// per (train.seed, epoch, step, micro-batch, rank), so a resumed run mixes what the uninterrupted
// run mixed; the reference test replays numpy's draws from timm itself (MixDraws). The train
// accuracy logged under mixing is the argmax against the larger share of each image's target.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <ATen/core/Tensor.h>

#include "finch/core/config.h"
#include "finch/core/seed.h"

namespace finch::data {

struct MixupOptions {
  double mixup_alpha = 0.0;
  double cutmix_alpha = 0.0;
  std::optional<std::vector<double>> cutmix_minmax;  // [min, max] box side as a share of the image's
  double prob = 1.0;
  double switch_prob = 0.5;
  MixupMode mode = MixupMode::kBatch;
  bool correct_lam = true;
  double label_smoothing = 0.0;
  int64_t classes = 0;

  bool enabled() const { return mixup_alpha > 0 || cutmix_alpha > 0 || cutmix_minmax.has_value(); }
  static MixupOptions from_config(const Config& c);
};

// The random numbers Mixup draws, as numpy's calls in timm's code: rand(), beta(a, a),
// randint(lo, hi); the per-element modes draw n at a time (rand(n), beta(a, a, size=n)).
class MixDraws {
 public:
  virtual ~MixDraws() = default;
  virtual double uniform() = 0;                          // [0, 1)
  virtual double beta(double a) = 0;                     // Beta(a, a)
  virtual int64_t randint(int64_t lo, int64_t hi) = 0;   // [lo, hi)
  virtual std::vector<double> uniforms(int64_t n);
  virtual std::vector<double> betas(double a, int64_t n);
};

// finch's draws: splitmix64 (core/seed.h) and a Marsaglia-Tsang gamma for the beta, identical on
// every platform.
class SeededMixDraws : public MixDraws {
 public:
  explicit SeededMixDraws(uint64_t seed) : rng_(seed) {}
  double uniform() override { return rng_.uniform(); }
  double beta(double a) override;
  int64_t randint(int64_t lo, int64_t hi) override;

 private:
  double gamma(double a);
  double normal();
  Rng rng_;
};

class Mixup {
 public:
  explicit Mixup(MixupOptions options);

  // Mixes `images` (N x C x H x W, on any device) in place and returns the soft targets
  // (N x classes, float32, on the images' device) for `labels` (N, int64).
  at::Tensor apply_(at::Tensor& images, const at::Tensor& labels, MixDraws& draws) const;

  const MixupOptions& options() const { return o_; }

 private:
  struct Box {
    int64_t y0, y1, x0, x1;
  };
  Box cutmix_box(int64_t h, int64_t w, double lam, bool in_float32, MixDraws& draws, double* corrected) const;
  at::Tensor mix_batch_(at::Tensor& x, MixDraws& draws) const;
  at::Tensor mix_elements_(at::Tensor& x, MixDraws& draws, bool pairs) const;

  MixupOptions o_;
};

}  // namespace finch::data
