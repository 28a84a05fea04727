#include "finch/train/bn_stats.h"

#include <torch/torch.h>

namespace finch::train {

void average_buffers(torch::nn::Module& model, distributed::Communicator& comm) {
  if (comm.size() == 1) return;
  std::vector<at::Tensor> stats;
  for (const auto& b : model.named_buffers())
    if (at::isFloatingType(b.value().scalar_type())) stats.push_back(b.value());
  comm.allreduce(stats, distributed::ReduceOp::kAvg);
}

void precise_bn(model::EfficientNetImpl& model, const std::function<std::optional<at::Tensor>()>& next_input,
                distributed::Communicator& comm) {
  std::vector<model::BatchNorm2dImpl*> bns;
  for (auto& m : model.modules(/*include_self=*/false))
    if (auto* b = m->as<model::BatchNorm2dImpl>()) bns.push_back(b);
  std::vector<double> momentum;
  std::vector<at::Tensor> tracked;
  for (auto* b : bns) {
    momentum.push_back(b->momentum);
    tracked.push_back(b->num_batches_tracked.clone());
  }
  const bool was_training = model.is_training();
  model.train();  // eval-kept (bn_eval) layers stay in eval: their statistics are not touched
  {
    torch::NoGradGuard no_grad;
    int k = 0;
    while (auto x = next_input()) {
      ++k;
      for (auto* b : bns) b->momentum = 1.0 / k;
      model.forward(*x);
    }
  }
  for (size_t i = 0; i < bns.size(); ++i) {
    bns[i]->momentum = momentum[i];
    bns[i]->num_batches_tracked.copy_(tracked[i]);
  }
  model.train(was_training);
  if (comm.size() > 1) {  // every rank's average counts (a collective even when sync_bn is on)
    std::vector<at::Tensor> stats;
    for (auto* b : bns) stats.insert(stats.end(), {b->running_mean, b->running_var});
    comm.allreduce(stats, distributed::ReduceOp::kAvg);
  }
}

}  // namespace finch::train
