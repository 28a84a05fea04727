#include "finch/train/step_parts.h"

#include <cmath>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "finch/core/seed.h"
#include "finch/core/trace.h"
#include "finch/distributed/communicator.h"
#include "finch/distributed/grad_sync.h"
#include "finch/model/build.h"
#include "finch/model/weights.h"
#include "finch/train/bn_stats.h"
#include "finch/train/memory_format.h"
#include "finch/train/optim.h"
#include "finch/train/schedule.h"
#include "finch/train/stop_signals.h"

namespace finch::train {

StepParts::StepParts() = default;
StepParts::~StepParts() = default;

std::unique_ptr<StepParts> build_step_parts(const Config& c, const c10::Device& device) {
  auto parts = std::make_unique<StepParts>();
  const bool cuda = device.is_cuda();
  const MemoryFormatChoice format = choose_memory_format(c.train.channels_last, device);  // Note [Memory format]
  parts->memory_format = format.why;
  parts->forward = {device, format.channels_last, cuda ? c.train.amp : Amp::kNone, c.train.label_smoothing, false};
  seed_everything(c.train.seed);  // identical initial weights on every rank (connect_step_parts broadcasts them anyway)
  parts->model = model::build_model(c.model);
  parts->model->to(device);
  to_memory_format(*parts->model, format.channels_last);
  if (c.train.ema.enabled) {
    model::EfficientNet average(model::options_from_config(c.model));
    average->to(device);
    to_memory_format(*average, format.channels_last);  // the model's memory format, for the fused update
    parts->ema = std::make_unique<ModelEma>(average.ptr(), *parts->model,
                                            ModelEmaOptions{c.train.ema.decay, c.train.ema.warmup, c.train.ema.every_steps});
  }
  if (const auto mix = data::MixupOptions::from_config(c); mix.enabled()) parts->mixup = std::make_unique<data::Mixup>(mix);
  parts->optimizer = make_optimizer(*parts->model, c.optimizer, &parts->lr_scales);
  parts->scaler = GradScaler({parts->forward.amp == Amp::kFP16});
  return parts;
}

void set_step_lr(StepParts& parts, const LrSchedule& schedule, double epoch_lr, int epoch, int64_t step, int64_t per_epoch) {
  const double lr = schedule.per_step() ? schedule.lr_at_update(epoch * per_epoch + step, per_epoch) : epoch_lr;
  set_lr(*parts.optimizer, lr, parts.lr_scales);
}

void connect_step_parts(StepParts& parts, const Config& c, distributed::Communicator& comm) {
  if (c.dist.sync_bn && comm.size() > 1) {
    parts.model->set_sync_batchnorm(std::make_shared<CommSum>(comm));
    // Allowed (the GPU check's only two-rank run on one card uses it), but slow: say so once.
    if (comm.backend() == "mpi" && parts.forward.device.is_cuda() && comm.rank() == 0)
      spdlog::warn("dist.sync_bn with dist.backend=mpi on GPUs: every BatchNorm layer copies its statistics to the host and back "
                   "twice per step (forward and backward), ~100 round trips for B0; use dist.backend=nccl (or auto) for speed");
  }
  std::vector<at::Tensor> state;  // every replica starts from rank 0's weights and buffers
  for (const auto& [n, t] : model::model_state(*parts.model)) state.push_back(t);
  if (parts.ema)
    for (const auto& [n, t] : parts.ema->state()) state.push_back(t);
  distributed::broadcast_tensors(comm, state, 0);
  parts.trainable.clear();
  for (auto& p : parts.model->parameters())
    if (p.requires_grad()) parts.trainable.push_back(p);
  parts.sync = std::make_unique<distributed::GradientSynchronizer>(
      comm, parts.trainable, distributed::GradientSynchronizerOptions{c.dist.bucket_mb, /*loss_prescaled=*/true});
  parts.step = std::make_unique<TrainStep>(*parts.model, *parts.optimizer, *parts.sync, parts.scaler, parts.trainable, parts.forward,
                                           TrainStepOptions{c.train.batch_size, c.train.accum_steps, c.train.clip_grad_norm, parts.mixup.get()});
}

TakenStep take_step(StepParts& parts, distributed::Communicator& comm, uint64_t seed, StepPosition at,
                    const std::function<std::optional<data::Batch>()>& next, const std::function<void(StepSums&)>& before_agree) {
  torch::manual_seed(derive_seed(seed, {seed_stream::kStepDropout, static_cast<uint64_t>(at.epoch), static_cast<uint64_t>(at.step),
                                        static_cast<uint64_t>(comm.rank())}));
  TakenStep taken;
  taken.sums = parts.step->accumulate(next, derive_seed(seed, {seed_stream::kMixup, static_cast<uint64_t>(at.epoch), static_cast<uint64_t>(at.step),
                                                               static_cast<uint64_t>(comm.rank())}));
  if (before_agree) before_agree(taken.sums);
  // A non-finite loss anywhere is seen everywhere, and handled the same way everywhere.
  {
    trace::Span agree("step agreement");
    taken.agreed = agree_step(comm, std::isfinite(taken.sums.loss_sum), StopSignals::received(), taken.sums.overflow);
  }
  if (taken.agreed.nonfinite_ranks.empty()) {
    taken.applied = parts.step->apply(taken.agreed.overflow);
    if (taken.applied && parts.ema) {
      trace::Span ema("EMA update");
      parts.ema->update(at.updates + 1);
    }
  } else {
    parts.step->skip();
  }
  return taken;
}

}  // namespace finch::train
