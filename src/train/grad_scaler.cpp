#include "finch/train/grad_scaler.h"

#include <spdlog/spdlog.h>
#include <ATen/ATen.h>

#include "finch/train/grads.h"

namespace finch::train {

GradScaler::GradScaler(GradScalerOptions options) : o_(options), scale_(options.enabled ? options.init_scale : 1.0) {}

at::Tensor GradScaler::scale_loss(const at::Tensor& loss) const { return o_.enabled ? loss * scale_ : loss; }

at::Tensor GradScaler::unscale_(const std::vector<at::Tensor>& params) const {
  if (!o_.enabled) return {};
  std::vector<at::Tensor> grads = grads_of(params);
  if (grads.empty()) return {};
  const auto on = grads.front().options().dtype(at::kFloat);
  auto found_inf = at::zeros({1}, on);
  if (grads.front().is_cuda()) {
    at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf, at::full({1}, 1.0 / scale_, on));
    return found_inf;
  }
  // Elsewhere (the CPU has no fused kernel in LibTorch 1.13): a sum per gradient carries any inf/NaN.
  std::vector<at::Tensor> sums;
  sums.reserve(grads.size());
  for (auto& g : grads) {
    g.mul_(1.0 / scale_);
    sums.push_back(g.sum().to(at::kFloat));
  }
  return at::stack(sums).sum().isfinite().logical_not().to(at::kFloat).reshape({1});
}

void GradScaler::update(bool found_inf_anywhere) {
  if (!o_.enabled) return;
  if (found_inf_anywhere) {
    scale_ *= o_.backoff_factor;
    growth_tracker_ = 0;
    ++overflows_;
    spdlog::debug("fp16 gradient overflow: loss scale now {}", scale_);
    return;
  }
  if (++growth_tracker_ == o_.growth_interval) {
    scale_ *= o_.growth_factor;
    growth_tracker_ = 0;
  }
}

nlohmann::json GradScaler::state() const { return {{"enabled", o_.enabled}, {"scale", scale_}, {"growth_tracker", growth_tracker_}}; }

void GradScaler::load(const nlohmann::json& s) {
  // A run resumed without fp16 stays unscaled; one resumed with fp16 from a run without it starts
  // from init_scale. (Checkpoints of finch before 0.2 hold a bare scale, 1 when fp16 was off.)
  if (!o_.enabled || !s.value("enabled", s.value("scale", 1.0) != 1.0)) return;
  scale_ = s.at("scale").get<double>();
  growth_tracker_ = s.value("growth_tracker", int64_t{0});
}

}  // namespace finch::train
