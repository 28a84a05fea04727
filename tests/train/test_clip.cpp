// Gradient clipping on the device gives LibTorch's clip_grad_norm_ to the bit (that version reads
// the norm back to the host every step; the trainer's does not).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "finch/train/grads.h"

namespace {

std::vector<at::Tensor> params_with_grads(double grad_scale) {
  torch::manual_seed(7);
  std::vector<at::Tensor> ps;
  for (const auto& shape : std::vector<std::vector<int64_t>>{{32, 3, 3, 3}, {32}, {200, 1280}, {7}}) {
    auto p = torch::zeros(shape, torch::requires_grad());
    p.mutable_grad() = torch::randn(shape) * grad_scale;
    ps.push_back(p);
  }
  ps.push_back(torch::zeros({5}, torch::requires_grad()));  // no gradient: skipped, as torch skips it
  return ps;
}

}  // namespace

TEST(ClipGradNorm, OnTheDeviceIsLibTorchsClipToTheBit) {
  for (const double max_norm : {0.5, 1.0, 1e6}) {  // clipped hard, clipped, left alone
    auto ours = params_with_grads(0.1);
    auto theirs = params_with_grads(0.1);
    finch::train::clip_grad_norm_on_device(ours, max_norm);
    torch::nn::utils::clip_grad_norm_(theirs, max_norm);
    for (size_t i = 0; i + 1 < ours.size(); ++i) EXPECT_TRUE(torch::equal(ours[i].grad(), theirs[i].grad())) << "max_norm " << max_norm << ", tensor " << i;
    EXPECT_FALSE(ours.back().grad().defined());
  }
  // The clipped norm is max_norm (within the 1e-6 torch adds); left alone, the gradients are unchanged.
  auto ps = params_with_grads(0.1);
  finch::train::clip_grad_norm_on_device(ps, 1.0);
  std::vector<at::Tensor> norms;
  for (size_t i = 0; i + 1 < ps.size(); ++i) norms.push_back(ps[i].grad().norm());
  EXPECT_NEAR(torch::stack(norms).norm().item<double>(), 1.0, 1e-5);
  auto untouched = params_with_grads(0.1), reference = params_with_grads(0.1);
  finch::train::clip_grad_norm_on_device(untouched, 1e6);
  EXPECT_TRUE(torch::equal(untouched[2].grad(), reference[2].grad()));
}
