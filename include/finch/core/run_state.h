// Where a run stands, read from its run directory alone (config.json, metrics.jsonl, the lock of
// Note [One trainer per run directory]): what `finch sweep list` shows and what decides whether a
// sweep's task trains, resumes or skips its run.
#pragma once

#include <string>

namespace finch {

enum class RunState {
  kPending,    // no run yet (no config.json)
  kRunning,    // a finch holds the run directory's lock now
  kDone,       // its last segment ended (epochs, early stopping or train.max_steps) with its test evaluation
  kPreempted,  // its last segment stopped on a signal with a checkpoint: --resume auto continues it
  kFailed,     // its last segment ended on an error (non-finite loss) or died without an end record
  kStarted,    // no end record and no way to tell running from dead (no file locks on this filesystem)
};

const char* run_state_name(RunState s);

struct RunStatus {
  RunState state = RunState::kPending;
  std::string detail;  // the last epoch and step, the end's reason, the lock's holder
  int epochs = 0;      // epoch records so far
};

RunStatus read_run_state(const std::string& run_dir);

}  // namespace finch
