// The training step's parts, assembled once for the trainer and for `finch bench step/e2e`.
//
// Note [One step assembly]
// build_step_parts, connect_step_parts, set_step_lr and take_step are the only way finch builds
// and takes a training step: the trainer (train/trainer.cpp) and the benchmarks (cli/bench_rig.h)
// both call them, so a benchmark measures exactly the step that trains (model, channels-last
// parameters, the trainable list, the step's LR, the synchronizer with the prescaled loss, the
// agreement, clipping, the optimizer) and a change lands in both at once.
// e2e.np2.bench_matches_train checks it: `finch bench e2e --config` and `finch train` with the same
// config (a per-step schedule with warmup among it) end with bitwise the same weights.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <c10/core/Device.h>

#include "finch/core/config.h"
#include "finch/model/efficientnet.h"
#include "finch/train/decisions.h"
#include "finch/train/forward_loss.h"
#include "finch/train/grad_scaler.h"
#include "finch/train/model_ema.h"
#include "finch/data/mixup.h"
#include "finch/train/train_step.h"

namespace torch::optim {
class Optimizer;
}
namespace finch::distributed {
class Communicator;
class GradientSynchronizer;
}  // namespace finch::distributed

namespace finch::train {

struct StepParts {
  StepParts();
  ~StepParts();
  StepParts(const StepParts&) = delete;  // TrainStep holds references into the parts
  StepParts& operator=(const StepParts&) = delete;

  ForwardOptions forward;  // device, channels-last and autocast as the device allows, label smoothing
  std::string memory_format;  // the layout chosen and why, for the log (Note [Memory format])
  model::EfficientNet model{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::vector<double> lr_scales;  // each optimizer group's share of the schedule's LR (param_groups.h)
  GradScaler scaler;
  std::vector<at::Tensor> trainable;  // the parameters the optimizer steps and the synchronizer reduces
  std::unique_ptr<ModelEma> ema;  // train.ema.enabled: the weights' moving average (Note [EMA weights])
  std::unique_ptr<data::Mixup> mixup;  // data.mixup on (Note [Mixup and CutMix])
  std::unique_ptr<distributed::GradientSynchronizer> sync;  // by connect_step_parts
  std::unique_ptr<TrainStep> step;                          // by connect_step_parts
};

// Local (no collective, so it may fail on one rank inside run_agreed): the model as config.model
// says, its initial weights drawn from train.seed (then model.weights loaded, the freeze policy
// applied), on `device` with channels-last parameters where the forward uses them; the optimizer
// and the gradient scaler; with train.ema.enabled the EMA, a copy of the initial weights. A
// checkpoint to resume is loaded into these afterwards.
std::unique_ptr<StepParts> build_step_parts(const Config& config, const c10::Device& device);

// The LR for step `step` of `epoch` (an epoch of `per_epoch` optimizer steps), on every group at its
// scale: the schedule's per-step value with scheduler.per_step (schedule.h), else `epoch_lr` (the
// LR decided at the last epoch end). The trainer and `finch bench e2e` both set it here, before
// take_step, so a benchmark of a run takes the run's LRs (Note [One step assembly]).
void set_step_lr(StepParts& parts, const LrSchedule& schedule, double epoch_lr, int epoch, int64_t step, int64_t per_epoch);

// Collective: every replica takes rank 0's weights and buffers (the EMA's too), SyncBN is hooked (dist.sync_bn),
// and the gradient synchronizer and the TrainStep are built over the trainable parameters.
void connect_step_parts(StepParts& parts, const Config& config, distributed::Communicator& comm);

// Where a step is in the run: its epoch and its index in the epoch as the uninterrupted run counts
// (a resumed epoch counts on from where it stopped).
struct StepPosition {
  int64_t epoch = 0;
  int64_t step = 0;
  int64_t updates = 0;  // optimizer updates applied before this step (the run's global step): the EMA's clock
};

struct TakenStep {
  StepSums sums;          // this rank's (after `before_agree`)
  StepAgreement agreed;   // every rank's answer
  bool applied = false;   // the optimizer stepped (false: a non-finite loss or fp16 overflow somewhere)
};

// Collective: one optimizer step. Dropout and stochastic depth draw from seed_stream::kStepDropout
// at (train.seed, epoch, step, rank) (Note [Where the rank enters a seed]), Mixup/CutMix from
// kMixup at the same place, so a resumed run draws
// exactly what the uninterrupted run drew; then the micro-batches from `next`, `before_agree` (the
// trainer's fault injection; may poison the loss), the agreement (finite loss, fp16 overflow, stop
// signals: StopSignals::received()), and the step applied, or skipped by every rank; an applied
// step updates the EMA as update `at.updates + 1` (Note [EMA weights]).
TakenStep take_step(StepParts& parts, distributed::Communicator& comm, uint64_t seed, StepPosition at,
                    const std::function<std::optional<data::Batch>()>& next, const std::function<void(StepSums&)>& before_agree = {});

}  // namespace finch::train
