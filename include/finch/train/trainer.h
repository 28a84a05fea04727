// The training loop: every rank holds a replica, trains on its shard of each global batch and stays
// in step with the others. Gradients are averaged by the GradientSynchronizer; every decision
// (LR, early stop, NaN handling, a stop signal) is taken on metrics or flags reduced over all ranks,
// so every rank takes the same branch; rank 0 alone writes train.log and metrics.jsonl, and the
// checkpoint files (saving itself is collective: Note [Checkpoint calls are collective]).
#pragma once

#include <functional>
#include <string>

#include "finch/core/config.h"
#include "finch/core/run_dir.h"
#include "finch/distributed/run_context.h"

namespace finch::train {

struct TrainRequest {
  Config config;
  RunDir run_dir;      // its paths; the directory itself is made by open_run_dir
  std::string resume;  // "": a fresh run; a checkpoint directory, or a run directory (its latest intact checkpoint)
  bool force = false;  // resuming an older checkpoint: move this run's newer ones aside instead of refusing
  // Called on every rank once every rank has opened its data, built the model, loaded weights and
  // the checkpoint to resume (any of which may fail), with the config as resolved from those inputs
  // (train/run_inputs): creates the run directory. A start that fails before it leaves nothing
  // behind, so the corrected command simply works.
  std::function<void(const Config& resolved)> open_run_dir;
};

// Runs the whole training on the context's device and communicator; returns the process exit code:
// 0 (finished: max epochs, early stopping, train.max_steps), 1 (stopped on a non-finite loss with
// train.on_nan=stop), or kExitPreempted (75, stop_signals.h: a stop signal was honoured with a
// checkpoint; --resume auto continues). Throws finch::Error for bad input (its own exit code).
int run_training(const TrainRequest& request, distributed::RunContext& context);

}  // namespace finch::train
