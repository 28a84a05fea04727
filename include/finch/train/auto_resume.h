// `--resume auto`: one command line for a job's first start and for every restart or requeue
// (sbatch --requeue, launch/run.sh --max-restarts), as torchrun users expect from their scripts.
#pragma once

#include <string>

#include "finch/core/run_dir.h"

namespace finch::train {

struct AutoResume {
  RunDirMode mode = RunDirMode::kFresh;  // kResume: an intact checkpoint exists
  std::string why;                       // what was found, for the log (kFresh, kRestart)
};

// Rank 0, before the run directory is created. kResume when `dir` holds an intact checkpoint;
// kFresh when it holds no run yet; kRestart when it holds a run that never finished a checkpoint.
// ConfigError when it holds checkpoints none of which is intact: starting over would silently
// throw away a run that someone must look at first.
AutoResume plan_auto_resume(const RunDir& dir);

}  // namespace finch::train
