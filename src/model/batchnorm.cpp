// SyncBatchNorm as torch.nn.SyncBatchNorm computes it: forward statistics over the global batch,
// backward with globally reduced sum(dy) and sum(dy * xhat); weight and bias gradients stay local
// (the gradient synchronizer averages them like any other parameter).
#include "finch/model/batchnorm.h"

#include <torch/autograd.h>
#include <torch/torch.h>

namespace finch::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct SyncBNFunction : public torch::autograd::Function<SyncBNFunction> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, torch::Tensor weight, torch::Tensor bias,
                               BatchNorm2dImpl* bn, CrossReplicaSum* reducer) {
    const int64_t C = x.size(1);
    const double local_n = static_cast<double>(x.numel() / std::max<int64_t>(C, 1));
    // One all-reduce of [n, sum, sum of squares about the local mean + n * local_mean^2] in double:
    // the local part of the variance is computed stably about the local mean.
    const auto xd = x.to(torch::kDouble);
    const auto local_mean = local_n > 0 ? xd.mean({0, 2, 3}) : torch::zeros({C}, xd.options());
    const auto m2 = local_n > 0 ? (xd - local_mean.view({1, C, 1, 1})).pow(2).sum({0, 2, 3}) : torch::zeros({C}, xd.options());
    auto stats = torch::cat({torch::full({1}, local_n, xd.options()), local_mean * local_n, m2 + local_mean.pow(2) * local_n});
    reducer->sum(stats);
    // The global count stays a device tensor: no host sync per BatchNorm layer.
    const auto n = stats.slice(0, 0, 1);
    const auto mean = stats.slice(0, 1, 1 + C) / n;
    const auto var = (stats.slice(0, 1 + C, 1 + 2 * C) / n - mean.pow(2)).clamp_min(0);
    const auto invstd = (var + bn->eps).rsqrt();
    {
      torch::NoGradGuard no_grad;
      const double momentum = bn->momentum;
      bn->running_mean.mul_(1 - momentum).add_(mean.to(bn->running_mean.dtype()) * momentum);
      bn->running_var.mul_(1 - momentum).add_((var * (n / (n - 1).clamp_min(1))).to(bn->running_var.dtype()) * momentum);
      bn->num_batches_tracked.add_(1);
    }
    const auto m4 = mean.to(x.dtype()).view({1, C, 1, 1}), s4 = invstd.to(x.dtype()).view({1, C, 1, 1});
    const auto xhat = (x - m4) * s4;
    ctx->save_for_backward({xhat, weight, invstd.to(x.dtype()), n});
    ctx->saved_data["reducer"] = reinterpret_cast<int64_t>(reducer);
    return xhat * weight.view({1, C, 1, 1}) + bias.view({1, C, 1, 1});
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &xhat = saved[0], &weight = saved[1], &invstd = saved[2];
    const auto& n = saved[3];
    auto* reducer = reinterpret_cast<CrossReplicaSum*>(ctx->saved_data["reducer"].toInt());
    const auto& dy = grads[0];
    const int64_t C = xhat.size(1);
    const auto sum_dy = dy.sum({0, 2, 3});
    const auto sum_dy_xhat = (dy * xhat).sum({0, 2, 3});
    auto global = torch::cat({sum_dy, sum_dy_xhat}).to(torch::kDouble);
    reducer->sum(global);
    const auto g_dy = (global.slice(0, 0, C) / n).to(dy.dtype()).view({1, C, 1, 1});
    const auto g_dy_xhat = (global.slice(0, C, 2 * C) / n).to(dy.dtype()).view({1, C, 1, 1});
    const auto dx = (dy - g_dy - xhat * g_dy_xhat) * (weight * invstd).view({1, C, 1, 1});
    return {dx, sum_dy_xhat, sum_dy, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor sync_batch_norm(const torch::Tensor& x, BatchNorm2dImpl& bn, CrossReplicaSum& reducer) {
  return SyncBNFunction::apply(x, bn.weight, bn.bias, &bn, &reducer);
}

BatchNorm2dImpl::BatchNorm2dImpl(int64_t features_, double eps_, double momentum_)
    : features(features_), eps(eps_), momentum(momentum_) {
  reset();
}

void BatchNorm2dImpl::reset() {
  weight = register_parameter("weight", torch::ones({features}));
  bias = register_parameter("bias", torch::zeros({features}));
  running_mean = register_buffer("running_mean", torch::zeros({features}));
  running_var = register_buffer("running_var", torch::ones({features}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::tensor(0, torch::kLong));
}

void BatchNorm2dImpl::pretty_print(std::ostream& stream) const {
  stream << "finch::BatchNorm2d(" << features << ", eps=" << eps << ", momentum=" << momentum << (sync ? ", sync" : "") << ")";
}

torch::Tensor BatchNorm2dImpl::forward(const torch::Tensor& x) {
  if (sync && is_training()) return sync_batch_norm(x, *this, *sync);
  if (is_training()) {
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  return torch::batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps,
                           /*cudnn_enabled=*/true);
}

}  // namespace finch::model
