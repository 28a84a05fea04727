// One optimizer step's compute, built and taken through train/step_parts.h by the trainer and by
// `finch bench step/e2e` alike (Note [One step assembly]): the micro-batches' forward and backward with the gradients
// all-reduced in buckets, fp16 gradients unscaled and checked on the device, the loss, hit and
// overflow flags read from the device once; then — once the ranks have agreed on those — clipping
// (on the device) and the optimizer step. One host read and one collective (the agreement) per
// optimizer step besides the gradients' all-reduce, as torch's GradScaler + clip_grad_norm_ take.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include <ATen/core/Tensor.h>

#include "finch/data/loader.h"
#include "finch/train/forward_loss.h"

namespace torch::optim {
class Optimizer;
}
namespace finch::distributed {
class GradientSynchronizer;
}
namespace finch::model {
class EfficientNetImpl;
}
namespace finch::data {
class Mixup;
}

namespace finch::train {

class GradScaler;

struct TrainStepOptions {
  int64_t batch_size = 32;        // per rank and micro-batch: the loss is scaled so gradients average
  int accum_steps = 1;            // micro-batches per optimizer step
  double clip_grad_norm = 0.0;    // 0: off
  const data::Mixup* mixup = nullptr;  // data.mixup on: each micro-batch mixed (Note [Mixup and CutMix])
};

struct StepSums {
  double loss_sum = 0;  // sum over this rank's images of the per-image loss
  double correct = 0;   // top-1 hits on this rank
  double images = 0;    // images this rank saw
  bool overflow = false;  // fp16: this rank's unscaled gradients hold inf/NaN (to be agreed on)
};

class TrainStep {
 public:
  TrainStep(model::EfficientNetImpl& model, torch::optim::Optimizer& optimizer, distributed::GradientSynchronizer& sync,
            GradScaler& scaler, std::vector<at::Tensor>& trainable, ForwardOptions forward, TrainStepOptions options);

  // Forward and backward of `accum_steps` micro-batches from `next`, the gradients all-reduced on
  // the last and (fp16) unscaled; one host read of the sums and the overflow flag. Throws naming
  // the step when `next` runs dry. With Mixup, micro-batch k draws from derive_seed(mix_seed, {k}).
  StepSums accumulate(const std::function<std::optional<data::Batch>()>& next, uint64_t mix_seed = 0);

  // After agreement (agree_step): true when the step was taken (gradients clipped and applied);
  // false when fp16 overflowed on some rank (every rank skips; the loss scale backs off). Neither a
  // collective nor a host read.
  bool apply(bool overflow_anywhere);
  // Drops the accumulated gradients (a step every rank skips).
  void skip();

 private:
  model::EfficientNetImpl& model_;
  torch::optim::Optimizer& optimizer_;
  distributed::GradientSynchronizer& sync_;
  GradScaler& scaler_;
  std::vector<at::Tensor>& trainable_;
  ForwardOptions fwd_;
  TrainStepOptions o_;
};

}  // namespace finch::train
