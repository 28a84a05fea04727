// CUDA builds only: making the chosen GPU current, and naming it for logs.
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>

#include <string>

#include <fmt/format.h>

#include "finch/core/error.h"

namespace finch::distributed {

void set_cuda_device(int index) { c10::cuda::set_device(static_cast<c10::DeviceIndex>(index)); }

std::string cuda_device_name(int index) {
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, index) != cudaSuccess) return fmt::format("GPU {}", index);
  return fmt::format("{} (bus {:04x}:{:02x}:{:02x}.0, {:.0f} GiB)", p.name, p.pciDomainID, p.pciBusID, p.pciDeviceID,
                     static_cast<double>(p.totalGlobalMem) / (1u << 30));
}

}  // namespace finch::distributed
