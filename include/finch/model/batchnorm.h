// finch's BatchNorm2d: torch.nn.BatchNorm2d's computation and names (weight, bias, running_mean,
// running_var, num_batches_tracked), that can also normalise over the batch of every rank
// (SyncBatchNorm, dist.sync_bn). Its own module rather than a subclass of LibTorch's, whose vtable
// Debian's libtorch does not export. The model knows nothing of communicators: training hands it a
// CrossReplicaSum that sums small tensors over all ranks.
#pragma once

#include <memory>

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

namespace finch::model {

class CrossReplicaSum {
 public:
  virtual ~CrossReplicaSum() = default;
  virtual void sum(at::Tensor& t) = 0;  // in place, over all ranks
  // How many ranks take part, and this one's index among them (each rank fills its row of a
  // gathered matrix; a sum of those is the gather).
  virtual int replicas() const { return 1; }
  virtual int replica() const { return 0; }
};

class BatchNorm2dImpl : public torch::nn::Cloneable<BatchNorm2dImpl> {
 public:
  BatchNorm2dImpl(int64_t features, double eps, double momentum);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& x);

  int64_t features;
  double eps, momentum;
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  // Non-null: in training, batch statistics (and their gradients) cover every rank's batch.
  std::shared_ptr<CrossReplicaSum> sync;
};
TORCH_MODULE(BatchNorm2d);

// The SyncBatchNorm computation (train mode), exposed for tests.
torch::Tensor sync_batch_norm(const torch::Tensor& x, BatchNorm2dImpl& bn, CrossReplicaSum& reducer);

}  // namespace finch::model
