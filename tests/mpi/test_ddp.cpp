// DDP equivalence: K steps on W ranks with per-rank batch B give the same parameters as K steps on
// one process with batch W*B (the gradient synchronizer averages exactly what one big batch would).
// Double precision, so that the check is about the algorithm rather than float summation order.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "finch/distributed/communicator.h"
#include "finch/distributed/grad_sync.h"
#include "finch/model/batchnorm.h"
#include "finch/model/efficientnet.h"
#include "finch/model/freeze.h"
#include "finch/model/weights.h"
#include "finch/train/bn_stats.h"

using namespace finch;

namespace {

constexpr int kSteps = 5;
constexpr int64_t kB = 4;  // per-rank batch

model::EfficientNet make_model() {
  torch::manual_seed(1234);  // identical initial weights everywhere
  model::EfficientNetOptions o;
  o.classes = 5;
  o.dropout = 0.0;
  o.stochastic_depth = 0.0;
  model::EfficientNet m(o);
  model::apply_freeze(*m, model::FreezePolicy::parse("last_blocks:4+bn"), false);  // frozen layers too
  m->to(torch::kDouble);
  return m;
}

// The global batch of step k, the same on every rank.
std::pair<torch::Tensor, torch::Tensor> global_batch(int k, int world) {
  torch::manual_seed(100 + k);
  return {torch::randn({kB * world, 3, 64, 64}, torch::kDouble), torch::randint(0, 5, {kB * world}, torch::kLong)};
}

void sgd_step(model::EfficientNet& m, torch::optim::SGD& opt, const torch::Tensor& x, const torch::Tensor& y,
              distributed::GradientSynchronizer* sync) {
  opt.zero_grad();
  if (sync) sync->prepare();
  (torch::nn::functional::cross_entropy(m->forward(x), y) * (sync ? sync->loss_factor() : 1.0)).backward();
  if (sync) sync->finish();
  opt.step();
}

torch::optim::SGD make_opt(model::EfficientNet& m) {
  std::vector<torch::Tensor> ps;
  for (auto& p : m->parameters())
    if (p.requires_grad()) ps.push_back(p);
  return torch::optim::SGD(ps, torch::optim::SGDOptions(0.01).momentum(0.9));
}

double max_diff(const io::NamedTensors& a, const io::NamedTensors& b) {
  double d = 0;
  std::string worst;
  for (size_t k = 0; k < a.size(); ++k)
    if (at::isFloatingType(a[k].second.scalar_type())) {
      const double dk = (a[k].second - b[k].second).abs().max().item<double>();
      if (dk > d) d = dk, worst = a[k].first;
    }
  if (d > 1e-5) {
    for (size_t k = 0; k < a.size(); ++k)
      if (a[k].first == worst) std::fprintf(stderr, "largest difference %.3g in %s (values up to %.6g)\n", d, worst.c_str(), a[k].second.abs().max().item<double>());
  }
  return d;
}

// Runs the reference (one process, batch W*B) and the distributed version; returns the largest
// difference of parameters and buffers after kSteps.
double run(bool train_mode, bool sync_bn, distributed::Communicator& comm, size_t* buckets = nullptr, bool loss_prescaled = false) {
  const int W = comm.size(), r = comm.rank();
  auto ref = make_model();
  auto dis = make_model();
  ref->train(train_mode);
  dis->train(train_mode);
  if (sync_bn) dis->set_sync_batchnorm(std::make_shared<train::CommSum>(comm));
  auto ref_opt = make_opt(ref);
  auto dis_opt = make_opt(dis);
  std::vector<torch::Tensor> trainable;
  for (auto& p : dis->parameters())
    if (p.requires_grad()) trainable.push_back(p);
  distributed::GradientSynchronizer sync(comm, trainable, {0.5, loss_prescaled});
  if (buckets) *buckets = sync.num_buckets();
  for (int k = 0; k < kSteps; ++k) {
    const auto [x, y] = global_batch(k, W);
    sgd_step(ref, ref_opt, x, y, nullptr);
    sgd_step(dis, dis_opt, x.narrow(0, r * kB, kB), y.narrow(0, r * kB, kB), &sync);
  }
  return max_diff(model::model_state(*ref), model::model_state(*dis));
}

// Every rank ends with the same parameters: compare a checksum's min and max over ranks.
void expect_identical_across_ranks(model::EfficientNet& m, distributed::Communicator& comm) {
  double sum = 0;
  for (const auto& p : m->parameters()) sum += (p.to(torch::kDouble) * (1 + torch::arange(p.numel(), torch::kDouble).view(p.sizes()) * 1e-3)).sum().item<double>();
  EXPECT_DOUBLE_EQ(comm.allreduce_value(sum, distributed::ReduceOp::kMax), comm.allreduce_value(sum, distributed::ReduceOp::kMin));
}

}  // namespace

