// Gradient utilities shared by the step's parts (the fp16 scaler, clipping).
#pragma once

#include <vector>

#include <ATen/core/Tensor.h>

namespace finch::train {

// The gradients of `params` that are defined (a parameter without one this step is left out, as
// torch's optimizers, scaler and clipping leave it out).
std::vector<at::Tensor> grads_of(const std::vector<at::Tensor>& params);

// torch.nn.utils.clip_grad_norm_ (L2) without its host read: LibTorch's C++ version returns the
// norm as a double, which waits for the device every step. The same arithmetic (a norm per
// gradient, the norm of those, max_norm / (norm + 1e-6) clamped to 1), left on the device.
void clip_grad_norm_on_device(const std::vector<at::Tensor>& params, double max_norm);

}  // namespace finch::train
