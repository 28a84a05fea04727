// CUDA builds only: making the chosen GPU current, and naming it for logs.
#include <c10/cuda/CUDACachingAllocator.h>
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

int64_t cuda_peak_allocated_bytes(int index) {
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(index));
  // Index 0 is StatType::AGGREGATE (all pools); the enum moved from c10::cuda to c10 between 1.13 and 2.x.
  return stats.allocated_bytes[0].peak;
}

// "0000:1a:00.0,0000:3b:00.0": the GPUs this process sees, by PCI bus id (no context is created).
std::string cuda_visible_bus_ids() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return "";
  std::string out;
  for (int i = 0; i < n; ++i) {
    char bus[32] = {};
    if (cudaDeviceGetPCIBusId(bus, sizeof(bus), i) != cudaSuccess) return "";
    out += (i ? "," : "") + std::string(bus);
  }
  return out;
}

}  // namespace finch::distributed
