// A trained model back from a checkpoint directory: its resolved config (state.json) and weights.
#pragma once

#include <string>
#include <vector>

#include "finch/core/config.h"
#include "finch/model/efficientnet.h"

namespace finch::train {

struct LoadedCheckpoint {
  Config config;
  model::EfficientNet model{nullptr};
  std::string path;
  std::vector<std::string> class_names;  // label order; empty for checkpoints of earlier versions
  bool ema = false;                      // the weights loaded are the checkpoint's EMA weights
};

// `path` is a checkpoint directory, or a run directory (its checkpoints/best, else the latest).
// A checkpoint of a train.ema run gives its EMA weights (ema.safetensors, what its validation and
// test measured) unless `use_ema` is false; its model.safetensors otherwise (Note [EMA weights]).
LoadedCheckpoint load_checkpoint_model(const std::string& path, bool use_ema = true);

}  // namespace finch::train
