#include "finch/train/train_step.h"

#include <optional>

#include <torch/torch.h>

#include "finch/core/error.h"
#include "finch/core/seed.h"
#include "finch/core/trace.h"
#include "finch/data/mixup.h"
#include "finch/distributed/grad_sync.h"
#include "finch/model/efficientnet.h"
#include "finch/train/grad_scaler.h"
#include "finch/train/grads.h"

namespace finch::train {

TrainStep::TrainStep(model::EfficientNetImpl& model, torch::optim::Optimizer& optimizer, distributed::GradientSynchronizer& sync,
                     GradScaler& scaler, std::vector<at::Tensor>& trainable, ForwardOptions forward, TrainStepOptions options)
    : model_(model), optimizer_(optimizer), sync_(sync), scaler_(scaler), trainable_(trainable), fwd_(forward), o_(options) {}

StepSums TrainStep::accumulate(const std::function<std::optional<data::Batch>()>& next, uint64_t mix_seed) {
  // Loss and hits accumulate on the device; one host read per optimizer step (not per micro-step).
  at::Tensor sums = torch::zeros({2}, torch::TensorOptions().dtype(torch::kDouble).device(fwd_.device));
  double images = 0;
  const int accum = o_.accum_steps;
  for (int micro = 0; micro < accum; ++micro) {
    std::optional<data::Batch> batch;
    {
      trace::Span wait("data wait");
      batch = next();
    }
    if (!batch) throw RuntimeError("the loader ran out of batches in the middle of a step");
    sync_.set_sync(micro == accum - 1);  // gradients are all-reduced on the last micro-batch only
    sync_.prepare();
    std::optional<trace::Span> forward;
    forward.emplace("forward");
    at::Tensor targets;  // Mixup/CutMix: the mixed images' soft targets, on the device
    if (o_.mixup) {
      batch->images = model_input(batch->images, fwd_);
      data::SeededMixDraws draws(derive_seed(mix_seed, {static_cast<uint64_t>(micro)}));
      targets = o_.mixup->apply_(batch->images, batch->labels, draws);
    }
    const auto out = forward_loss(model_, *batch, fwd_, targets);
    forward.reset();
    const double n = static_cast<double>(out.labels.size(0));
    // The mean over the rank's micro-batch, scaled so accumulated gradients average over the step,
    // and by the synchronizer's 1/world (its sum is then the ranks' average, with no pass over the
    // buckets to divide them).
    {
      trace::Span backward("backward");
      scaler_.scale_loss(out.loss * (n * sync_.loss_factor() / (static_cast<double>(o_.batch_size) * accum))).backward();
    }
    {
      trace::Span wait("gradient all-reduce wait");  // what backward did not hide
      sync_.finish();
    }
    sums += torch::stack({out.loss.detach().to(torch::kDouble) * n, out.logits.detach().argmax(1).eq(out.labels).sum().to(torch::kDouble)});
    images += n;
  }
  // fp16: unscaled in place, the inf/NaN flag joins the sums (the gradients are the ranks' average
  // by now, so what one rank finds every rank finds; the agreement still decides).
  if (const at::Tensor found_inf = scaler_.unscale_(trainable_); found_inf.defined()) sums = torch::cat({sums, found_inf.to(torch::kDouble)});
  trace::Span read("host read");
  const auto host = sums.cpu();  // the step's one host read
  const double* h = host.data_ptr<double>();
  return {h[0], h[1], images, host.numel() > 2 && h[2] != 0};
}

bool TrainStep::apply(bool overflow_anywhere) {
  scaler_.update(overflow_anywhere);
  if (overflow_anywhere) {  // fp16 overflow somewhere: every rank skips
    sync_.zero_grad();
    return false;
  }
  trace::Span span("optimizer");
  if (o_.clip_grad_norm > 0) clip_grad_norm_on_device(trainable_, o_.clip_grad_norm);
  optimizer_.step();
  sync_.zero_grad();  // in place into the buckets (the gradients stay their views)
  return true;
}

void TrainStep::skip() { sync_.zero_grad(); }

}  // namespace finch::train
