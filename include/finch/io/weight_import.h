// Reading ImageNet weights from the Python ecosystem into torchvision-named CPU tensors:
// torchvision state dicts saved by torch.save (.pth, zip format), and timm / Hugging Face
// safetensors (timm's efficientnet_bN names, mapped to torchvision's).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "finch/io/named_tensors.h"

namespace finch::io {

// A state dict saved with torch.save(model.state_dict(), path) (also {"state_dict": ...} or
// {"model": ...} wrappers, as training scripts often write).
NamedTensors read_torch_state_dict(const std::string& path);

// timm efficientnet_bN name -> torchvision name. `num_stages` is the number of MBConv stages (7).
// Throws RuntimeError for a name it does not know.
std::string timm_to_torchvision(const std::string& timm_name, int num_stages = 7);

}  // namespace finch::io
