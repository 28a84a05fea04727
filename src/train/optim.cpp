#include "finch/train/optim.h"

#include <map>

#include <fmt/format.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include "finch/core/error.h"
#include "finch/core/torch_compat.h"
#include "finch/train/foreach_optim.h"
#include "finch/train/param_groups.h"

namespace finch::train {
namespace {

// Every group gets complete options (LibTorch 2.x merges group options with the defaults).
template <class Options>
std::unique_ptr<torch::optim::OptimizerOptions> options_for(const OptimizerConfig& c, double weight_decay);

template <>
std::unique_ptr<torch::optim::OptimizerOptions> options_for<torch::optim::AdamOptions>(const OptimizerConfig& c, double wd) {
  return std::make_unique<torch::optim::AdamOptions>(
      torch::optim::AdamOptions(c.lr).betas({c.betas[0], c.betas[1]}).eps(c.eps).weight_decay(wd));
}
template <>
std::unique_ptr<torch::optim::OptimizerOptions> options_for<torch::optim::AdamWOptions>(const OptimizerConfig& c, double wd) {
  return std::make_unique<torch::optim::AdamWOptions>(
      torch::optim::AdamWOptions(c.lr).betas({c.betas[0], c.betas[1]}).eps(c.eps).weight_decay(wd));
}
template <>
std::unique_ptr<torch::optim::OptimizerOptions> options_for<torch::optim::SGDOptions>(const OptimizerConfig& c, double wd) {
  return std::make_unique<torch::optim::SGDOptions>(
      torch::optim::SGDOptions(c.lr).momentum(c.momentum).nesterov(c.nesterov).weight_decay(wd));
}

// The optimizer itself is LibTorch's with its step in multi-tensor ops (foreach_optim.h).
template <class Options, class Make>
std::unique_ptr<torch::optim::Optimizer> build(const std::vector<ParamGroupPlan>& plan, const OptimizerConfig& c, Make make) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (const auto& g : plan) {
    auto options = options_for<Options>(c, g.weight_decay);
    options->set_lr(c.lr * g.lr_scale);
    groups.emplace_back(g.params, std::move(options));
  }
  auto defaults = options_for<Options>(c, c.weight_decay);
  return make(groups, static_cast<Options&>(*defaults));
}

// The state LibTorch keeps for a parameter, as the optimizer `kind` makes it; a RuntimeError, never
// a reinterpretation, when it is another optimizer's.
template <class State>
State& state_as(torch::optim::OptimizerParamState& s, OptimizerKind kind) {
  auto* typed = dynamic_cast<State*>(&s);
  if (!typed) throw RuntimeError(fmt::format("optimizer state is not {}'s: the optimizer was built for another optimizer.name", choice_name(kind)));
  return *typed;
}

}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const torch::nn::Module& model, const OptimizerConfig& c,
                                                        std::vector<double>* lr_scales) {
  const auto plan = plan_param_groups(model, c);
  if (lr_scales) {
    lr_scales->clear();
    for (const auto& g : plan) lr_scales->push_back(g.lr_scale);
  }
  switch (c.name) {
    case OptimizerKind::kAdam: return build<torch::optim::AdamOptions>(plan, c, make_foreach_adam);
    case OptimizerKind::kAdamW: return build<torch::optim::AdamWOptions>(plan, c, make_foreach_adamw);
    case OptimizerKind::kSgd: return build<torch::optim::SGDOptions>(plan, c, make_foreach_sgd);
  }
  throw ConfigError("optimizer.name: not a known optimizer");
}

void set_lr(torch::optim::Optimizer& optimizer, double lr, const std::vector<double>& lr_scales) {
  auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(g < lr_scales.size() ? lr * lr_scales[g] : lr);
}

double get_lr(const torch::optim::Optimizer& optimizer, const std::vector<double>& lr_scales) {
  const double lr = optimizer.param_groups().front().options().get_lr();
  return lr_scales.empty() || lr_scales.front() == 0 ? lr : lr / lr_scales.front();
}