TEST(DdpEquivalence, BatchNormInEvalMode) {
  auto comm = distributed::make_mpi_communicator();
  size_t buckets = 0;
  const double d = run(/*train_mode=*/false, /*sync_bn=*/false, *comm, &buckets);
  EXPECT_GT(buckets, 2u) << "the test must exercise several buckets";
  EXPECT_LE(d, 1e-5);
}

TEST(DdpEquivalence, BatchNormInTrainModeWithSyncBN) {
  auto comm = distributed::make_mpi_communicator();
  EXPECT_LE(run(/*train_mode=*/true, /*sync_bn=*/true, *comm), 1e-5);  // parameters and running statistics
}

// As the trainer runs it: the loss carries 1/world, the buckets are summed.
TEST(DdpEquivalence, LossPrescaledWithSyncBN) {
  auto comm = distributed::make_mpi_communicator();
  EXPECT_LE(run(/*train_mode=*/true, /*sync_bn=*/true, *comm, nullptr, /*loss_prescaled=*/true), 1e-5);
}

TEST(DdpEquivalence, WithoutSyncBNPerRankStatisticsLegitimatelyDiffer) {
  auto comm = distributed::make_mpi_communicator();
  if (comm->size() == 1) GTEST_SKIP() << "one rank: per-rank and global statistics are the same";
  EXPECT_GT(run(/*train_mode=*/true, /*sync_bn=*/false, *comm), 1e-6);
}

TEST(GradientSynchronizer, AccumulationSyncsOnlyOnTheLastMicroStepAndRanksAgree) {
  auto comm = distributed::make_mpi_communicator();
  auto m = make_model();
  m->eval();
  std::vector<torch::Tensor> trainable;
  for (auto& p : m->parameters())
    if (p.requires_grad()) trainable.push_back(p);
  distributed::GradientSynchronizer sync(*comm, trainable, {1.0});
  // Rank-specific data: gradients differ per rank until they are synchronised.
  torch::manual_seed(7 + comm->rank());
  const auto x = torch::randn({2, 3, 32, 32}, torch::kDouble);
  const auto y = torch::randint(0, 5, {2}, torch::kLong);
  sync.set_sync(false);
  sync.prepare();
  torch::nn::functional::cross_entropy(m->forward(x), y).backward();
  sync.finish();  // no-op: still local
  const auto local = trainable.back().grad().clone();
  sync.set_sync(true);
  sync.prepare();
  torch::nn::functional::cross_entropy(m->forward(x), y).backward();
  sync.finish();
  // After the synced micro-step: average over ranks of (2 x local gradient).
  auto expect = (local * 2).clone();
  comm->allreduce(expect, distributed::ReduceOp::kAvg);
  EXPECT_LE((trainable.back().grad() - expect).abs().max().item<double>(), 1e-10);
  torch::optim::SGD opt(trainable, torch::optim::SGDOptions(0.1));
  opt.step();
  expect_identical_across_ranks(m, *comm);
}

TEST(GradientSynchronizer, AParameterWithoutGradientGetsZeroOnEveryWorldSize) {
  // An unused parameter has no gradient after backward. Every world size must treat it the same
  // (a zero, as a larger world averages it), also a world of one, where nothing is reduced.
  auto comm = distributed::make_mpi_communicator();
  auto used = torch::randn({3}, torch::kDouble).requires_grad_();
  auto unused = torch::randn({2}, torch::kDouble).requires_grad_();
  distributed::GradientSynchronizer sync(*comm, {used, unused}, {1.0});
  sync.set_sync(true);
  sync.prepare();
  (used * (comm->rank() + 1.0)).sum().backward();
  sync.finish();
  ASSERT_TRUE(unused.grad().defined());
  EXPECT_EQ(unused.grad().abs().sum().item<double>(), 0.0);
  // The used one: the average over ranks of (rank + 1).
  const double mean = (comm->size() + 1) / 2.0;
  EXPECT_NEAR(used.grad()[0].item<double>(), mean, 1e-12);
}

