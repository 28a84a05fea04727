// timm's efficientnet_bN parameter names -> torchvision's. timm keeps each layer as a named
// attribute (conv_pw, bn1, ...), torchvision as positions in Sequentials; the mapping is fixed:
//   conv_stem, bn1                    -> features.0.0, features.0.1
//   blocks.0.B  (depthwise-separable) -> features.1.B.block.{0.0 conv_dw, 0.1 bn1, 1.fc1/fc2 se, 2.0 conv_pw, 2.1 bn2}
//   blocks.S.B  (inverted residual)   -> features.S+1.B.block.{0.0 conv_pw, 0.1 bn1, 1.0 conv_dw, 1.1 bn2,
//                                                              2.fc1/fc2 se, 3.0 conv_pwl, 3.1 bn3}
//   conv_head, bn2                    -> features.8.0, features.8.1
//   classifier                        -> classifier.1
// Only timm's efficientnet_bN (PyTorch-native padding) matches torchvision's function; the
// tf_efficientnet_bN ports use TensorFlow "same" padding and would load but compute differently.
#include <map>
#include <regex>

#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/io/weight_import.h"

namespace finch::io {

std::string timm_to_torchvision(const std::string& name, int num_stages) {
  static const std::regex block(R"(blocks\.(\d+)\.(\d+)\.([a-z_0-9]+(?:\.[a-z_0-9]+)?)\.([a-z_]+))");
  static const std::regex top(R"((conv_stem|bn1|conv_head|bn2|classifier)\.([a-z_]+))");
  static const std::map<std::string, std::string> ds = {{"conv_dw", "0.0"}, {"bn1", "0.1"}, {"se.conv_reduce", "1.fc1"},
                                                        {"se.conv_expand", "1.fc2"}, {"conv_pw", "2.0"}, {"bn2", "2.1"}};
  static const std::map<std::string, std::string> ir = {{"conv_pw", "0.0"}, {"bn1", "0.1"}, {"conv_dw", "1.0"},
                                                        {"bn2", "1.1"}, {"se.conv_reduce", "2.fc1"}, {"se.conv_expand", "2.fc2"},
                                                        {"conv_pwl", "3.0"}, {"bn3", "3.1"}};
  std::smatch m;
  if (std::regex_match(name, m, block)) {
    const int stage = std::stoi(m[1]);
    const auto& table = stage == 0 ? ds : ir;
    const auto it = table.find(m[3]);
    if (it != table.end() && stage < num_stages)
      return fmt::format("features.{}.{}.block.{}.{}", stage + 1, m[2].str(), it->second, m[4].str());
  } else if (std::regex_match(name, m, top)) {
    const std::string layer = m[1], leaf = m[2];
    if (layer == "conv_stem") return "features.0.0." + leaf;
    if (layer == "bn1") return "features.0.1." + leaf;
    if (layer == "conv_head") return fmt::format("features.{}.0.{}", num_stages + 1, leaf);
    if (layer == "bn2") return fmt::format("features.{}.1.{}", num_stages + 1, leaf);
    return "classifier.1." + leaf;
  }
  throw RuntimeError("'" + name + "' is not a timm efficientnet_bN parameter name");
}

}  // namespace finch::io