io::NamedTensors optimizer_state(torch::optim::Optimizer& optimizer, OptimizerKind kind) {
  io::NamedTensors out;
  auto& state = optimizer.state();
  const auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& params = groups[g].params();
    for (size_t i = 0; i < params.size(); ++i) {
      const auto it = state.find(compat::optimizer_state_key(params[i]));
      if (it == state.end()) continue;  // no step taken yet
      const std::string prefix = fmt::format("g{}.p{}.", g, i);
      auto save_adam = [&](auto& s) {
        out.emplace_back(prefix + "step", torch::tensor(s.step(), torch::kLong));
        out.emplace_back(prefix + "exp_avg", s.exp_avg());
        out.emplace_back(prefix + "exp_avg_sq", s.exp_avg_sq());
        if (s.max_exp_avg_sq().defined() && s.max_exp_avg_sq().numel() > 0) out.emplace_back(prefix + "max_exp_avg_sq", s.max_exp_avg_sq());
      };
      switch (kind) {
        case OptimizerKind::kAdam: save_adam(state_as<torch::optim::AdamParamState>(*it->second, kind)); break;
        case OptimizerKind::kAdamW: save_adam(state_as<torch::optim::AdamWParamState>(*it->second, kind)); break;
        case OptimizerKind::kSgd: {
          auto& s = state_as<torch::optim::SGDParamState>(*it->second, kind);
          if (s.momentum_buffer().defined()) out.emplace_back(prefix + "momentum_buffer", s.momentum_buffer());
          break;
        }
      }
    }
  }
  return out;
}

void load_optimizer_state(torch::optim::Optimizer& optimizer, OptimizerKind kind, const io::NamedTensors& saved,
                          const std::string& source) {
  std::map<std::string, at::Tensor> by_name(saved.begin(), saved.end());
  auto get = [&](const std::string& key, const at::Tensor& like) -> at::Tensor {
    const auto it = by_name.find(key);
    if (it == by_name.end()) return {};
    if (like.defined() && !it->second.sizes().equals(like.sizes()))
      throw RuntimeError(fmt::format("{}: '{}' has shape {} but the parameter has {}: not the same model or freeze policy",
                                     source, key, fmt::join(it->second.sizes(), "x"), fmt::join(like.sizes(), "x")));
    return it->second.to(like.defined() ? like.options() : it->second.options()).clone();
  };
  // A parameter's entry is whole or absent: one tensor of it alone is a damaged file.
  auto need = [&](const std::string& key, const std::string& because) -> const at::Tensor& {
    const auto it = by_name.find(key);
    if (it == by_name.end()) throw RuntimeError(fmt::format("{}: no '{}' although '{}' is there: damaged or edited", source, key, because));
    return it->second;
  };
  auto& state = optimizer.state();
  auto& groups = optimizer.param_groups();
  size_t restored = 0, params_total = 0;
  std::string first_missing;
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& params = groups[g].params();
    for (size_t i = 0; i < params.size(); ++i) {
      ++params_total;
      const std::string prefix = fmt::format("g{}.p{}.", g, i);
      const auto& p = params[i];
      if (kind == OptimizerKind::kSgd) {
        auto buf = get(prefix + "momentum_buffer", p);
        if (!buf.defined()) {
          if (first_missing.empty()) first_missing = prefix + "momentum_buffer";
          continue;
        }
        auto s = std::make_unique<torch::optim::SGDParamState>();
        s->momentum_buffer(buf);
        state[compat::optimizer_state_key(p)] = std::move(s);
        ++restored;
        continue;
      }
      auto exp_avg = get(prefix + "exp_avg", p);
      if (!exp_avg.defined()) {
        for (const char* part : {"step", "exp_avg_sq", "max_exp_avg_sq"})
          if (by_name.count(prefix + part)) need(prefix + "exp_avg", prefix + part);
        if (first_missing.empty()) first_missing = prefix + "exp_avg";
        continue;
      }
      const at::Tensor& step = need(prefix + "step", prefix + "exp_avg");
      if (step.numel() != 1 || step.item<double>() < 0)
        throw RuntimeError(fmt::format("{}: '{}' is not a step count", source, prefix + "step"));
      need(prefix + "exp_avg_sq", prefix + "exp_avg");
      auto fill = [&](auto s) {
        s->step(step.item<int64_t>());
        s->exp_avg(exp_avg);
        s->exp_avg_sq(get(prefix + "exp_avg_sq", p));
        auto mx = get(prefix + "max_exp_avg_sq", p);
        if (mx.defined()) s->max_exp_avg_sq(mx);
        state[compat::optimizer_state_key(p)] = std::move(s);
      };
      if (kind == OptimizerKind::kAdam) fill(std::make_unique<torch::optim::AdamParamState>());
      else fill(std::make_unique<torch::optim::AdamWParamState>());
      ++restored;
    }
  }
  if (restored == 0 && !saved.empty())
    throw RuntimeError(fmt::format("{}: the state does not match the optimizer '{}'", source, choice_name(kind)));
  // Every trainable parameter gets a gradient on every step, so after a step all of them have
  // state, and before one none: some but not all is a damaged file or another model.
  if (restored > 0 && restored < params_total)
    throw RuntimeError(fmt::format("{}: state for {} of the optimizer's {} parameters (no '{}'): damaged, or another model or freeze policy",
                                   source, restored, params_total, first_missing));
}

}  // namespace finch::train
