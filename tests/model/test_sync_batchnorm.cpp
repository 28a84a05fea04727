#include <condition_variable>
#include <mutex>
#include <thread>

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

namespace {
// Two replicas in one process: each thread's sum() waits for the other's, then both get the total
// (a rendezvous, as an all-reduce is), so the SyncBatchNorm of two ranks runs on one CPU.
class TwoThreadSum {
 public:
  struct Replica final : CrossReplicaSum {
    Replica(TwoThreadSum& all, int index) : all_(all), index_(index) {}
    void sum(at::Tensor& t) override { all_.sum(index_, t); }
    int replicas() const override { return 2; }
    int replica() const override { return index_; }
    TwoThreadSum& all_;
    int index_;
  };

  void sum(int index, at::Tensor& t) {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return departing_ == 0; });  // the previous sum has been collected by both
    slot_[index] = t;
    if (++arrived_ == 2) {
      total_ = slot_[0] + slot_[1];
      arrived_ = 0;
      departing_ = 2;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return departing_ > 0; });
    }
    t.copy_(total_);
    if (--departing_ == 0) cv_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  at::Tensor slot_[2], total_;
  int arrived_ = 0, departing_ = 0;
};

// Plain BatchNorm over the whole batch in float64: the reference for every replica's slice.
struct Reference {
  torch::Tensor y, dx, dweight, dbias, running_mean, running_var;
};
Reference reference(const torch::Tensor& x, const torch::Tensor& g, const torch::Tensor& weight, const torch::Tensor& bias) {
  BatchNorm2d bn(x.size(1), 1e-5, 0.1);
  bn->to(torch::kDouble);
  {
    torch::NoGradGuard ng;
    bn->weight.copy_(weight);
    bn->bias.copy_(bias);
  }
  auto xd = x.to(torch::kDouble).detach().requires_grad_(true);
  auto y = bn->forward(xd);
  (y * g.to(torch::kDouble)).sum().backward();
  return {y.detach(), xd.grad(), bn->weight.grad(), bn->bias.grad(), bn->running_mean.clone(), bn->running_var.clone()};
}

double rel(const torch::Tensor& a, const torch::Tensor& b) {
  const auto d = a.to(torch::kDouble), e = b.to(torch::kDouble);
  return ((d - e).abs().max() / e.abs().max().clamp_min(1e-30)).item<double>();
}
}  // namespace

// Under autocast the convolution before a BatchNorm hands it bf16 while its weight stays fp32:
// torch.nn.SyncBatchNorm then returns bf16 (statistics in fp32, batch_norm_stats), and so must
// finch's, or every later layer of the block runs in fp32. The statistics are those of the bf16
// values, to fp32 precision.
TEST(SyncBatchNorm, Bf16InputKeepsItsDtypeWithFp32Statistics) {
  torch::manual_seed(5);
  const auto x = (torch::randn({4, 3, 6, 6}) * 2 + 3).to(torch::kBFloat16);
  const auto g = torch::randn({4, 3, 6, 6}).to(torch::kBFloat16);
  BatchNorm2d bn(3, 1e-5, 0.1);
  {
    torch::NoGradGuard ng;
    bn->weight.uniform_(0.5, 1.5);
    bn->bias.uniform_(-1, 1);
  }
  bn->sync = std::make_shared<Identity>();
  const auto ref = reference(x, g, bn->weight.detach(), bn->bias.detach());
  auto xb = x.clone().requires_grad_(true);
  const auto y = bn->forward(xb);
  ASSERT_EQ(y.scalar_type(), torch::kBFloat16) << "the output follows the input's dtype, as under torch.autocast";
  (y * g).sum().backward();
  ASSERT_EQ(xb.grad().scalar_type(), torch::kBFloat16);
  EXPECT_EQ(bn->weight.grad().scalar_type(), torch::kFloat);
  EXPECT_LE(rel(y, ref.y), 1e-2);  // bf16 rounding of the output
  EXPECT_LE(rel(xb.grad(), ref.dx), 2e-2);
  EXPECT_LE(rel(bn->weight.grad(), ref.dweight), 1e-4);  // reduced in fp32 from bf16 terms
  EXPECT_LE(rel(bn->running_mean, ref.running_mean), 1e-6);
  EXPECT_LE(rel(bn->running_var, ref.running_var), 1e-5);
}

