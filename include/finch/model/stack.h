// A Sequential with a concrete forward(Tensor) -> Tensor, so that Sequentials can nest (LibTorch's
// AnyModule cannot hold a plain Sequential, whose forward is a template). Children are named
// "0", "1", ... exactly as in a Python nn.Sequential, which keeps torchvision's parameter names.
#pragma once

#include <torch/nn/modules/container/sequential.h>

namespace finch::model {

class StackImpl : public torch::nn::SequentialImpl {
 public:
  using SequentialImpl::SequentialImpl;
  torch::Tensor forward(torch::Tensor x) { return SequentialImpl::forward(x); }
};
TORCH_MODULE(Stack);

}  // namespace finch::model
