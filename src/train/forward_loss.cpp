#include "finch/train/forward_loss.h"

#include <torch/torch.h>

#include "finch/core/torch_compat.h"

namespace finch::train {

at::Tensor model_input(const at::Tensor& images, const ForwardOptions& o) {
  auto x = images.to(o.device, /*non_blocking=*/true);
  return o.channels_last ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
}

ForwardOutput forward_loss(model::EfficientNetImpl& model, const data::Batch& batch, const ForwardOptions& o, const at::Tensor& soft_targets) {
  namespace F = torch::nn::functional;
  ForwardOutput out;
  const auto x = model_input(batch.images, o);
  out.labels = batch.labels.to(o.device, /*non_blocking=*/true);
  compat::CudaAutocast autocast(o.amp != Amp::kNone, o.amp == Amp::kFP16 ? at::kHalf : at::kBFloat16);
  out.logits = model.forward(x).to(torch::kFloat);
  if (o.hflip_tta) out.logits = (out.logits + model.forward(x.flip({3})).to(torch::kFloat)) / 2;  // NCHW: 3 is the width
  if (soft_targets.defined()) {
    const auto per_image = torch::sum(-soft_targets * torch::log_softmax(out.logits, -1), -1);
    out.loss = o.sum ? per_image.sum() : per_image.mean();
    out.labels = soft_targets.argmax(1);
    return out;
  }
  auto options = F::CrossEntropyFuncOptions().label_smoothing(o.label_smoothing);
  if (o.sum) options.reduction(torch::kSum);
  out.loss = F::cross_entropy(out.logits, out.labels, options);
  return out;
}

}  // namespace finch::train
