// The forward pass that training, validation and testing share: a batch's images to the model's
// device (channels-last when asked, without blocking: the loader pins them on CUDA), the model
// under autocast when asked, and the cross-entropy loss in float32.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "finch/core/config.h"
#include "finch/data/loader.h"
#include "finch/model/efficientnet.h"

namespace finch::train {

struct ForwardOptions {
  c10::Device device = c10::kCPU;
  bool channels_last = false;   // NHWC input and weights (Note [Memory format])
  Amp amp = Amp::kNone;         // autocast dtype on CUDA; callers pass none on the CPU
  double label_smoothing = 0.0;
  bool sum = false;             // the loss summed over the batch (evaluation), not its mean
  bool hflip_tta = false;       // evaluation (eval.tta=hflip): the logits are the mean of the image's and its mirror's
};

struct ForwardOutput {
  at::Tensor logits;  // float32, N x classes
  at::Tensor loss;    // float32 scalar: mean (or sum) over the batch
  at::Tensor labels;  // on the device; with soft targets, each image's larger share (train accuracy under Mixup)
};

// The images of a batch as the model takes them.
at::Tensor model_input(const at::Tensor& images, const ForwardOptions& options);

// With `soft_targets` (N x classes: Mixup/CutMix, data/mixup.h) the loss is timm's
// SoftTargetCrossEntropy, sum(-target * log_softmax(logits)) averaged over the batch, and
// options.label_smoothing is not applied again (the targets hold it).
ForwardOutput forward_loss(model::EfficientNetImpl& model, const data::Batch& batch, const ForwardOptions& options,
                           const at::Tensor& soft_targets = {});

}  // namespace finch::train
