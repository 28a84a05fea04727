#include "finch/train/decisions.h"

#include <ATen/ATen.h>

namespace finch::train {

EpochMetrics reduce_epoch_metrics(distributed::Communicator& comm, const LocalSums& l) {
  const auto g = comm.allreduce_values({l.train_loss_sum, l.train_correct, l.train_count, l.val_loss_sum, l.val_correct, l.val_count},
                                       distributed::ReduceOp::kSum);
  EpochMetrics m;
  m.train_loss = g[2] > 0 ? g[0] / g[2] : 0;
  m.train_acc = g[2] > 0 ? g[1] / g[2] : 0;
  m.train_count = g[2];
  m.val_count = g[5];
  m.has_val = g[5] > 0;
  m.val_loss = m.has_val ? g[3] / g[5] : 0;
  m.val_acc = m.has_val ? g[4] / g[5] : 0;
  return m;
}

StepAgreement agree_step(distributed::Communicator& comm, bool finite, int stop_signal, bool overflow) {
  const int W = comm.size();
  std::vector<double> v(2 * static_cast<size_t>(W) + 1, 0.0);  // [non-finite per rank..., signal per rank..., overflows]
  v[comm.rank()] = finite ? 0 : 1;
  v[W + comm.rank()] = stop_signal;
  v[2 * W] = overflow ? 1 : 0;
  v = comm.allreduce_values(v, distributed::ReduceOp::kSum);
  StepAgreement a;
  a.overflow = v[2 * W] > 0;
  for (int r = 0; r < W; ++r) {
    if (v[r] > 0) a.nonfinite_ranks += (a.nonfinite_ranks.empty() ? "" : ", ") + std::to_string(r);
    if (v[W + r] > 0 && a.stop_rank < 0) a.stop_rank = r, a.stop_signal = static_cast<int>(v[W + r]);
  }
  return a;
}

Decision decide(distributed::Communicator& comm, const EpochMetrics& m, LrSchedule& schedule, EarlyStopping& stopper,
                const SchedulerConfig& sc, const EarlyStoppingConfig& es, int epoch) {
  double values[3] = {0, 0, 0};
  if (comm.rank() == 0) {
    bool improved = false;
    if (m.has_val) improved = stopper.observe(es.monitor == Metric::kValLoss ? m.val_loss : m.val_acc, epoch);
    double next = schedule.lr_at(epoch + 1);
    if (schedule.metric_driven())
      next = schedule.observe(sc.monitor == Metric::kValLoss ? m.val_loss : sc.monitor == Metric::kValAcc ? m.val_acc : m.train_loss);
    values[0] = next;
    values[1] = stopper.should_stop() ? 1 : 0;
    values[2] = improved ? 1 : 0;
  }
  std::vector<at::Tensor> t{at::from_blob(values, {3}, at::kDouble)};
  comm.broadcast(t, 0);
  return Decision{values[0], values[1] > 0, values[2] > 0};
}

}  // namespace finch::train
