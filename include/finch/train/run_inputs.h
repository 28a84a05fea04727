// What a run takes from its inputs rather than from its config file. Keys left at "auto" / null /
// 0 are resolved once, before anything is built, from the pretrained weights' metadata and from
// the data set; the resolved config is what config.json and every checkpoint record, so eval,
// predict and a resumed run see the same values, and the log says where each one came from.
#pragma once

#include <string>
#include <vector>

#include "finch/core/config.h"

namespace finch::train {

// model.padding auto, model.bn_eps null, data.mean and data.std null: what model.pretrained
// records in its safetensors metadata (`finch import-weights` writes it), else symmetric, the
// variant's epsilon and ImageNet's statistics. A file whose metadata names another architecture
// than model.arch is a ConfigError. Returns one line per resolved key ("data.mean [..] from ...").
std::vector<std::string> resolve_from_weights(Config& config);

// data.mean and data.std alone, the same way, for a command that feeds images but builds no model
// (`finch transform`): model.arch is not checked against the weights.
std::vector<std::string> resolve_normalisation(Config& config);

// Whether `value` is what a config writes for `key` ("model.padding") to leave it to the inputs
// (model.classes 0, model.padding "auto", model.bn_eps / data.mean / data.std null).
bool left_to_inputs(const std::string& key, const nlohmann::json& value);

// model.classes 0: the data set's number of classes; any other number must equal it (ConfigError
// naming both).
void resolve_classes(Config& config, size_t dataset_classes);

}  // namespace finch::train
