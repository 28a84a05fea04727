// What `finch bench step` and `finch bench e2e` train with: the trainer's own step parts (model,
// optimizer, gradient synchronizer, scaler, TrainStep), built and taken by the functions finch train
// uses (train/step_parts.h).
#pragma once

#include <algorithm>
#include <functional>
#include <optional>
#include <memory>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "commands.h"
#include "finch/core/config.h"
#include "finch/core/error.h"
#include "finch/distributed/communicator.h"
#include "finch/distributed/grad_sync.h"
#include "finch/train/step_parts.h"

namespace finch::cli {

struct RigOptions {
  std::string arch = "efficientnet_b0";
  int classes = 200;
  int64_t batch_size = 32;
  Amp amp = Amp::kNone;
  ChannelsLast channels_last = ChannelsLast::kAuto;  // as train.channels_last (Note [Memory format])
  OptimizerKind optimizer = OptimizerKind::kAdam;
  double bucket_mb = 25;
};

// The run config a benchmark's flags stand for (everything else at finch train's defaults).
inline Config rig_config(const RigOptions& o) {
  Config c;
  c.model.arch = o.arch;
  c.model.classes = o.classes;
  c.train.batch_size = static_cast<int>(o.batch_size);
  c.train.amp = o.amp;
  c.train.channels_last = o.channels_last;
  c.optimizer.name = o.optimizer;
  c.dist.bucket_mb = o.bucket_mb;
  return c;
}

// The trainer's step (Note [One step assembly]): its parts built and connected as finch train does,
// from a run config, and taken with train::take_step. Collective (connect_step_parts).
struct StepRig {
  StepRig(const Config& c, distributed::Communicator& comm, const c10::Device& device)
      : parts(train::build_step_parts(c, device)), seed(static_cast<uint64_t>(c.train.seed)) {
    train::connect_step_parts(*parts, c, comm);
    parts->model->train();
    precision = parts->forward.device.is_cuda() ? std::string(choice_name(parts->forward.amp)) : "fp32";
  }

  // One optimizer step as the trainer takes it at `at`.
  void take(distributed::Communicator& comm, train::StepPosition at, const std::function<std::optional<data::Batch>()>& next) {
    train::take_step(*parts, comm, seed, at, next);
  }

  bool cuda() const { return parts->forward.device.is_cuda(); }
  bool channels_last() const { return parts->forward.channels_last; }

  std::unique_ptr<train::StepParts> parts;
  uint64_t seed;
  std::string precision;  // what the step computes in: fp32 on the CPU, else --amp
};

// The options every training benchmark takes for its rig.
inline void add_rig_options(CLI::App* app, RigOptions& o) {
  app->add_option("--arch", o.arch, "EfficientNet variant")->capture_default_str();
  app->add_option("--batch-size", o.batch_size, "Images per rank and step")->capture_default_str();
  add_choice_option(app, "--amp", o.amp, "Autocast on a GPU: none, bf16 or fp16 (the CPU runs fp32)");
  // Default: auto, as finch train (Note [Memory format]); launch/compare.sh measures both layouts.
  auto* nhwc = app->add_flag_callback("--channels-last", [&o] { o.channels_last = ChannelsLast::kTrue; },
                                      "NHWC weights and input (default: auto, as train.channels_last: NHWC on a CPU with oneDNN or a GPU with cuDNN)");
  app->add_flag_callback("--no-channels-last", [&o] { o.channels_last = ChannelsLast::kFalse; }, "Contiguous NCHW weights and input")
      ->excludes(nhwc);
  add_choice_option(app, "--optimizer", o.optimizer, "adam, adamw or sgd");
  app->add_option("--bucket-mb", o.bucket_mb, "Gradient bucket size (dist.bucket_mb)")->capture_default_str();
}

// --json FILE of every benchmark (rank 0 calls it); nothing when `path` is empty.
inline void write_bench_json(const std::string& path, const nlohmann::ordered_json& result) {
  if (path.empty()) return;
  std::ofstream out(path);
  if (!(out << result.dump(2) << "\n")) throw RuntimeError(fmt::format("cannot write '{}'", path));
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace finch::cli
