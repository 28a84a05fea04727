// Optimizers (Adam, AdamW, SGD+momentum/nesterov) over the trainable parameters, in two groups
// when optimizer.no_decay_bn_bias is set (BatchNorm parameters and biases get no weight decay),
// and their state saved by (group, parameter index): never by tensor address, which differs between
// processes and between LibTorch versions.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include "finch/core/config.h"
#include "finch/io/named_tensors.h"

namespace finch::train {

// The groups of plan_param_groups (param_groups.h); `lr_scales`, when given, receives each group's
// LR scale for set_lr.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const torch::nn::Module& model, const OptimizerConfig& config,
                                                        std::vector<double>* lr_scales = nullptr);

// Every group's LR to lr x its scale (none given: 1); get_lr gives back the unscaled LR.
void set_lr(torch::optim::Optimizer& optimizer, double lr, const std::vector<double>& lr_scales = {});
double get_lr(const torch::optim::Optimizer& optimizer, const std::vector<double>& lr_scales = {});

// "g{group}.p{index}.{exp_avg|exp_avg_sq|max_exp_avg_sq|step|momentum_buffer}" -> tensor.
io::NamedTensors optimizer_state(torch::optim::Optimizer& optimizer, OptimizerKind kind);
// Restores what optimizer_state wrote; RuntimeError naming `source` (the file) and what does not fit:
// a shape, a parameter's entry missing one of its tensors, state for some parameters but not all.
void load_optimizer_state(torch::optim::Optimizer& optimizer, OptimizerKind kind, const io::NamedTensors& state,
                          const std::string& source = "optimizer state");

}  // namespace finch::train
