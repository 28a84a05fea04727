// The run directory, runs/<name>/: config.json (resolved), train.log, metrics.jsonl, checkpoints/,
// report/. Only rank 0 creates and writes it; every rank knows its paths.
#pragma once

#include <filesystem>

#include "finch/core/config.h"

namespace finch {

struct RunDir {
  std::filesystem::path root;

  std::filesystem::path config_file() const { return root / "config.json"; }
  std::filesystem::path log_file() const { return root / "train.log"; }
  std::filesystem::path metrics_file() const { return root / "metrics.jsonl"; }
  std::filesystem::path tensorboard() const { return root / "tensorboard"; }  // event files (logging.tensorboard)
  std::filesystem::path checkpoints() const { return root / "checkpoints"; }
  std::filesystem::path report() const { return root / "report"; }
  std::filesystem::path classes_file() const { return root / "classes.txt"; }  // class names, one a line, label order
};

enum class RunDirMode {
  kFresh,    // the directory must not hold a previous run (nothing is ever overwritten)
  kResume,   // the directory must exist and hold a previous run
  kRestart,  // --resume auto over a run that left no checkpoint: its train.log and metrics.jsonl
             // move to earlier-attempt-N/ and the run starts again in the same directory
};

// Paths only, no filesystem access (non-zero ranks).
RunDir run_dir_for(const Config& config);

// The refusals of create_run_dir, without touching anything: a fresh run's directory must not hold
// a run, a resumed one's must. ConfigError naming the directory and what to do.
void check_run_dir(const Config& config, RunDirMode mode);

// Rank 0: creates the folders and writes config.json atomically. A fresh run refuses a directory
// that already holds a run; a resumed one refuses a directory that does not. `moved_to` (kRestart)
// receives the folder the earlier attempt's logs were moved to.
RunDir create_run_dir(const Config& config, RunDirMode mode, std::filesystem::path* moved_to = nullptr);

}  // namespace finch
