// Note [Memory format]
// ~~~~~~~~~~~~~~~~~~~~
// train.channels_last is auto, true or false. auto takes NHWC (channels_last) where LibTorch's
// convolutions are faster in it: a GPU with cuDNN, and a CPU whose LibTorch has oneDNN (mkldnn),
// where eager PyTorch's B0 step runs ~1.4x faster NHWC than NCHW on this project's 2-core EPYC
// with both LibTorch builds (issue 30). The choice is made once per process for its device and
// followed everywhere the model runs: its 4-D parameters (and the EMA's) are converted when the
// model is built or loaded; the loader's workers write each batch in that layout (LoaderOptions::
// channels_last: the same values, no conversion before the forward; pinned NHWC batches keep their
// strides through the copy to a GPU); every input goes through model_input (forward_loss.h), which
// converts only what did not come from the loader — training, validation, the test, Precise BN,
// eval and predict; and SyncBN's elementwise ops keep the input's format. Gradients stay views into the persistent buckets in either layout (grad_sync
// gives each view its parameter's strides). The numbers differ from NCHW's by rounding only (the
// same sums in another order); checkpoints hold weights in NCHW order either way (safetensors are
// written contiguous), so a run resumes or evaluates in either layout.
#pragma once

#include <string>

#include <c10/core/Device.h>

#include "finch/core/config.h"

namespace torch::nn {
class Module;
}

namespace finch::train {

struct MemoryFormatChoice {
  bool channels_last = false;
  std::string why;  // for the log: "channels_last (auto: oneDNN convolutions on this CPU)"
};

MemoryFormatChoice choose_memory_format(ChannelsLast request, const c10::Device& device);

// The module's 4-D parameters and buffers in channels_last (or back to contiguous), in place.
void to_memory_format(torch::nn::Module& module, bool channels_last);

}  // namespace finch::train
