#include <gtest/gtest.h>

#include "finch/distributed/communicator.h"
#include "finch/train/decisions.h"

using namespace finch;

// Ranks see different local metrics; the decision is taken once on the global ones and every rank
// applies the same LR and stop.
TEST(Decisions, RanksWithDifferentLocalMetricsTakeTheSameDecision) {
  auto comm = distributed::make_mpi_communicator();
  const int r = comm->rank(), W = comm->size();
  SchedulerConfig sc;
  sc.name = SchedulerKind::kPlateau;
  sc.mode = MetricMode::kMax;
  sc.patience = 0;
  sc.factor = 0.5;
  EarlyStoppingConfig ec;
  ec.patience = 2;
  train::LrSchedule schedule(sc, 0.1, 20);
  train::EarlyStopping stopper(ec);
  // A reference that sees the global numbers directly (kept on every rank, never communicated).
  train::LrSchedule ref_schedule(sc, 0.1, 20);
  train::EarlyStopping ref_stopper(ec);
  // Rank r: 10 + r validation images; correct counts chosen so that ranks disagree locally.
  const std::vector<std::vector<double>> correct_by_epoch = {{5, 9}, {7, 2}, {3, 9}, {6, 3}, {1, 1}};
  for (int epoch = 0; epoch < static_cast<int>(correct_by_epoch.size()); ++epoch) {
    train::LocalSums local;
    local.val_count = 10 + r;
    local.val_correct = correct_by_epoch[epoch][r % 2];
    local.val_loss_sum = 1.0 * (r + 1);
    local.train_count = 1;
    const auto m = train::reduce_epoch_metrics(*comm, local);
    double total_correct = 0, total_count = 0;
    for (int q = 0; q < W; ++q) total_correct += correct_by_epoch[epoch][q % 2], total_count += 10 + q;
    ASSERT_DOUBLE_EQ(m.val_acc, total_correct / total_count) << "sums, not means of means";
    const auto d = train::decide(*comm, m, schedule, stopper, sc, ec, epoch);
    // Everyone has rank 0's decision ...
    const double lr_min = comm->allreduce_value(d.next_lr, distributed::ReduceOp::kMin);
    const double lr_max = comm->allreduce_value(d.next_lr, distributed::ReduceOp::kMax);
    EXPECT_EQ(lr_min, lr_max);
    EXPECT_EQ(comm->allreduce_value(d.stop, distributed::ReduceOp::kMin), comm->allreduce_value(d.stop, distributed::ReduceOp::kMax));
    // ... which is what the global metric implies.
    const bool improved = ref_stopper.observe(m.val_acc, epoch);
    EXPECT_DOUBLE_EQ(d.next_lr, ref_schedule.observe(m.val_acc));
    EXPECT_EQ(d.stop, ref_stopper.should_stop());
    EXPECT_EQ(d.improved, improved);
    if (d.stop) break;
  }
}

// The step's agreement: what one rank found (a non-finite loss, an fp16 overflow, a stop signal) is
// known to every rank after the one all-reduce, with the ranks named where the log names them.
TEST(Decisions, StepAgreementCarriesEachRanksFindingsToEveryRank) {
  auto comm = distributed::make_mpi_communicator();
  const int r = comm->rank(), W = comm->size();
  const auto clean = train::agree_step(*comm, true, 0, false);
  EXPECT_EQ(clean.nonfinite_ranks, "");
  EXPECT_FALSE(clean.overflow);
  EXPECT_EQ(clean.stop_signal, 0);
  EXPECT_EQ(clean.stop_rank, -1);
  // The last rank alone: overflowed, loss non-finite, received SIGTERM (15).
  const bool last = r == W - 1;
  const auto a = train::agree_step(*comm, !last, last ? 15 : 0, last);
  EXPECT_EQ(a.nonfinite_ranks, std::to_string(W - 1));
  EXPECT_TRUE(a.overflow) << "rank " << r << " did not learn of rank " << W - 1 << "'s overflow";
  EXPECT_EQ(a.stop_signal, 15);
  EXPECT_EQ(a.stop_rank, W - 1);
  // Every rank overflowed (the gradients are averaged, so in practice all ranks find it together).
  EXPECT_TRUE(train::agree_step(*comm, true, 0, true).overflow);
}
