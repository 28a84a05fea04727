#include "finch/train/evaluate.h"

#include <chrono>

#include <torch/torch.h>

#include "finch/core/clock.h"
#include "finch/core/progress_bar.h"
#include "finch/data/loader.h"
#include "finch/data/sampler.h"
#include "finch/train/forward_loss.h"

namespace finch::train {

double EvalTotals::mean_class_acc() const {
  double sum = 0;
  int n = 0;
  for (size_t c = 0; c < class_count.size(); ++c)
    if (class_count[c] > 0) sum += class_correct[c] / class_count[c], ++n;
  return n ? sum / n : 0;
}

EvalTotals evaluate(model::EfficientNetImpl& model, std::shared_ptr<const data::ImageSource> source,
                    const std::vector<int64_t>& split, distributed::Communicator& comm, const EvalOptions& o) {
  const auto start = Clock::now();
  std::vector<int64_t> mine;
  for (int64_t k : data::eval_shard(static_cast<int64_t>(split.size()), comm.size(), comm.rank())) mine.push_back(split[k]);
  data::LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.workers = o.workers;
  lo.prefetch = o.prefetch;
  lo.transform = o.transform;
  lo.pin_memory = o.device.is_cuda();
  lo.channels_last = o.channels_last;
  data::BatchLoader loader(std::move(source), mine, lo);

  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  EvalTotals t;
  const int K = o.classes;
  // Everything accumulates on the device; one host read at the end.
  const auto dopt = torch::TensorOptions().dtype(torch::kDouble).device(o.device);
  at::Tensor sums = torch::zeros({4}, dopt);
  at::Tensor class_correct = torch::zeros({o.per_class ? K : 0}, dopt);
  at::Tensor class_count = torch::zeros({o.per_class ? K : 0}, dopt);
  at::Tensor confusion = torch::zeros({o.per_class ? K : 0, o.per_class ? K : 0}, dopt);
  ForwardOptions fo;  // fp32 evaluation, summed loss (sums over ranks, never means of means)
  fo.device = o.device;
  fo.channels_last = o.channels_last;
  fo.sum = true;
  fo.hflip_tta = o.hflip_tta;
  ProgressBar bar(o.progress, loader.num_batches(), !o.progress.empty() && comm.rank() == 0);
  int64_t batches = 0;
  while (auto batch = loader.next()) {
    bar.update(++batches);  // rank 0's shard: the ranks' shards differ by at most one image
    if (batch->images.size(0) == 0) continue;
    const auto [logits, loss, y] = forward_loss(model, *batch, fo);
    const auto top = std::get<1>(logits.topk(std::min<int64_t>(5, logits.size(1)), 1));
    const auto hit = top.eq(y.unsqueeze(1));
    const auto pred = top.select(1, 0);
    const auto c1 = hit.select(1, 0).sum();
    const auto c5 = hit.any(1).sum();
    sums += torch::stack({loss.to(torch::kDouble), c1.to(torch::kDouble), c5.to(torch::kDouble),
                          torch::full({}, static_cast<double>(y.size(0)), dopt)});
    if (o.per_class) {
      class_count.index_add_(0, y, torch::ones({y.size(0)}, dopt));
      class_correct.index_add_(0, y, y.eq(pred).to(torch::kDouble));
      confusion.view({-1}).index_add_(0, y * K + pred, torch::ones({y.size(0)}, dopt));
    }
  }
  sums = sums.cpu();
  class_correct = class_correct.cpu();
  class_count = class_count.cpu();
  confusion = confusion.cpu();
  std::vector<at::Tensor> all{sums};
  if (o.per_class) all.insert(all.end(), {class_correct, class_count, confusion});
  comm.allreduce(all, distributed::ReduceOp::kSum);
  t.loss_sum = sums[0].item<double>();
  t.correct1 = sums[1].item<double>();
  t.correct5 = sums[2].item<double>();
  t.count = sums[3].item<double>();
  if (o.per_class) {
    t.class_correct.assign(class_correct.data_ptr<double>(), class_correct.data_ptr<double>() + K);
    t.class_count.assign(class_count.data_ptr<double>(), class_count.data_ptr<double>() + K);
    t.confusion = confusion;
  }
  model.train(was_training);
  t.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return t;
}

}  // namespace finch::train
