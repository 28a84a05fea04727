#include "finch/train/model_ema.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <torch/torch.h>

#include "finch/core/error.h"
#include "finch/core/torch_compat.h"
#include "finch/model/weights.h"

namespace finch::train {

ModelEma::ModelEma(std::shared_ptr<torch::nn::Module> module, const torch::nn::Module& model, ModelEmaOptions options)
    : module_(std::move(module)), o_(options) {
  for (auto& p : module_->parameters()) p.set_requires_grad(false);
  module_->eval();
  const auto mine = model::model_state(*module_), theirs = model::model_state(model);
  if (mine.size() != theirs.size())
    throw RuntimeError(fmt::format("the EMA holds {} tensors, the model {}", mine.size(), theirs.size()));
  for (size_t i = 0; i < mine.size(); ++i) {
    if (mine[i].first != theirs[i].first || !mine[i].second.sizes().equals(theirs[i].second.sizes()))
      throw RuntimeError(fmt::format("the EMA's {} does not pair with the model's {}", mine[i].first, theirs[i].first));
    const bool averaged = mine[i].second.is_floating_point();
    (averaged ? ema_float_ : ema_other_).push_back(mine[i].second);
    (averaged ? model_float_ : model_other_).push_back(theirs[i].second.detach());
  }
  reset_to_model();
}

double ModelEma::decay_at(int64_t update) const {
  const int64_t t = std::max<int64_t>(0, update - 1);  // timm: step - update_after_step - 1
  if (t <= 0) return 0.0;
  if (!o_.warmup) return o_.decay;
  const double d = 1.0 - std::pow(1.0 + static_cast<double>(t), -2.0 / 3.0);
  return std::max(std::min(d, o_.decay), 0.0);
}

bool ModelEma::update(int64_t update) {
  if (update % o_.every_steps != 0) return false;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < ema_other_.size(); ++i) ema_other_[i].copy_(model_other_[i]);  // timm's apply_update_
  compat::foreach_lerp_(ema_float_, model_float_, 1.0 - decay_at(update));
  return true;
}

void ModelEma::reset_to_model() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < ema_float_.size(); ++i) ema_float_[i].copy_(model_float_[i]);
  for (size_t i = 0; i < ema_other_.size(); ++i) ema_other_[i].copy_(model_other_[i]);
}

io::NamedTensors ModelEma::state() const { return model::model_state(*module_); }

void ModelEma::load(const io::NamedTensors& state, const std::string& source) { model::load_weights(*module_, state, source); }

}  // namespace finch::train
