// The model a run config describes: architecture, head, freezing, pretrained weights.
#pragma once

#include "finch/core/config.h"
#include "finch/model/efficientnet.h"

namespace finch::model {

EfficientNetOptions options_from_config(const ModelConfig& config);

// Builds, loads model.pretrained (an ImageNet head of another size keeps its fresh init, and
// says so in the log) and applies model.freeze.
EfficientNet build_model(const ModelConfig& config);

}  // namespace finch::model
