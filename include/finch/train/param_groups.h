// The optimizer's parameter groups. Without optimizer.layer_decay and optimizer.backbone_lr_scale:
// two groups as always (with weight decay; BatchNorm parameters and biases without, when
// optimizer.no_decay_bn_bias), so earlier checkpoints resume. With either, timm's layer-wise
// grouping for EfficientNet (param_groups_layer_decay with EfficientNet's group_matcher): the stem,
// each block (the last one with the head convolution) and the classifier are layers 0..L; a parameter's LR is
// lr x layer_decay^(L - layer) x (backbone_lr_scale unless it is the classifier's), one group per
// (layer, decay or not), in the order the parameters come.
#pragma once

#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "finch/core/config.h"

namespace finch::train {

struct ParamGroupPlan {
  std::string name;                      // timm's: "layer_3_decay", "layer_3_no_decay"; or "decay", "no_decay"
  double lr_scale = 1.0;                 // of optimizer.lr (the schedule's LR)
  double weight_decay = 0.0;
  std::vector<std::string> param_names;  // finch's (torchvision's) names
  std::vector<torch::Tensor> params;
};

// Groups of the trainable parameters of `model`; ConfigError when none is trainable.
std::vector<ParamGroupPlan> plan_param_groups(const torch::nn::Module& model, const OptimizerConfig& config);

}  // namespace finch::train
