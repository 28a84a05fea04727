// The trainer's step (TrainStep) on W ranks takes the step one process takes on the global batch:
// each rank's loss carries 1/(its micro-batch), 1/accum_steps and the synchronizer's 1/world (the
// buckets are then summed, not divided), so a factor missing or doubled anywhere moves the
// weights. And a step every rank skips (fp16 overflow somewhere) leaves the weights alone and
// leaves no gradient behind for the next step.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "finch/distributed/communicator.h"
#include "finch/distributed/grad_sync.h"
#include "finch/model/efficientnet.h"
#include "finch/model/weights.h"
#include "finch/train/grad_scaler.h"
#include "finch/train/train_step.h"

using namespace finch;

// Named, not anonymous: the unity build compiles this file together with test_ddp.cpp, whose
// helpers have the same names.
namespace train_step_test {

constexpr int64_t kB = 2;      // per rank and micro-batch
constexpr int kAccum = 2;      // micro-batches per step on each rank
constexpr int kSteps = 3;

// The reference: a world of one inside this rank's process (the synchronizer then reduces nothing).
class SoloCommunicator final : public distributed::Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "solo"; }
  void allreduce(std::vector<at::Tensor>&, distributed::ReduceOp) override {}
  void broadcast(std::vector<at::Tensor>&, int) override {}
  void barrier() override {}
};

model::EfficientNet make_model() {
  torch::manual_seed(4321);  // the same initial weights on every rank and for the reference
  model::EfficientNetOptions o;
  o.classes = 5;
  o.dropout = 0.0;
  o.stochastic_depth = 0.0;
  model::EfficientNet m(o);
  m->eval();  // BatchNorm on running statistics: per-rank batches normalise as the global one does
  return m;
}

// Step k's global batch, the same on every rank: W * kAccum * kB images.
data::Batch global_batch(int k, int world) {
  torch::manual_seed(500 + k);
  const int64_t n = world * kAccum * kB;
  return {torch::randn({n, 3, 32, 32}), torch::randint(0, 5, {n}, torch::kLong), torch::arange(n), 0};
}

data::Batch rows(const data::Batch& b, int64_t start, int64_t n) {
  return {b.images.narrow(0, start, n), b.labels.narrow(0, start, n), b.indices.narrow(0, start, n), 0};
}

// One replica with its optimizer, synchronizer and step, as the trainer wires them.
struct Replica {
  model::EfficientNet model = make_model();
  std::vector<at::Tensor> trainable;
  std::unique_ptr<torch::optim::SGD> opt;
  std::unique_ptr<distributed::GradientSynchronizer> sync;
  train::GradScaler scaler;
  std::unique_ptr<train::TrainStep> step;

  Replica(distributed::Communicator& comm, int64_t batch, int accum) {
    for (auto& p : model->parameters())
      if (p.requires_grad()) trainable.push_back(p);
    opt = std::make_unique<torch::optim::SGD>(trainable, torch::optim::SGDOptions(0.05).momentum(0.9));
    sync = std::make_unique<distributed::GradientSynchronizer>(comm, trainable,
                                                               distributed::GradientSynchronizerOptions{0.5, /*loss_prescaled=*/true});
    step = std::make_unique<train::TrainStep>(*model, *opt, *sync, scaler, trainable, train::ForwardOptions{},
                                              train::TrainStepOptions{batch, accum, 0.0});
  }
  // Feeds `micro` to accumulate() in order; applies unless every rank skips.
  train::StepSums take(const std::vector<data::Batch>& micro, bool skipped) {
    size_t next = 0;
    const auto sums = step->accumulate([&]() -> std::optional<data::Batch> {
      if (next == micro.size()) return std::nullopt;
      return micro[next++];
    });
    EXPECT_EQ(next, micro.size());
    EXPECT_EQ(step->apply(skipped), !skipped);
    return sums;
  }
  std::vector<at::Tensor> weights() const {
    std::vector<at::Tensor> w;
    for (const auto& p : trainable) w.push_back(p.detach().clone());
    return w;
  }
};

double max_difference(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  double d = 0;
  for (size_t k = 0; k < a.size(); ++k) d = std::max(d, (a[k] - b[k]).abs().max().item<double>());
  return d;
}

TEST(TrainStep, RanksTakeTheStepOneProcessTakesOnTheGlobalBatchAndSkipAlike) {
  auto comm = distributed::make_mpi_communicator();
  const int W = comm->size(), r = comm->rank();
  SoloCommunicator solo;
  Replica ref(solo, W * kAccum * kB, 1);  // one micro-batch: the whole global batch
  Replica dis(*comm, kB, kAccum);
  const auto initial = dis.weights();
  for (int k = 0; k < kSteps; ++k) {
    const auto g = global_batch(k, W);
    // Rank r's micro-batch m: rows (m * W + r) * kB of the global batch.
    std::vector<data::Batch> mine;
    for (int m = 0; m < kAccum; ++m) mine.push_back(rows(g, (m * W + r) * kB, kB));
    const bool skipped = k == 1;  // as when fp16 overflowed on some rank: both sides skip step 1
    const auto before = dis.weights();
    const auto ref_sums = ref.take({g}, skipped);
    const auto sums = dis.take(mine, skipped);
    EXPECT_EQ(sums.images, kAccum * kB);
    EXPECT_NEAR(comm->allreduce_value(sums.loss_sum, distributed::ReduceOp::kSum), ref_sums.loss_sum, 1e-4 * ref_sums.loss_sum);
    if (skipped) {
      EXPECT_EQ(max_difference(before, dis.weights()), 0.0) << "a skipped step changed the weights";
      for (const auto& p : dis.trainable)
        ASSERT_TRUE(!p.grad().defined() || p.grad().abs().max().item<double>() == 0.0) << "a skipped step left a gradient behind";
    }
  }
  const double moved = max_difference(initial, dis.weights());
  const double d = max_difference(ref.weights(), dis.weights());
  EXPECT_GT(moved, 1e-3) << "the steps must move the weights for the comparison to mean anything";
  EXPECT_LE(d, 2e-6) << W << " ranks against one process on the global batch (the weights moved up to " << moved << ")";
}

}  // namespace train_step_test
