// Learning-rate schedules, stepped once per epoch and checkpointed with the run:
//   none     constant
//   step     lr * gamma^(epoch / step_size)                       (torch StepLR)
//   cosine   linear warmup, then cosine down to min_lr             (per epoch)
//   plateau  torch.optim.lr_scheduler.ReduceLROnPlateau, same semantics (mode, threshold rel/abs,
//            patience, cooldown, min_lr, eps 1e-8), driven by a metric reduced over all ranks
// or, with scheduler.per_step, once per optimizer step as timm's schedulers with sched_on_updates
// (StepLRScheduler, CosineLRScheduler, PolyLRScheduler; one cycle, k_decay 1, no noise): a linear
// warmup from warmup_lr over warmup_epochs x the updates of an epoch, then the decay, over the
// run's updates (less the warmup's with warmup_prefix, so that the decay ends with the run; timm's
// create_scheduler_v2 lengthens the run by the warmup instead). The step is the position in the
// run (epoch x updates per epoch + the update within it), so a resume, on any world size, goes on
// with the LR the position has.
// And early stopping on a validation metric. Both are plain state machines: the trainer feeds them
// the *global* metric on rank 0 and broadcasts what they decide.
#pragma once

#include <cstdint>
#include <limits>

#include <nlohmann/json.hpp>

#include "finch/core/config.h"

namespace finch::train {

class LrSchedule {
 public:
  LrSchedule(const SchedulerConfig& config, double base_lr, int epochs);
  // LR for `epoch` (0-based) for none/step/cosine; the current LR for plateau.
  double lr_at(int epoch) const;
  // per_step: the LR of update `t` (0-based: the optimizer steps before it) of a run with
  // `per_epoch` updates an epoch.
  double lr_at_update(int64_t t, int64_t per_epoch) const;
  bool per_step() const { return c_.per_step; }
  // plateau: feed the epoch's metric; returns the LR for the next epoch.
  double observe(double metric);
  bool metric_driven() const { return c_.name == SchedulerKind::kPlateau; }

  nlohmann::json state() const;
  void load(const nlohmann::json& state);

 private:
  bool is_better(double a, double best) const;
  SchedulerConfig c_;
  double base_lr_;
  int epochs_;
  double lr_;
  double best_;
  int bad_epochs_ = 0;
  int cooldown_counter_ = 0;
};

class EarlyStopping {
 public:
  explicit EarlyStopping(const EarlyStoppingConfig& config);
  // Returns true when `metric` is a new best.
  bool observe(double metric, int epoch);
  bool should_stop() const { return c_.enabled && bad_epochs_ >= c_.patience; }
  double best() const { return best_; }
  int best_epoch() const { return best_epoch_; }
  bool has_best() const { return best_epoch_ >= 0; }

  nlohmann::json state() const;
  void load(const nlohmann::json& state);

 private:
  EarlyStoppingConfig c_;
  double best_;
  int best_epoch_ = -1;
  int bad_epochs_ = 0;
};

}  // namespace finch::train
