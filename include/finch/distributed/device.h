// Which device each rank computes on, decided once per process before any CUDA work: the
// communicator (NCCL binds to the current device when it is created), the trainer, `finch eval`,
// `predict` and `forward` all take the device chosen here.
//
// The rule, as torchrun/DDP users know it: one rank per GPU, rank r of a node on that node's GPU r.
// Visible GPUs are those CUDA_VISIBLE_DEVICES leaves; when every rank of a node sees a different
// set (SLURM's --gpus-per-task / --gpu-bind, or a wrapper script), each rank takes the first GPU
// it sees. Sets are compared by the GPUs' PCI bus ids where CUDA can tell them: under Slurm's device
// cgroups every rank's CUDA_VISIBLE_DEVICES reads "0" although each one is a different GPU. More ranks than GPUs is an error unless dist.share_gpus asks for it.
#pragma once

#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "finch/core/config.h"

namespace finch::distributed {

struct DeviceInputs {
  DeviceRequest request = DeviceRequest::kAuto;  // train.device
  int rank = 0;                           // for messages
  int local_rank = 0, local_size = 1;     // node-local rank and ranks on this node
  int visible_gpus = 0;                   // GPUs this process sees
  std::vector<std::string> node_visible;  // CUDA_VISIBLE_DEVICES of each rank on this node ("" = unset)
  std::vector<std::string> node_devices;  // PCI bus ids of the GPUs each rank of the node sees (CUDA
                                          // builds; empty: compare node_visible instead)
  bool share_gpus = false;                // dist.share_gpus: several ranks per GPU allowed
};

struct DevicePlan {
  bool cuda = false;
  int index = 0;       // among this process's visible GPUs
  std::string reason;  // one line for the log
};

// The rule above, without side effects (unit-tested). ConfigError for an impossible request.
DevicePlan plan_device(const DeviceInputs& in);

// Gathers the inputs on this node (a collective over the node's ranks: every rank calls it),
// plans, and makes the chosen GPU current (c10::cuda::set_device). Returns the device and logs
// nothing; `reason` receives the plan's explanation when not null.
c10::Device select_device(DeviceRequest request, bool share_gpus, std::string* reason = nullptr);

// Peak memory of this process so far: on a GPU the CUDA caching allocator's peak allocation on that
// device ("cuda_allocated"), on the CPU the process's peak resident set ("cpu_rss", ru_maxrss).
struct PeakMemory {
  int64_t bytes = 0;
  const char* kind = "cpu_rss";
};
PeakMemory peak_memory(const c10::Device& device);

// "NVIDIA H200 (bus 0000:1a:00.0)", for logs; "cpu" for the CPU.
std::string describe_device(const c10::Device& device);

}  // namespace finch::distributed
