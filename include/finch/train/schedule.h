// Learning-rate schedules, stepped once per epoch and checkpointed with the run:
//   none     constant
//   step     lr * gamma^(epoch / step_size)                       (torch StepLR)
//   cosine   linear warmup, then cosine down to min_lr             (per epoch)
//   plateau  torch.optim.lr_scheduler.ReduceLROnPlateau, same semantics (mode, threshold rel/abs,
//            patience, cooldown, min_lr, eps 1e-8), driven by a metric reduced over all ranks
// And early stopping on a validation metric. Both are plain state machines: the trainer feeds them
// the *global* metric on rank 0 and broadcasts what they decide.
#pragma once

#include <limits>

#include <nlohmann/json.hpp>

#include "finch/core/config.h"

namespace finch::train {

class LrSchedule {
 public:
  LrSchedule(const SchedulerConfig& config, double base_lr, int epochs);
  // LR for `epoch` (0-based) for none/step/cosine; the current LR for plateau.
  double lr_at(int epoch) const;
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
