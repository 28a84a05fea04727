// Evaluation over all ranks: each rank takes every world-th sample of the split (eval_shard), so
// every image counts exactly once; sums (loss, top-1, top-5, per class, confusion) are all-reduced,
// never means of means.
#pragma once

#include <string>

#include <memory>
#include <vector>

#include <torch/types.h>

#include "finch/data/source.h"
#include "finch/data/transforms.h"
#include "finch/distributed/communicator.h"
#include "finch/model/efficientnet.h"

namespace finch::train {

struct EvalOptions {
  int64_t batch_size = 64;
  int workers = 2;
  int prefetch = 4;
  data::TransformOptions transform;
  torch::Device device = torch::kCPU;
  bool channels_last = false;  // the model's memory format: batches written NHWC, inputs NHWC (Note [Memory format])
  bool hflip_tta = false;  // eval.tta=hflip (forward_loss.h)
  bool per_class = false;  // per-class counts and the confusion matrix
  int classes = 0;
  std::string progress;    // non-empty: rank 0 draws a progress bar with this label on stderr
};

struct EvalTotals {
  double loss_sum = 0, correct1 = 0, correct5 = 0, count = 0, seconds = 0;
  std::vector<double> class_correct, class_count;
  at::Tensor confusion;  // classes x classes (true x predicted), when per_class
  double loss() const { return count > 0 ? loss_sum / count : 0; }
  double acc() const { return count > 0 ? correct1 / count : 0; }
  double top5() const { return count > 0 ? correct5 / count : 0; }
  double mean_class_acc() const;
};

EvalTotals evaluate(model::EfficientNetImpl& model, std::shared_ptr<const data::ImageSource> source,
                    const std::vector<int64_t>& split, distributed::Communicator& comm, const EvalOptions& o);

}  // namespace finch::train
