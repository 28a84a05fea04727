// `--resume auto`: one command line for a job's first start and for every restart or requeue
// (sbatch --requeue, launch/run.sh --max-restarts), as torchrun users expect from their scripts.
#pragma once

#include <string>

#include "finch/core/config.h"
#include "finch/core/run_dir.h"

namespace finch::distributed {
class Communicator;
}

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

// What `finch train --resume ARG` does, decided by rank 0 and followed by every rank; nothing is
// created yet. ARG "" starts a fresh run; "auto" resumes `dir` when it holds an intact checkpoint
// and starts (or restarts) it otherwise, so one command line serves a first start and every
// requeue; anything else is a checkpoint or run directory to resume. `into_new_run`
// (--resume-into-new-run): that checkpoint continues in `dir` as a fresh run (which must not hold
// one yet); the run it came from is only read. The run directory is checked for the mode decided
// (check_run_dir: an existing run is not overwritten). Collective; an agreed ConfigError when the
// directory cannot be used.
struct ResumePlan {
  RunDirMode mode = RunDirMode::kFresh;  // how create_run_dir treats `dir`
  std::string from;                      // "" (fresh) or what run_training resumes (TrainRequest::resume)
  std::string why;                       // what --resume auto found, for the log once it exists
};
ResumePlan plan_resume(distributed::Communicator& comm, const Config& config, const RunDir& dir, const std::string& resume,
                       bool into_new_run = false);

}  // namespace finch::train
