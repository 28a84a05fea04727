// What a training run reports, in one place: the log lines (rank 0's train.log and terminal) and
// the records of metrics.jsonl (start, step, epoch, nan, test, end; report/ reads them back).
// Every `every_steps` optimizer steps (and at an epoch's last) the loss and image counts since the
// last report are summed over ranks (a collective) and shown as a progress bar (a terminal) or a
// log line; fp16 runs add the loss scaler's scale and overflow count.
#pragma once

#include <chrono>
#include <memory>
#include <cstdint>
#include <optional>
#include <string>

#include <c10/core/Device.h>

#include "finch/core/clock.h"
#include "finch/core/config.h"
#include "finch/core/metrics.h"
#include "finch/core/progress_bar.h"
#include "finch/data/dataset.h"
#include "finch/distributed/communicator.h"
#include "finch/model/efficientnet.h"
#include "finch/train/decisions.h"
#include "finch/train/evaluate.h"
#include "finch/train/grad_scaler.h"

namespace finch::train {

struct RunLogOptions {
  int every_steps = 10;       // logging.every_steps
  bool progress_bar = false;  // rank 0 draws a bar on stderr instead of step lines
};

// One epoch's outcome, as the trainer knows it at the epoch end.
struct EpochReport {
  int epoch = 0;
  int64_t global_step = 0;
  EpochMetrics metrics;  // reduced over ranks
  EvalTotals val;        // empty without a validation split; the EMA's with train.ema
  bool has_val = false;
  bool val_is_ema = false;
  std::optional<EvalTotals> model_val;  // train.ema.validate=both: the raw weights' validation
  double lr_used = 0, next_lr = 0;
  bool improved = false;
  bool has_best = false;
  double best = 0;
  int best_epoch = -1;
  double skipped = 0;    // images left out (data.on_error=skip), all ranks
  bool partial = false;  // stopped by train.max_steps
  double seconds = 0;
  double data_wait = 0;  // share of the training steps' time spent waiting for data (the slowest rank's)
};

class RunLog {
 public:
  // `metrics` is rank 0's metrics.jsonl (a disabled writer elsewhere).
  RunLog(distributed::Communicator& comm, MetricsWriter& metrics, RunLogOptions options);

  void start(const Config& config, const data::DatasetBundle& data, const model::EfficientNetImpl& model, int64_t buckets,
             c10::Device device, const std::string& resumed_from, int64_t steps_per_epoch, int64_t first_step = 1);

  void start_epoch(int epoch, int64_t steps);
  // After each optimizer step of the epoch (`step`: 0-based within it). Collective on reporting steps.
  void step(int64_t step, int64_t global_step, double loss_sum, double images, double lr, const GradScaler& scaler);
  void end_steps();  // ends the bar's line
  void epoch(const EpochReport& report);

  void nonfinite(int epoch, int64_t step, int64_t global_step, const std::string& ranks, OnNan action);
  // `ema`: the weights evaluated are the EMA's (train.ema).
  void test(const EvalTotals& totals, int weights_epoch, bool synthetic, bool ema = false);
  void end(const std::string& reason, int64_t steps, double wall_s, const std::string& run_dir);

 private:
  distributed::Communicator& comm_;
  MetricsWriter& metrics_;
  RunLogOptions o_;
  int epoch_ = 0;
  int64_t steps_ = 0;                 // optimizer steps in this epoch
  double loss_sum_ = 0, images_ = 0;  // this rank's, since the last report
  Clock::time_point since_;           // the last report
  std::unique_ptr<ProgressBar> bar_;  // this epoch's (drawing nothing unless logging.progress draws one)
  std::string bar_extra_;             // the last logged loss and speed, shown on the bar
};

}  // namespace finch::train
