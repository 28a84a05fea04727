// The process's place in a job, decided once per command and passed down: which device it
// computes on and which communicator carries the work's collectives. `finch train`, `eval`,
// `predict` and `forward` all get theirs from make_run_context.
#pragma once

#include <memory>
#include <string>

#include <c10/core/Device.h>

#include "finch/core/config.h"
#include "finch/distributed/communicator.h"

namespace finch::distributed {

struct RunContextOptions {
  DeviceRequest device = DeviceRequest::kAuto;  // train.device / --device
  bool share_gpus = false;                      // dist.share_gpus
  Backend backend = Backend::kAuto;             // dist.backend
  double timeout_s = 600;                       // dist.timeout_s (NCCL's watchdog)
};

struct RunContext {
  c10::Device device{c10::kCPU};    // current before any CUDA work (select_device)
  std::string device_reason;        // why this device, one line for the log
  std::unique_ptr<Communicator> comm;  // the work's collectives: NCCL or MPI over every rank
};

// Collective over `control`'s ranks (MPI_COMM_WORLD; a world of one without a launcher): every
// rank chooses its device (select_device) and joins the communicator. A rank that cannot (no GPU,
// more ranks than GPUs, no NCCL) stops every rank with one message (run_agreed).
RunContext make_run_context(Communicator& control, const RunContextOptions& options);

}  // namespace finch::distributed
