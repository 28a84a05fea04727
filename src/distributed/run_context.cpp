#include "finch/distributed/run_context.h"

#include "finch/distributed/agree.h"
#include "finch/distributed/device.h"

namespace finch::distributed {

RunContext make_run_context(Communicator& control, const RunContextOptions& o) {
  RunContext ctx;
  // The device first: it must be current before the NCCL communicator is created on it.
  run_agreed(control, [&] { ctx.device = select_device(o.device, o.share_gpus, &ctx.device_reason); });
  run_agreed(control, [&] { ctx.comm = make_communicator(o.backend, ctx.device, o.timeout_s); });
  return ctx;
}

}  // namespace finch::distributed
