// SyncBatchNorm as torch.nn.SyncBatchNorm computes it: forward statistics over the global batch,
// backward with globally reduced sum(dy) and sum(dy * xhat); weight and bias gradients stay local
// (the gradient synchronizer averages them like any other parameter).
//
// Note [SyncBatchNorm precision]: as PyTorch's (batch_norm_stats, batch_norm_gather_stats_with_
// counts, batch_norm_elemt), the arithmetic is in the accumulation type, fp32 for fp32/bf16/fp16
// input (fp64 for fp64), and the output and the input's gradient come back in the input's dtype:
// under autocast a block's BatchNorm gets bf16 from its convolution and must hand bf16 on, or every
// later layer runs in fp32. Each rank's mean and M2 about its own mean are gathered (one sum
// all-reduce of a [ranks, 1 + 2C] matrix, each rank filling its row) and combined with Chan et al.'s
// parallel formula, which keeps fp32 exact where E[x^2] - E[x]^2 would cancel (a mean far from
// zero beside the spread). The ops are device-generic (no batch_norm_stats: it has no CPU kernel),
// so the CPU suite tests the code a GPU runs.
#include "finch/model/batchnorm.h"

#include <torch/autograd.h>
#include <torch/torch.h>

namespace finch::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

at::ScalarType accumulation_type(const torch::Tensor& x) { return x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat; }

struct SyncBNFunction : public torch::autograd::Function<SyncBNFunction> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, torch::Tensor weight, torch::Tensor bias,
                               BatchNorm2dImpl* bn, CrossReplicaSum* reducer) {
    const int64_t C = x.size(1);
    const int64_t local_n = x.numel() / std::max<int64_t>(C, 1);
    const auto acc = accumulation_type(x);
    const auto xa = x.to(acc);  // no copy for fp32 input
    // This rank's row: [n, mean (C), M2 about its own mean (C)]; the others' rows stay zero.
    auto rows = torch::zeros({reducer->replicas(), 1 + 2 * C}, xa.options());
    if (local_n > 0) {
      const auto var_mean = torch::var_mean(xa, {0, 2, 3}, /*unbiased=*/false, /*keepdim=*/false);
      auto row = rows[reducer->replica()];
      row.slice(0, 0, 1).fill_(static_cast<double>(local_n));
      row.slice(0, 1, 1 + C).copy_(std::get<1>(var_mean));
      row.slice(0, 1 + C, 1 + 2 * C).copy_(std::get<0>(var_mean) * static_cast<double>(local_n));
    }
    reducer->sum(rows);
    // The global count stays a device tensor: no host sync per BatchNorm layer.
    const auto counts = rows.slice(1, 0, 1);  // [ranks, 1]
    const auto means = rows.slice(1, 1, 1 + C), m2s = rows.slice(1, 1 + C, 1 + 2 * C);
    const auto n = counts.sum(0);  // [1]
    const auto mean = (counts * means).sum(0) / n;
    const auto var = (m2s.sum(0) + (counts * (means - mean).pow(2)).sum(0)) / n;
    const auto invstd = (var + bn->eps).rsqrt();
    {
      torch::NoGradGuard no_grad;
      const double momentum = bn->momentum;
      bn->running_mean.mul_(1 - momentum).add_(mean.to(bn->running_mean.dtype()) * momentum);
      bn->running_var.mul_(1 - momentum).add_((var * (n / (n - 1).clamp_min(1))).to(bn->running_var.dtype()) * momentum);
      bn->num_batches_tracked.add_(1);
    }
    const auto scale = invstd * weight.to(acc);
    const auto y = (xa - mean.view({1, C, 1, 1})) * scale.view({1, C, 1, 1}) + bias.to(acc).view({1, C, 1, 1});
    ctx->save_for_backward({x, weight, mean, invstd, n});
    ctx->saved_data["reducer"] = reinterpret_cast<int64_t>(reducer);
    return y.to(x.scalar_type());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1], &mean = saved[2], &invstd = saved[3], &n = saved[4];
    auto* reducer = reinterpret_cast<CrossReplicaSum*>(ctx->saved_data["reducer"].toInt());
    const auto acc = accumulation_type(x);
    const auto dy = grads[0].to(acc);
    const int64_t C = x.size(1);
    const auto xhat = (x.to(acc) - mean.view({1, C, 1, 1})) * invstd.view({1, C, 1, 1});
    const auto sum_dy = dy.sum({0, 2, 3});
    const auto sum_dy_xhat = (dy * xhat).sum({0, 2, 3});
    auto global = torch::cat({sum_dy, sum_dy_xhat});
    reducer->sum(global);
    const auto g_dy = (global.slice(0, 0, C) / n).view({1, C, 1, 1});
    const auto g_dy_xhat = (global.slice(0, C, 2 * C) / n).view({1, C, 1, 1});
    const auto dx = (dy - g_dy - xhat * g_dy_xhat) * (weight.to(acc) * invstd).view({1, C, 1, 1});
    return {dx.to(x.scalar_type()), sum_dy_xhat.to(weight.scalar_type()), sum_dy.to(weight.scalar_type()), torch::Tensor(),
            torch::Tensor()};
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
