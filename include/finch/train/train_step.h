// One optimizer step's compute, shared by the trainer and `finch bench step` (so the benchmark
// measures the code that trains): the micro-batches' forward and backward with the gradients
// all-reduced in buckets, the loss and hit sums kept on the device for one host read, then — once
// the ranks have agreed the step may be taken — unscale/check, clipping and the optimizer step.
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
class Communicator;
class GradientSynchronizer;
}  // namespace finch::distributed
namespace finch::model {
class EfficientNetImpl;
}

namespace finch::train {

class GradScaler;

struct TrainStepOptions {
  int64_t batch_size = 32;        // per rank and micro-batch: the loss is scaled so gradients average
  int accum_steps = 1;            // micro-batches per optimizer step
  double clip_grad_norm = 0.0;    // 0: off
};

struct StepSums {
  double loss_sum = 0;  // sum over this rank's images of the per-image loss
  double correct = 0;   // top-1 hits on this rank
  double images = 0;    // images this rank saw
};

class TrainStep {
 public:
  TrainStep(model::EfficientNetImpl& model, torch::optim::Optimizer& optimizer, distributed::GradientSynchronizer& sync,
            GradScaler& scaler, std::vector<at::Tensor>& trainable, ForwardOptions forward, TrainStepOptions options);

  // Forward and backward of `accum_steps` micro-batches from `next`, the gradients all-reduced on
  // the last; one host read of the sums. Throws naming the step when `next` runs dry.
  StepSums accumulate(const std::function<std::optional<data::Batch>()>& next);

  // After agreement: true when the step was taken (unscaled gradients finite on every rank, then
  // clipped and applied); false when fp16 overflowed somewhere (every rank skips). Collective.
  bool apply(distributed::Communicator& comm);
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
