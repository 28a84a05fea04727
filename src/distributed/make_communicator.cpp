// The one place that knows which backends this build has.
#include "backends.h"
#include "finch/core/error.h"

namespace finch::distributed {

std::string nccl_description() {
#if FINCH_USE_CUDA
  return "NCCL " + nccl_version();
#else
  return "not in this build";
#endif
}

std::unique_ptr<Communicator> make_communicator(Backend backend, const c10::Device& device, double timeout_s) {
  const bool nccl = backend == Backend::kNccl || (backend == Backend::kAuto && device.is_cuda());
  if (!nccl) return make_mpi_communicator();
  if (!device.is_cuda()) throw ConfigError("dist.backend is nccl but the model is on the CPU (NCCL needs CUDA tensors): use mpi or auto");
#if FINCH_USE_CUDA
  return make_nccl_communicator(device.index(), timeout_s);
#else
  throw ConfigError("dist.backend is nccl but this finch was built without CUDA/NCCL (FINCH_CUDA=OFF or a CPU LibTorch)");
#endif
}

}  // namespace finch::distributed
