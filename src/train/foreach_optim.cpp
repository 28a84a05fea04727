#include "finch/train/foreach_optim.h"

#include <cmath>
#include <map>

#include <ATen/ATen.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include "finch/core/torch_compat.h"

namespace finch::train {
namespace {

using TensorList = std::vector<at::Tensor>;

// LibTorch's Adam and AdamW step (the same arithmetic in the same order), one multi-tensor op per
// line for all the parameters of a group that share a step count (all of them, unless some had no
// gradient on some step). kDecoupled: AdamW's weight decay on the parameter, else Adam's on the
// gradient.
template <class Base, class Options, class State, bool kDecoupled>
class ForeachAdamT final : public Base {
 public:
  using Base::Base;

  at::Tensor step(torch::optim::Optimizer::LossClosure closure = nullptr) override {
    for (const auto& group : this->param_groups())
      if (closure || static_cast<const Options&>(group.options()).amsgrad()) return Base::step(closure);  // finch sets neither
    torch::NoGradGuard no_grad;
    auto& state = this->state();
    for (auto& group : this->param_groups()) {
      const auto& o = static_cast<const Options&>(group.options());
      struct Lists {
        TensorList params, grads, exp_avg, exp_avg_sq;
      };
      std::map<int64_t, Lists> by_step;
      for (const auto& p : group.params()) {
        if (!p.grad().defined()) continue;
        const auto key = compat::optimizer_state_key(p);
        if (state.find(key) == state.end()) {
          auto s = std::make_unique<State>();
          s->step(0);
          s->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
          s->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
          state[key] = std::move(s);
        }
        auto& s = static_cast<State&>(*state.at(key));
        s.step(s.step() + 1);
        auto& l = by_step[s.step()];
        l.params.push_back(p);
        l.grads.push_back(p.grad());
        l.exp_avg.push_back(s.exp_avg());
        l.exp_avg_sq.push_back(s.exp_avg_sq());
      }
      const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
      for (auto& [step, l] : by_step) {
        const double bias_correction1 = 1 - std::pow(beta1, step), bias_correction2 = 1 - std::pow(beta2, step);
        TensorList grads = l.grads;
        if (o.weight_decay() != 0) {
          if (kDecoupled) at::_foreach_mul_(l.params, 1 - o.lr() * o.weight_decay());
          else grads = at::_foreach_add(l.grads, l.params, o.weight_decay());
        }
        at::_foreach_mul_(l.exp_avg, beta1);
        at::_foreach_add_(l.exp_avg, grads, 1 - beta1);
        at::_foreach_mul_(l.exp_avg_sq, beta2);
        at::_foreach_addcmul_(l.exp_avg_sq, grads, grads, 1 - beta2);
        TensorList denom = at::_foreach_sqrt(l.exp_avg_sq);
        at::_foreach_div_(denom, std::sqrt(bias_correction2));
        at::_foreach_add_(denom, o.eps());
        at::_foreach_addcdiv_(l.params, l.exp_avg, denom, -(o.lr() / bias_correction1));
      }
    }
    return {};
  }
};

// LibTorch's SGD step (weight decay on the gradient, momentum buffer started as a copy of the
// first gradient, dampening, Nesterov), one multi-tensor op per line for a group.
class ForeachSgd final : public torch::optim::SGD {
 public:
  using SGD::SGD;

  at::Tensor step(LossClosure closure = nullptr) override {
    if (closure) return SGD::step(closure);  // finch passes none
    torch::NoGradGuard no_grad;
    auto& state = this->state();
    for (auto& group : param_groups()) {
      const auto& o = static_cast<const torch::optim::SGDOptions&>(group.options());
      TensorList params, d_p;
      for (const auto& p : group.params())
        if (p.grad().defined()) params.push_back(p), d_p.push_back(p.grad());
      if (params.empty()) continue;
      if (o.weight_decay() != 0) d_p = at::_foreach_add(d_p, params, o.weight_decay());
      if (o.momentum() != 0) {
        TensorList bufs, grown, grown_d_p;  // grown: buffers that already exist, updated in place
        for (size_t i = 0; i < params.size(); ++i) {
          const auto key = compat::optimizer_state_key(params[i]);
          const auto it = state.find(key);
          if (it == state.end()) {
            auto s = std::make_unique<torch::optim::SGDParamState>();
            s->momentum_buffer(torch::clone(d_p[i]).detach());
            bufs.push_back(s->momentum_buffer());
            state[key] = std::move(s);
          } else {
            auto& buf = static_cast<torch::optim::SGDParamState&>(*it->second).momentum_buffer();
            bufs.push_back(buf);
            grown.push_back(buf);
            grown_d_p.push_back(d_p[i]);
          }
        }
        if (!grown.empty()) {
          at::_foreach_mul_(grown, o.momentum());
          at::_foreach_add_(grown, grown_d_p, 1 - o.dampening());
        }
        d_p = o.nesterov() ? at::_foreach_add(d_p, bufs, o.momentum()) : bufs;
      }
      at::_foreach_add_(params, d_p, -1 * o.lr());
    }
    return {};
  }
};

template <class Opt, class Options>
std::unique_ptr<torch::optim::Optimizer> make(const std::vector<torch::optim::OptimizerParamGroup>& groups, const Options& defaults) {
  return std::make_unique<Opt>(groups, defaults);
}

}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_foreach_adam(const std::vector<torch::optim::OptimizerParamGroup>& groups,
                                                           const torch::optim::AdamOptions& defaults) {
  return make<ForeachAdamT<torch::optim::Adam, torch::optim::AdamOptions, torch::optim::AdamParamState, false>>(groups, defaults);
}
std::unique_ptr<torch::optim::Optimizer> make_foreach_adamw(const std::vector<torch::optim::OptimizerParamGroup>& groups,
                                                            const torch::optim::AdamWOptions& defaults) {
  return make<ForeachAdamT<torch::optim::AdamW, torch::optim::AdamWOptions, torch::optim::AdamWParamState, true>>(groups, defaults);
}
std::unique_ptr<torch::optim::Optimizer> make_foreach_sgd(const std::vector<torch::optim::OptimizerParamGroup>& groups,
                                                          const torch::optim::SGDOptions& defaults) {
  return make<ForeachSgd>(groups, defaults);
}

}  // namespace finch::train
