#include "finch/train/grads.h"

#include <ATen/ATen.h>

namespace finch::train {

std::vector<at::Tensor> grads_of(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> grads;
  grads.reserve(params.size());
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  return grads;
}

void clip_grad_norm_on_device(const std::vector<at::Tensor>& params, double max_norm) {
  std::vector<at::Tensor> grads = grads_of(params);
  if (grads.empty()) return;
  std::vector<at::Tensor> norms;
  if (grads.front().is_cuda()) {
    norms = at::_foreach_norm(grads);  // one multi-tensor kernel instead of one per gradient
  } else {
    norms.reserve(grads.size());
    for (const auto& g : grads) norms.push_back(g.norm(2));
  }
  const at::Tensor total = norms.size() == 1 ? norms.front() : at::stack(norms).norm(2);
  const at::Tensor coef = (max_norm / (total + 1e-6)).clamp_max(1.0);
  for (auto& g : grads) g.mul_(coef);
}

}  // namespace finch::train
