#include "finch/train/grad_scaler.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

namespace finch::train {

GradScaler::GradScaler(GradScalerOptions options) : o_(options), scale_(options.enabled ? options.init_scale : 1.0) {}

at::Tensor GradScaler::scale_loss(const at::Tensor& loss) const { return o_.enabled ? loss * scale_ : loss; }

bool GradScaler::unscale_and_check(const std::vector<at::Tensor>& params, distributed::Communicator& comm) {
  if (!o_.enabled) return true;
  // One host read for all gradients, then one agreed answer over ranks.
  std::vector<at::Tensor> sums;
  for (const auto& p : params)
    if (p.grad().defined()) sums.push_back(p.grad().abs().sum().to(torch::kFloat));
  const bool local = sums.empty() || torch::stack(sums).sum().isfinite().item<bool>();
  const bool finite = comm.allreduce_value(local ? 0.0 : 1.0, distributed::ReduceOp::kMax) == 0.0;
  if (!finite) {
    scale_ *= o_.backoff_factor;
    growth_tracker_ = 0;
    ++overflows_;
    spdlog::debug("fp16 gradient overflow: loss scale now {}", scale_);
    return false;
  }
  for (const auto& p : params)
    if (p.grad().defined()) p.grad().div_(scale_);
  if (++growth_tracker_ == o_.growth_interval) {
    scale_ *= o_.growth_factor;
    growth_tracker_ = 0;
  }
  return true;
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
