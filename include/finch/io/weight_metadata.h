// What converted weights say about themselves, in their safetensors "__metadata__" (strings only):
//   format    "finch"
//   arch      "efficientnet_lite0"
//   source    "efficientnet-pytorch", "torchvision", "timm", "timm-tf"
//   padding   "symmetric" | "tf_same"         (Note [TF same padding], model/efficientnet.h)
//   bn_eps    "0.001"                          BatchNorm epsilon the weights were trained with
//   mean, std "[0.498039, 0.498039, 0.498039]" input normalisation (RGB, pixels in [0, 1])
// `finch import-weights` writes them; train/run_inputs reads them for the config keys left to
// auto/null. Files written before these keys existed have none of them: every field is optional.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>

namespace finch::io {

struct WeightMetadata {
  std::string arch;    // "" when not recorded
  std::string source;  // "" when not recorded
  std::optional<std::string> padding;
  std::optional<double> bn_eps;
  std::optional<std::array<double, 3>> mean, std;
};

std::map<std::string, std::string> to_safetensors_metadata(const WeightMetadata& m);
// RuntimeError naming `path` and the key for a value that does not parse.
WeightMetadata weight_metadata(const std::map<std::string, std::string>& metadata, const std::string& path);

}  // namespace finch::io
