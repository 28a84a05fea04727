// The gradient synchronizer (what DDP calls the reducer). Trainable parameters are grouped in
// buckets of about dist.bucket_mb (the first 1 MiB), in reverse registration order (roughly the
// order backward produces their gradients). Each bucket is one persistent buffer and every
// gradient a view into it (DDP's gradient_as_bucket_view), so backward accumulates straight into
// the buckets: no per-step allocation, flattening or copy-back. A post-hook on each parameter's
// grad accumulator marks it ready; when a bucket is complete its all-reduce starts at once,
// overlapping with the rest of backward. Buckets start in index order on every rank (collectives
// must match); finish() waits for them: each bucket then holds the ranks' average (a plain sum of
// gradients already divided by the world size with `loss_prescaled`, below; otherwise divided in
// place after the sum). Frozen parameters are in no bucket.
// At world size 1 there is nothing to reduce: no hooks, no buffers.
//
// The average's 1/world factor: DDP divides every bucket (a pass over all gradient bytes, the last
// bucket's after backward). With `loss_prescaled` the caller multiplies its loss by loss_factor()
// instead (Horovod's prescale_factor, on a scalar): backward then produces gradients already
// divided and the all-reduce's plain sum is the average: bitwise the same for a world that is a
// power of two (a division by 2^k is exact), within rounding otherwise.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include "finch/distributed/communicator.h"

namespace finch::distributed {

struct GradientSynchronizerOptions {
  double bucket_mb = 25;        // dist.bucket_mb; the first bucket is at most 1 MiB, as DDP's
  // The caller's loss carries loss_factor() (1/world size) into backward, so finish() sums and
  // divides nothing. Then every gradient must come from that loss: one that other code writes is
  // summed, not averaged. Off: finish() averages (ncclAvg on NCCL; on MPI a division of every
  // bucket after its MPI_Allreduce, a third of the synchronizer's time on B0, `bench allreduce`).
  bool loss_prescaled = false;
};

class GradientSynchronizer {
 public:
  GradientSynchronizer(Communicator& comm, std::vector<at::Tensor> params, GradientSynchronizerOptions options = {});
  ~GradientSynchronizer();
  GradientSynchronizer(const GradientSynchronizer&) = delete;
  GradientSynchronizer& operator=(const GradientSynchronizer&) = delete;

  // What the loss is multiplied by before backward: 1/world size with loss_prescaled, else 1 (at
  // world size 1 always 1).
  double loss_factor() const;

  // Off for the first accum_steps-1 micro-steps: gradients accumulate locally, nothing is sent.
  void set_sync(bool enabled);
  // Before backward: forget which gradients are ready.
  void prepare();
  // After backward: start the buckets not started yet, wait for all; the gradients are then the
  // ranks' average (summed in place when loss_prescaled, averaged in place otherwise).
  void finish();
  // Instead of the optimizer's zero_grad: zeroes the buckets in place (the gradients stay views);
  // at world size 1 drops the gradients, as PyTorch's zero_grad(set_to_none=True).
  void zero_grad();

  // How much of the all-reduce time backward hid, since the last reset: `comm_s` is the time the
  // buckets' collectives ran (Work::busy_seconds), `exposed_s` the time finish() waited for them
  // after backward. hidden share = 1 - exposed / comm. comm_s is negative where the backend does
  // not see its collectives from the host (NCCL).
  struct Overlap {
    double comm_s = 0, exposed_s = 0;
    int64_t syncs = 0;  // finish() calls that reduced
    double hidden_share() const { return comm_s > 0 ? std::clamp(1.0 - exposed_s / comm_s, 0.0, 1.0) : -1.0; }
  };
  Overlap overlap() const;
  void reset_overlap();

  size_t num_buckets() const;
  const std::vector<size_t>& bucket_sizes() const;  // parameters per bucket

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::vector<std::shared_ptr<void>> accumulators_;  // owners of the grad accumulators (autograd holds them weakly)
};

// Copies rank `root`'s tensors to every rank (initial parameters and buffers).
void broadcast_tensors(Communicator& comm, const std::vector<at::Tensor>& tensors, int root = 0);

}  // namespace finch::distributed
