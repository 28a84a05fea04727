#include <gtest/gtest.h>
#include <torch/torch.h>

#include "finch/model/batchnorm.h"

using namespace finch::model;

namespace {
struct Identity final : CrossReplicaSum {
  void sum(at::Tensor&) override {}
};
}  // namespace

// With one replica SyncBatchNorm must be BatchNorm exactly: outputs, input/weight/bias gradients,
// running statistics.
TEST(SyncBatchNorm, OneReplicaIsPlainBatchNorm) {
  for (auto shape : {std::vector<int64_t>{3, 4, 1, 1}, std::vector<int64_t>{4, 3, 5, 5}, std::vector<int64_t>{2, 6, 2, 3}}) {
    torch::manual_seed(3);
    const auto x0 = torch::randn(shape, torch::kDouble) * 3 + 1;
    const auto g = torch::randn(shape, torch::kDouble);
    BatchNorm2d a(shape[1], 1e-5, 0.1), b(shape[1], 1e-5, 0.1);
    a->to(torch::kDouble);
    b->to(torch::kDouble);
    torch::NoGradGuard ng;
    a->weight.uniform_(0.5, 1.5);
    b->weight.copy_(a->weight);
    a->bias.uniform_(-1, 1);
    b->bias.copy_(a->bias);
    {
      torch::AutoGradMode on(true);
      auto xa = x0.clone().requires_grad_(true), xb = x0.clone().requires_grad_(true);
      b->sync = std::make_shared<Identity>();
      const auto ya = a->forward(xa), yb = b->forward(xb);
      EXPECT_LE((ya - yb).abs().max().item<double>(), 1e-10);
      (ya * g).sum().backward();
      (yb * g).sum().backward();
      EXPECT_LE((xa.grad() - xb.grad()).abs().max().item<double>(), 1e-10) << "input gradient, shape " << shape;
      EXPECT_LE((a->weight.grad() - b->weight.grad()).abs().max().item<double>(), 1e-10);
      EXPECT_LE((a->bias.grad() - b->bias.grad()).abs().max().item<double>(), 1e-10);
    }
    EXPECT_LE((a->running_mean - b->running_mean).abs().max().item<double>(), 1e-10);
    EXPECT_LE((a->running_var - b->running_var).abs().max().item<double>(), 1e-10);
    EXPECT_EQ(a->num_batches_tracked.item<int64_t>(), b->num_batches_tracked.item<int64_t>());
  }
}
