// An exponential moving average of a model's weights, as timm's ModelEmaV3.
//
// Note [EMA weights]
// With train.ema.enabled the run keeps a second copy of the model, `module()`, updated after
// optimizer updates (take_step, every train.ema.every_steps-th): each floating-point parameter and
// buffer moves towards the model's by 1 - decay, integer buffers (BatchNorm's num_batches_tracked)
// are copied, as ModelEmaV3.apply_update_. The decay at the run's update t (1-based, the global
// step after the update) is timm's get_decay: 0 at t = 1 (a copy), then `decay`, or with warmup
// min(decay, 1 - (1 + t - 1)^(-2/3)). Every rank holds the same parameters, so the EMA's
// parameters agree without a collective; its BatchNorm buffers follow each rank's own and are
// averaged where the model's are (dist.broadcast_buffers: epoch ends, mid-epoch checkpoints), or,
// with Precise BN (train.precise_bn_batches), recomputed at epoch ends for the EMA's own weights
// (timm has no Precise BN; the statistics validated then belong to the weights validated).
// What the EMA changes elsewhere: validation evaluates it (and so the best checkpoint, early
// stopping and ReduceLROnPlateau follow its metric), the best weights kept for the test are its,
// checkpoints hold it as ema.safetensors (train/checkpointer.cpp), and eval/predict load it unless
// --no-ema (train/checkpoint_model.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "finch/io/named_tensors.h"

namespace finch::train {

struct ModelEmaOptions {
  double decay = 0.9998;
  bool warmup = false;    // timm's use_warmup (warmup_gamma 1, warmup_power 2/3, min_decay 0)
  int every_steps = 1;
};

class ModelEma {
 public:
  // `module` is a model of the same architecture as `model` (its own parameters, on the same
  // device); it takes `model`'s weights and buffers now and is kept in eval mode. The EMA follows
  // `model` from now on: both models' tensors are paired once here (no per-step lookup), so
  // `model`'s tensors must be updated in place (optimizer steps, load_weights, set_data do).
  ModelEma(std::shared_ptr<torch::nn::Module> module, const torch::nn::Module& model, ModelEmaOptions options);

  // timm's ModelEmaV3.get_decay for the run's `update`-th optimizer update (1-based).
  double decay_at(int64_t update) const;

  // After the run's `update`-th optimizer update: the average moves towards the model, when
  // `update` is a multiple of every_steps. Returns whether it did.
  bool update(int64_t update);

  // The average starts again from the model (a resumed checkpoint without EMA weights).
  void reset_to_model();

  torch::nn::Module& module() { return *module_; }
  const ModelEmaOptions& options() const { return o_; }

  // The average's parameters and buffers (model_state order; the tensors themselves).
  io::NamedTensors state() const;
  // Loads a saved average; RuntimeError naming `source` when it does not fit the model.
  void load(const io::NamedTensors& state, const std::string& source);

 private:
  std::shared_ptr<torch::nn::Module> module_;
  ModelEmaOptions o_;
  // The two models' tensors, paired in model_state order: floating point ones (averaged) and the
  // others (copied, as num_batches_tracked).
  std::vector<at::Tensor> ema_float_, model_float_, ema_other_, model_other_;
};

}  // namespace finch::train
