// A run's metrics.jsonl, parsed into the series the report draws and tabulates.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace finch::report {

struct EpochPoint {
  int epoch = 0;
  int64_t step = 0;
  double train_loss = 0, train_acc = 0, lr = 0, epoch_time_s = 0, images_per_s = 0;
  std::optional<double> val_loss, val_acc, val_top5;
};

struct RunMetrics {
  std::string name;  // the run directory's name
  std::string arch, freeze;
  int64_t params_total = 0, params_trainable = 0;
  int world_size = 0;
  bool synthetic = false;
  std::vector<EpochPoint> epochs;  // the latest record per epoch (a resumed run may repeat one)
  std::optional<double> test_acc, test_top5, test_mean_class_acc, test_loss;
  int best_epoch = -1;             // by val accuracy
  double wall_s = 0;               // sum over the run's segments (resumes)
  int64_t steps = 0;
  std::map<std::string, std::string> config;  // config.json flattened: "optimizer.lr" -> "0.0003" (empty without one)
};

// RuntimeError naming the file and line for a malformed line.
RunMetrics read_run_metrics(const std::string& run_dir);

}  // namespace finch::report
