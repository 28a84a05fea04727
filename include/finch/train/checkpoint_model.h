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
};

// `path` is a checkpoint directory, or a run directory (its checkpoints/best, else the latest).
LoadedCheckpoint load_checkpoint_model(const std::string& path);

}  // namespace finch::train
