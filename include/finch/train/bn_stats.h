// BatchNorm running statistics across ranks. Without SyncBatchNorm every replica keeps its own
// running mean and variance; before they are used for validation or saved they are averaged over
// ranks (DDP broadcasts rank 0's instead; the average is what Horovod and timm's distribute_bn
// do). Precise BN recomputes them from training batches first. CommSum is SyncBatchNorm's
// reduction over a communicator.
#pragma once

#include <functional>
#include <optional>

#include <ATen/core/Tensor.h>

#include "finch/data/loader.h"
#include "finch/distributed/communicator.h"
#include "finch/model/batchnorm.h"
#include "finch/model/efficientnet.h"

namespace finch::train {

class CommSum final : public model::CrossReplicaSum {
 public:
  explicit CommSum(distributed::Communicator& comm) : comm_(comm) {}
  void sum(at::Tensor& t) override { comm_.allreduce(t, distributed::ReduceOp::kSum); }
  int replicas() const override { return comm_.size(); }
  int replica() const override { return comm_.rank(); }

 private:
  distributed::Communicator& comm_;
};

// Collective: every floating-point buffer of `model` becomes its average over ranks.
void average_buffers(torch::nn::Module& model, distributed::Communicator& comm);

// Precise BN (Wu & Johnson, "Rethinking Batch in BatchNorm", 2021; fvcore's PreciseBN): the
// running statistics become the plain average over the batches `next_input` yields (momentum 1/k
// for the k-th; nullopt ends), with the current weights, then their average over ranks
// (collective). Layers kept in eval mode (model.bn_eval) are not touched; num_batches_tracked and
// momentum are restored.
void precise_bn(model::EfficientNetImpl& model, const std::function<std::optional<at::Tensor>()>& next_input,
                distributed::Communicator& comm);

}  // namespace finch::train
