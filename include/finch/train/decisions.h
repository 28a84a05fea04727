// Epoch-end decisions, taken the same way on every rank: metrics are reduced over all ranks as sums
// (never means of means), rank 0 feeds them to the LR schedule and early stopping, and broadcasts
// what they decided; every rank applies exactly that. Only rank 0's state machines are advanced
// (they are what its checkpoints save).
#pragma once

#include <string>

#include "finch/distributed/communicator.h"
#include "finch/train/schedule.h"

namespace finch::train {

struct LocalSums {
  double train_loss_sum = 0, train_correct = 0, train_count = 0;
  double val_loss_sum = 0, val_correct = 0, val_count = 0;
};

struct EpochMetrics {
  double train_loss = 0, train_acc = 0, val_loss = 0, val_acc = 0;
  double train_count = 0, val_count = 0;
  bool has_val = false;
};

EpochMetrics reduce_epoch_metrics(distributed::Communicator& comm, const LocalSums& local);

struct Decision {
  double next_lr = 0;
  bool stop = false;
  bool improved = false;
};

// What every rank must agree on before an optimizer step, in one small all-reduce: whether the
// loss was finite everywhere, whether fp16 gradients overflowed anywhere, and whether a stop signal
// reached any rank. The same answer on every rank, so every rank takes the same branch.
struct StepAgreement {
  std::string nonfinite_ranks;  // "" when the loss was finite everywhere, else "1, 3"
  bool overflow = false;        // fp16: some rank's unscaled gradients held inf/NaN (skip, back off)
  int stop_signal = 0;          // a stop signal some rank received (0: none)
  int stop_rank = -1;           // the lowest rank that received one
};
StepAgreement agree_step(distributed::Communicator& comm, bool finite, int stop_signal, bool overflow = false);

// Collective. `metrics` must already be global (reduce_epoch_metrics).
Decision decide(distributed::Communicator& comm, const EpochMetrics& metrics, LrSchedule& schedule, EarlyStopping& stopper,
                const SchedulerConfig& scheduler, const EarlyStoppingConfig& early, int epoch);

}  // namespace finch::train
