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
  copy_from(model);
}

double ModelEma::decay_at(int64_t update) const {
  const int64_t t = std::max<int64_t>(0, update - 1);  // timm: step - update_after_step - 1
  if (t <= 0) return 0.0;
  if (!o_.warmup) return o_.decay;
  const double d = 1.0 - std::pow(1.0 + static_cast<double>(t), -2.0 / 3.0);
  return std::max(std::min(d, o_.decay), 0.0);
}

bool ModelEma::update(const torch::nn::Module& model, int64_t update) {
  if (update % o_.every_steps != 0) return false;
  const double weight = 1.0 - decay_at(update);
  const auto mine = model::model_state(*module_), theirs = model::model_state(model);
  if (mine.size() != theirs.size())
    throw RuntimeError(fmt::format("the EMA holds {} tensors, the model {}", mine.size(), theirs.size()));
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> ema, src;
  ema.reserve(mine.size()), src.reserve(mine.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    const at::Tensor& e = mine[i].second;
    const at::Tensor& m = theirs[i].second;
    if (e.is_floating_point()) {
      ema.push_back(e);
      src.push_back(m.detach());
    } else {
      e.copy_(m);  // num_batches_tracked, as timm's apply_update_
    }
  }
  compat::foreach_lerp_(ema, src, weight);
  return true;
}

void ModelEma::copy_from(const torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  const auto mine = model::model_state(*module_), theirs = model::model_state(model);
  if (mine.size() != theirs.size())
    throw RuntimeError(fmt::format("the EMA holds {} tensors, the model {}", mine.size(), theirs.size()));
  for (size_t i = 0; i < mine.size(); ++i) mine[i].second.copy_(theirs[i].second);
}

io::NamedTensors ModelEma::state() const { return model::model_state(*module_); }

void ModelEma::load(const io::NamedTensors& state, const std::string& source) { model::load_weights(*module_, state, source); }

}  // namespace finch::train
