#include "finch/train/memory_format.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/nn/module.h>

namespace finch::train {

MemoryFormatChoice choose_memory_format(ChannelsLast request, const c10::Device& device) {
  if (request == ChannelsLast::kTrue) return {true, "channels_last (train.channels_last=true)"};
  if (request == ChannelsLast::kFalse) return {false, "contiguous NCHW (train.channels_last=false)"};
  if (device.is_cuda()) {
    if (at::detail::getCUDAHooks().hasCuDNN() && at::globalContext().userEnabledCuDNN())
      return {true, "channels_last (auto: cuDNN's NHWC convolutions)"};
    return {false, "contiguous NCHW (auto: no cuDNN, whose NHWC convolutions are the faster ones)"};
  }
  if (at::hasMKLDNN() && at::globalContext().userEnabledMkldnn())
    return {true, "channels_last (auto: oneDNN convolutions on this CPU; train.channels_last=false for NCHW)"};
  return {false, "contiguous NCHW (auto: this LibTorch has no oneDNN, whose NHWC convolutions are the faster ones)"};
}

void to_memory_format(torch::nn::Module& module, bool channels_last) {
  const auto format = channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  for (auto& p : module.parameters())
    if (p.dim() == 4) p.set_data(p.data().contiguous(format));
  for (auto& b : module.buffers())
    if (b.dim() == 4) b.set_data(b.contiguous(format));
}

}  // namespace finch::train