TEST(GradientSynchronizer, GradientsAreBucketViewsThatZeroGradClearsInPlace) {
  // Three steps with different data on each rank. The averaged gradient must be exactly this step's
  // (zero_grad cleared the last one in the buffers themselves), and from the second step on every
  // gradient is the same memory (a view into its bucket: nothing allocated or copied per step).
  auto comm = distributed::make_mpi_communicator();
  const int W = comm->size();
  auto w = torch::zeros({4, 3}, torch::kDouble).requires_grad_();
  auto b = torch::zeros({3}, torch::kDouble).requires_grad_();
  distributed::GradientSynchronizer sync(*comm, {w, b}, {1.0});
  const void* w_memory = nullptr;
  for (int step = 0; step < 3; ++step) {
    sync.prepare();
    const auto x = torch::arange(12, torch::kDouble).view({4, 3}) * (comm->rank() + 1) + step;
    ((w * x).sum() + (b * (step + 1.0)).sum()).backward();
    sync.finish();
    // The average over ranks r of arange * (r + 1) + step.
    const auto expect = torch::arange(12, torch::kDouble).view({4, 3}) * ((W + 1) / 2.0) + step;
    EXPECT_LE((w.grad() - expect).abs().max().item<double>(), 1e-12) << "step " << step;
    EXPECT_LE((b.grad() - (step + 1.0)).abs().max().item<double>(), 1e-12) << "step " << step;
    if (W > 1) {
      if (step == 1) w_memory = w.grad().data_ptr();
      if (step == 2) {
        EXPECT_EQ(w.grad().data_ptr(), w_memory) << "the gradient is no longer its bucket's view";
      }
    }
    sync.zero_grad();
    if (W > 1) {
      ASSERT_TRUE(w.grad().defined());
      EXPECT_EQ(w.grad().abs().sum().item<double>(), 0.0);
    } else {
      EXPECT_FALSE(w.grad().defined()) << "a world of one drops gradients (set_to_none), as PyTorch 2's zero_grad";
    }
  }
}

// The overlap accounting bench step reports: every reducing finish() counts, the collectives' own
// time is what the MPI calls took, and the exposed part (the wait after backward) cannot exceed it
// by more than the hand-over between threads; reset starts over.
TEST(GradientSynchronizer, OverlapAccountsEveryReducingStep) {
  auto comm = distributed::make_mpi_communicator();
  auto w = torch::zeros({256, 256}).requires_grad_();
  auto b = torch::zeros({256}).requires_grad_();
  distributed::GradientSynchronizer sync(*comm, {w, b}, {0.1});
  for (int step = 0; step < 3; ++step) {
    sync.prepare();
    ((w * (step + 1.0)).sum() + b.sum()).backward();
    sync.finish();
    sync.zero_grad();
  }
  const auto o = sync.overlap();
  if (comm->size() == 1) {
    EXPECT_EQ(o.syncs, 0) << "a world of one reduces nothing";
    EXPECT_EQ(o.comm_s, 0.0);
    EXPECT_EQ(o.hidden_share(), -1.0);
  } else {
    EXPECT_EQ(o.syncs, 3);
    EXPECT_GT(o.comm_s, 0.0);
    EXPECT_GE(o.exposed_s, 0.0);
    EXPECT_GE(o.hidden_share(), 0.0);
    EXPECT_LE(o.hidden_share(), 1.0);
  }
  sync.reset_overlap();
  EXPECT_EQ(sync.overlap().syncs, 0);
  EXPECT_EQ(sync.overlap().comm_s, 0.0);
  // The share itself: 1 - exposed / comm, clamped; unknown (-1) without host-visible collectives.
  EXPECT_DOUBLE_EQ((distributed::GradientSynchronizer::Overlap{2.0, 0.5, 1}.hidden_share()), 0.75);
  EXPECT_DOUBLE_EQ((distributed::GradientSynchronizer::Overlap{1.0, 1.5, 1}.hidden_share()), 0.0);
  EXPECT_DOUBLE_EQ((distributed::GradientSynchronizer::Overlap{-1.0, 0.5, 1}.hidden_share()), -1.0);
}

