// timm's EfficientNet parameter names -> finch's (torchvision's). timm keeps each layer as a named
// attribute (conv_pw, bn1, ...), torchvision as positions in Sequentials; the mapping is fixed:
//   conv_stem, bn1                    -> features.0.0, features.0.1
//   blocks.0.B  (depthwise-separable) -> features.1.B.block.{0.0 conv_dw, 0.1 bn1, 1.fc1/fc2 se, 2.0 conv_pw, 2.1 bn2}
//   blocks.S.B  (inverted residual)   -> features.S+1.B.block.{0.0 conv_pw, 0.1 bn1, 1.0 conv_dw, 1.1 bn2,
//                                                              2.fc1/fc2 se, 3.0 conv_pwl, 3.1 bn3}
//   conv_head, bn2                    -> features.8.0, features.8.1
//   classifier                        -> classifier.1
// Without squeeze-and-excitation (Lite) the positions after it move up by one. timm's
// efficientnet_bN uses PyTorch's padding; its tf_efficientnet_bN / tf_efficientnet_liteN ports use
// TensorFlow's "same" padding (import-weights --from timm-tf records that).
#include <map>
#include <regex>

#include <fmt/format.h>

#include "finch/core/checked_int.h"
#include "finch/core/error.h"
#include "finch/io/weight_import.h"

namespace finch::io {

std::string timm_to_torchvision(const std::string& name, const EfficientNetLayout& layout) {
  static const std::regex block(R"(blocks\.(\d+)\.(\d+)\.([a-z_0-9]+(?:\.[a-z_0-9]+)?)\.([a-z_]+))");
  static const std::regex top(R"((conv_stem|bn1|conv_head|bn2|classifier)\.([a-z_]+))");
  const std::string se = layout.se ? "1" : "-", ds_pw = layout.se ? "2" : "1";
  const std::string ir_se = layout.se ? "2" : "-", ir_pwl = layout.se ? "3" : "2";
  const std::map<std::string, std::string> ds = {{"conv_dw", "0.0"}, {"bn1", "0.1"}, {"se.conv_reduce", se + ".fc1"},
                                                 {"se.conv_expand", se + ".fc2"}, {"conv_pw", ds_pw + ".0"}, {"bn2", ds_pw + ".1"}};
  const std::map<std::string, std::string> ir = {{"conv_pw", "0.0"}, {"bn1", "0.1"}, {"conv_dw", "1.0"}, {"bn2", "1.1"},
                                                 {"se.conv_reduce", ir_se + ".fc1"}, {"se.conv_expand", ir_se + ".fc2"},
                                                 {"conv_pwl", ir_pwl + ".0"}, {"bn3", ir_pwl + ".1"}};
  const int num_stages = static_cast<int>(layout.stage_blocks.size());
  std::smatch m;
  if (std::regex_match(name, m, block)) {
    const int stage = static_cast<int>(parse_int(m[1].str(), 0, 1000).value_or(1000));  // beyond any layout: unknown
    const auto& table = stage == 0 ? ds : ir;
    const auto it = table.find(m[3]);
    if (it != table.end() && it->second[0] != '-' && stage < num_stages && parse_int(m[2].str(), 0, 1000).value_or(1000) < layout.stage_blocks[stage])
      return fmt::format("features.{}.{}.block.{}.{}", stage + 1, m[2].str(), it->second, m[4].str());
  } else if (std::regex_match(name, m, top)) {
    const std::string layer = m[1], leaf = m[2];
    if (layer == "conv_stem") return "features.0.0." + leaf;
    if (layer == "bn1") return "features.0.1." + leaf;
    if (layer == "conv_head") return fmt::format("features.{}.0.{}", num_stages + 1, leaf);
    if (layer == "bn2") return fmt::format("features.{}.1.{}", num_stages + 1, leaf);
    return "classifier.1." + leaf;
  }
  throw RuntimeError("'" + name + "' is not a timm EfficientNet parameter name of this architecture");
}

}  // namespace finch::io
