// What `finch bench step` and `finch bench e2e` train with: the trainer's own model, optimizer,
// gradient synchronizer, scaler and TrainStep, set up as finch train sets them up.
#pragma once

#include <algorithm>
#include <cmath>
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
#include "finch/model/build.h"
#include "finch/train/decisions.h"
#include "finch/train/grad_scaler.h"
#include "finch/train/optim.h"
#include "finch/train/train_step.h"

namespace finch::cli {

struct RigOptions {
  std::string arch = "efficientnet_b0";
  int classes = 200;
  int64_t batch_size = 32;
  Amp amp = Amp::kNone;
  bool channels_last = false;
  OptimizerKind optimizer = OptimizerKind::kAdam;
  double bucket_mb = 25;
};

struct StepRig {
  StepRig(const RigOptions& o, distributed::Communicator& comm, const c10::Device& device)
      : cuda(device.is_cuda()), channels_last(o.channels_last && cuda), precision(cuda ? std::string(choice_name(o.amp)) : "fp32") {
    ModelConfig mc;
    mc.arch = o.arch;
    mc.classes = o.classes;
    torch::manual_seed(1);
    model = model::build_model(mc);
    model->to(device);
    if (channels_last)
      for (auto& p : model->parameters())
        if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
    OptimizerConfig oc;
    oc.name = o.optimizer;
    optimizer = train::make_optimizer(*model, oc);
    for (auto& p : model->parameters())
      if (p.requires_grad()) trainable.push_back(p);
    sync = std::make_unique<distributed::GradientSynchronizer>(  // as the trainer's: TrainStep prescales the loss
        comm, trainable, distributed::GradientSynchronizerOptions{o.bucket_mb, /*loss_prescaled=*/true});
    scaler = std::make_unique<train::GradScaler>(train::GradScalerOptions{cuda && o.amp == Amp::kFP16});
    const train::ForwardOptions fwd{device, channels_last, cuda ? o.amp : Amp::kNone, 0.0, false};
    step = std::make_unique<train::TrainStep>(*model, *optimizer, *sync, *scaler, trainable, fwd,
                                              train::TrainStepOptions{o.batch_size, 1, 0.0});
    model->train();
  }

  // One optimizer step as the trainer takes it: accumulate (one host read), agree (loss finite, fp16
  // overflow), apply.
  void take(distributed::Communicator& comm, const std::function<std::optional<data::Batch>()>& next) {
    const auto sums = step->accumulate(next);
    if (const auto agreed = train::agree_step(comm, std::isfinite(sums.loss_sum), 0, sums.overflow); agreed.nonfinite_ranks.empty())
      step->apply(agreed.overflow);
    else step->skip();
  }

  bool cuda, channels_last;
  std::string precision;  // what the step computes in: fp32 on the CPU, else --amp
  model::EfficientNet model{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::vector<at::Tensor> trainable;
  std::unique_ptr<distributed::GradientSynchronizer> sync;
  std::unique_ptr<train::GradScaler> scaler;
  std::unique_ptr<train::TrainStep> step;
};

// The options every training benchmark takes for its rig.
inline void add_rig_options(CLI::App* app, RigOptions& o) {
  app->add_option("--arch", o.arch, "EfficientNet variant")->capture_default_str();
  app->add_option("--batch-size", o.batch_size, "Images per rank and step")->capture_default_str();
  add_choice_option(app, "--amp", o.amp, "Autocast on a GPU: none, bf16 or fp16 (the CPU runs fp32)");
  app->add_flag("--channels-last", o.channels_last, "NHWC input and weights (a GPU)");
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
