// A model's tensors by name (parameters then buffers, torchvision's names), and strict loading.
#pragma once

#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "finch/io/named_tensors.h"

namespace finch::model {

// Parameters and buffers in registration order, as torchvision's state_dict() lists them.
io::NamedTensors model_state(const torch::nn::Module& model);
// A copy that later training steps do not change (the best epoch's weights).
io::NamedTensors clone_state(const io::NamedTensors& state);

struct LoadOptions {
  // Keys under "classifier." that are absent or shaped differently keep the model's fresh init
  // (a 1000-class ImageNet head loaded into a 200-class model) instead of being an error.
  bool allow_head_mismatch = false;
};

struct LoadReport {
  std::vector<std::string> kept_fresh;  // classifier keys left at their initialisation
};

// Copies `weights` into `model` (no grad, dtype/device converted). Every model key must be present
// with its shape and no unexpected key may remain: otherwise a RuntimeError listing the missing,
// unexpected and mis-shaped keys, naming `source`.
LoadReport load_weights(torch::nn::Module& model, const io::NamedTensors& weights, const std::string& source,
                        const LoadOptions& options = {});

}  // namespace finch::model
