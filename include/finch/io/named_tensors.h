// A state dict as finch passes it around: (name, tensor) pairs in a fixed order (a model's
// parameters and buffers, an optimizer's state, a file's tensors in file order).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace finch::io {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

}  // namespace finch::io
