// The multi-tensor optimizers give LibTorch's own Adam, AdamW and SGD step to the bit (on the CPU
// ATen runs foreach ops tensor by tensor, so any difference is a difference in the arithmetic), with
// the same state, including a parameter that missed a step (its own step count, its own group of
// the multi-tensor ops) and one in channels_last.
#include <functional>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "finch/train/foreach_optim.h"
#include "finch/train/optim.h"

using namespace finch;

namespace {

std::vector<at::Tensor> make_params() {
  torch::manual_seed(11);
  std::vector<at::Tensor> ps = {torch::randn({8, 3, 3, 3}), torch::randn({8}), torch::randn({10, 8}),
                                torch::randn({4, 8, 3, 3}).contiguous(at::MemoryFormat::ChannelsLast)};
  for (auto& p : ps) p.requires_grad_();
  return ps;
}

// Step k's gradients: the same on both sides; parameter 1 gets none on step 2.
void set_grads(std::vector<at::Tensor>& ps, int k) {
  torch::manual_seed(100 + k);
  for (size_t i = 0; i < ps.size(); ++i) {
    ps[i].mutable_grad() = torch::randn_like(ps[i]) * 0.1;
    if (i == 1 && k == 2) ps[i].mutable_grad() = at::Tensor();
  }
}

using Make = std::function<std::unique_ptr<torch::optim::Optimizer>(const std::vector<torch::optim::OptimizerParamGroup>&)>;

void expect_same_as_libtorch(const Make& libtorch, const Make& ours, OptimizerKind kind, const std::string& what) {
  auto a = make_params(), b = make_params();
  // Two groups as make_optimizer builds them (the second without weight decay).
  auto groups = [](const std::vector<at::Tensor>& ps, const torch::optim::OptimizerParamGroup& like) {
    std::vector<torch::optim::OptimizerParamGroup> g;
    g.emplace_back(std::vector<at::Tensor>{ps[0], ps[2], ps[3]}, like.options().clone());
    g.emplace_back(std::vector<at::Tensor>{ps[1]}, like.options().clone());
    return g;
  };
  auto ref = libtorch({torch::optim::OptimizerParamGroup({a[0]})});
  auto opt_a = libtorch(groups(a, ref->param_groups().front()));
  auto opt_b = ours(groups(b, ref->param_groups().front()));
  for (int k = 0; k < 5; ++k) {
    set_grads(a, k);
    set_grads(b, k);
    opt_a->step();
    opt_b->step();
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_TRUE(torch::equal(a[i], b[i])) << what << ", step " << k << ", parameter " << i << ": max difference "
                                            << (a[i] - b[i]).abs().max().item<double>();
      EXPECT_EQ(a[i].strides(), b[i].strides()) << what;
    }
  }
  const auto sa = train::optimizer_state(*opt_a, kind), sb = train::optimizer_state(*opt_b, kind);
  ASSERT_EQ(sa.size(), sb.size()) << what;
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first) << what;
    EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second)) << what << ": state " << sa[i].first;
  }
}

}  // namespace

TEST(ForeachOptimizers, AdamIsLibTorchsAdamToTheBit) {
  for (const double wd : {0.0, 0.05}) {
    const auto o = torch::optim::AdamOptions(3e-3).betas({0.9, 0.99}).eps(1e-6).weight_decay(wd);
    expect_same_as_libtorch([&](const auto& g) { return std::make_unique<torch::optim::Adam>(g, o); },
                            [&](const auto& g) { return train::make_foreach_adam(g, o); }, OptimizerKind::kAdam,
                            "adam, weight decay " + std::to_string(wd));
  }
}

TEST(ForeachOptimizers, AdamWIsLibTorchsAdamWToTheBit) {
  const auto o = torch::optim::AdamWOptions(3e-3).weight_decay(0.05);
  expect_same_as_libtorch([&](const auto& g) { return std::make_unique<torch::optim::AdamW>(g, o); },
                          [&](const auto& g) { return train::make_foreach_adamw(g, o); }, OptimizerKind::kAdamW, "adamw");
}

TEST(ForeachOptimizers, SgdIsLibTorchsSgdToTheBit) {
  for (const bool nesterov : {false, true})
    for (const double momentum : {0.0, 0.9}) {
      if (nesterov && momentum == 0) continue;
      const auto o = torch::optim::SGDOptions(0.05).momentum(momentum).nesterov(nesterov).weight_decay(1e-4);
      expect_same_as_libtorch([&](const auto& g) { return std::make_unique<torch::optim::SGD>(g, o); },
                              [&](const auto& g) { return train::make_foreach_sgd(g, o); }, OptimizerKind::kSgd,
                              "sgd, momentum " + std::to_string(momentum) + (nesterov ? ", nesterov" : ""));
    }
}
