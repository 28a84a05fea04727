#include <torch/cuda.h>
#include <torch/version.h>

#include <fmt/format.h>

#include "commands.h"
#include "finch/core/build_info.h"
#include "finch/distributed/communicator.h"
#include "finch/distributed/world.h"

namespace finch::cli {

std::string version_text() {
  const bool cuda = torch::cuda::is_available();
  const auto gpus = static_cast<int>(torch::cuda::device_count());
  std::string out = fmt::format("finch {}\n", FINCH_VERSION);
  out += fmt::format("LibTorch {}\n", TORCH_VERSION);
  out += fmt::format("CUDA: {}\n", cuda ? fmt::format("available, {} device(s)", gpus)
                                        : FINCH_USE_CUDA ? "built, no device visible" : "not in this build (CPU LibTorch)");
  out += fmt::format("NCCL: {}\n", distributed::nccl_description());
  out += fmt::format("MPI: {}\n", distributed::mpi_library_version());
  out += fmt::format("OpenCV JPEG decoding: {}\n", FINCH_HAS_OPENCV ? "yes" : "no (packed datasets only)");
  out += fmt::format("TensorBoard: {}\n", FINCH_HAS_TENSORBOARD ? "yes (logging.tensorboard)" : "no (built without protobuf)");
  return out;
}

}  // namespace finch::cli