// Two ranks whose batches have different means, far from zero beside their spread (mean 1000, std
// 0.01: E[x^2] - E[x]^2 in fp32 would lose every digit). Each rank's statistics about its own
// mean, gathered and combined (Chan et al.), give the whole batch's to fp32 precision: outputs,
// input gradients and running statistics as one BatchNorm over both slices.
TEST(SyncBatchNorm, TwoReplicasAreOneBatchNormOverTheWholeBatch) {
  torch::manual_seed(9);
  const int64_t C = 3;
  const auto x = torch::cat({torch::randn({3, C, 4, 4}) * 0.01 + 1000, torch::randn({5, C, 4, 4}) * 0.01 + 1000.02});
  const auto g = torch::randn({8, C, 4, 4});
  const auto weight = torch::rand({C}) + 0.5, bias = torch::rand({C});
  const auto ref = reference(x, g, weight, bias);
  TwoThreadSum all;
  std::vector<torch::Tensor> y(2), dx(2), running_mean(2), running_var(2);
  const int64_t begin[2] = {0, 3}, count[2] = {3, 5};
  auto replica = [&](int r) {
    BatchNorm2d bn(C, 1e-5, 0.1);
    {
      torch::NoGradGuard ng;
      bn->weight.copy_(weight);
      bn->bias.copy_(bias);
    }
    bn->sync = std::make_shared<TwoThreadSum::Replica>(all, r);
    auto xr = x.narrow(0, begin[r], count[r]).clone().requires_grad_(true);
    y[r] = bn->forward(xr);
    (y[r] * g.narrow(0, begin[r], count[r])).sum().backward();
    dx[r] = xr.grad();
    running_mean[r] = bn->running_mean.clone();
    running_var[r] = bn->running_var.clone();
  };
  std::thread other(replica, 1);
  replica(0);
  other.join();
  EXPECT_LE(rel(torch::cat(y), ref.y), 1e-3);
  EXPECT_LE(rel(torch::cat(dx), ref.dx), 1e-3);
  for (int r = 0; r < 2; ++r) {
    EXPECT_LE(rel(running_mean[r], ref.running_mean), 1e-6) << "rank " << r;
    EXPECT_LE(rel(running_var[r], ref.running_var), 1e-3) << "rank " << r;
  }
}

// Note [Memory format]: a channels_last model feeds SyncBatchNorm NHWC activations; its output and
// input gradient stay NHWC (no conversion before the next convolution) with the NCHW values.
TEST(SyncBatchNorm, ChannelsLastInputKeepsItsLayoutAndItsValues) {
  torch::manual_seed(4);
  const auto x0 = torch::randn({4, 6, 5, 7}) * 2 + 1;
  const auto g0 = torch::randn({4, 6, 5, 7});
  BatchNorm2d bn(6, 1e-5, 0.1);
  bn->sync = std::make_shared<Identity>();
  std::vector<at::Tensor> y, dx;
  for (const bool nhwc : {false, true}) {
    const auto format = nhwc ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
    auto x = x0.clone(format).requires_grad_(true);  // a leaf in each layout
    const auto out = bn->forward(x);
    (out * g0.contiguous(format)).sum().backward();
    if (nhwc) {
      EXPECT_TRUE(out.is_contiguous(at::MemoryFormat::ChannelsLast)) << "output strides " << out.strides();
      EXPECT_TRUE(x.grad().is_contiguous(at::MemoryFormat::ChannelsLast)) << "input gradient strides " << x.grad().strides();
    }
    y.push_back(out.detach());
    dx.push_back(x.grad());
  }
  EXPECT_LE((y[0] - y[1]).abs().max().item<float>(), 1e-5);
  EXPECT_LE((dx[0] - dx[1]).abs().max().item<float>(), 1e-5);
}
