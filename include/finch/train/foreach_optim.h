// LibTorch's Adam, AdamW and SGD with their step taken by multi-tensor ("foreach") ops, as
// PyTorch's optimizers do by default on CUDA: a handful of kernels per parameter group instead of
// several per parameter (EfficientNet-B0 has 213 parameter tensors). Same classes, options and
// state (checkpoints and optimizer_state are unchanged); the same arithmetic in the same order, so
// on the CPU, where ATen runs foreach ops tensor by tensor, the result is LibTorch's to the bit.
#pragma once

#include <memory>
#include <vector>

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

namespace finch::train {

std::unique_ptr<torch::optim::Optimizer> make_foreach_adam(const std::vector<torch::optim::OptimizerParamGroup>& groups,
                                                           const torch::optim::AdamOptions& defaults);
std::unique_ptr<torch::optim::Optimizer> make_foreach_adamw(const std::vector<torch::optim::OptimizerParamGroup>& groups,
                                                            const torch::optim::AdamWOptions& defaults);
std::unique_ptr<torch::optim::Optimizer> make_foreach_sgd(const std::vector<torch::optim::OptimizerParamGroup>& groups,
                                                          const torch::optim::SGDOptions& defaults);

}  // namespace finch::train