TEST(GradientSynchronizer, AGradientReplacedByOtherCodeIsStillReduced) {
  // Between steps other code may replace a gradient that is a bucket view: PyTorch 2's
  // zero_grad(set_to_none=True), or a fresh tensor. Backward accumulates into what it finds, and
  // the bucket still reduces that value.
  auto comm = distributed::make_mpi_communicator();
  const double mean = (comm->size() + 1) / 2.0;
  auto w = torch::zeros({5}, torch::kDouble).requires_grad_();
  distributed::GradientSynchronizer sync(*comm, {w}, {1.0});
  for (int step = 0; step < 4; ++step) {
    if (step == 1) w.mutable_grad() = torch::full_like(w, 10.0);  // backward adds to it
    if (step == 2) w.mutable_grad() = at::Tensor();                // set_to_none
    sync.prepare();
    (w * (comm->rank() + 1.0)).sum().backward();
    sync.finish();
    EXPECT_NEAR(w.grad()[0].item<double>(), (step == 1 ? 10.0 : 0.0) + mean, 1e-12) << "step " << step;
    sync.zero_grad();
  }
}

TEST(GradientSynchronizer, TheFirstBucketIsSmallAsDdpsAndBucketsKeepParameterStrides) {
  auto comm = distributed::make_mpi_communicator();
  // Reverse registration order: c (1.2 MB) fills the first bucket (1 MiB cap) alone; b and a share
  // the second (25 MB cap).
  auto a = torch::zeros({512 * 1024}, torch::kFloat).requires_grad_();
  auto b = torch::zeros({100}, torch::kFloat).requires_grad_();
  auto c = torch::zeros({2, 3, 50, 1000}, torch::kFloat).contiguous(at::MemoryFormat::ChannelsLast).requires_grad_();
  distributed::GradientSynchronizer sync(*comm, {a, b, c}, {25.0});
  EXPECT_EQ(sync.bucket_sizes(), (std::vector<size_t>{1, 2}));
  sync.prepare();
  (a.sum() + b.sum() + (c * (comm->rank() + 1.0)).sum()).backward();
  sync.finish();
  EXPECT_EQ(c.grad().strides(), c.strides()) << "a channels_last weight gets a channels_last gradient";
  EXPECT_NEAR(c.grad().mean().item<double>(), (comm->size() + 1) / 2.0, 1e-6);
  EXPECT_NEAR(a.grad().mean().item<double>(), 1.0, 1e-6);
}

// The trainer's mode: the loss multiplied by loss_factor() (1/world) and the buckets summed gives
// the averaging mode's gradients bit for bit when the world is a power of two (division by 2^k is
// exact). Fails if the prescaled mode still divided (half) or its factor were 1 (the sum).
TEST(GradientSynchronizer, APrescaledLossGivesTheAveragedGradientsToTheBit) {
  auto comm = distributed::make_mpi_communicator();
  const int W = comm->size();
  if (W & (W - 1)) GTEST_SKIP() << "bitwise only on a power-of-two world (" << W << " ranks)";
  auto averaged = make_model(), prescaled = make_model();
  std::vector<torch::Tensor> pa, pp;
  for (auto& p : averaged->parameters())
    if (p.requires_grad()) pa.push_back(p);
  for (auto& p : prescaled->parameters())
    if (p.requires_grad()) pp.push_back(p);
  distributed::GradientSynchronizer avg_sync(*comm, pa, {0.5});
  distributed::GradientSynchronizer pre_sync(*comm, pp, {0.5, /*loss_prescaled=*/true});
  EXPECT_EQ(avg_sync.loss_factor(), 1.0);
  EXPECT_EQ(pre_sync.loss_factor(), 1.0 / W);
  torch::manual_seed(11 + comm->rank());  // rank-specific data
  const auto x = torch::randn({kB, 3, 32, 32}, torch::kDouble);
  const auto y = torch::randint(0, 5, {kB}, torch::kLong);
  for (int step = 0; step < 2; ++step) {  // the first step copies gradients into the buckets, the second accumulates there
    for (auto* s : {&avg_sync, &pre_sync}) s->prepare();
    (torch::nn::functional::cross_entropy(averaged->forward(x), y) * avg_sync.loss_factor()).backward();
    avg_sync.finish();
    (torch::nn::functional::cross_entropy(prescaled->forward(x), y) * pre_sync.loss_factor()).backward();
    pre_sync.finish();
    for (size_t k = 0; k < pa.size(); ++k)
      ASSERT_TRUE(pa[k].grad().equal(pp[k].grad())) << "parameter " << k << " step " << step << ": largest difference "
                                                    << (pa[k].grad() - pp[k].grad()).abs().max().item<double>();
    avg_sync.zero_grad();
    pre_sync.zero_grad();
  }
}
