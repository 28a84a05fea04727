#include "finch/core/run_dir.h"

#include "finch/core/atomic_file.h"
#include "finch/core/error.h"

namespace finch {
namespace fs = std::filesystem;

RunDir run_dir_for(const Config& config) { return RunDir{fs::path(config.output_dir) / config.name}; }

namespace {

// Moves an attempt's train.log and metrics.jsonl into the first free earlier-attempt-N/ so that the
// restarted run's logs and curves hold only what it did, and nothing of the attempt is lost.
fs::path move_earlier_attempt(const RunDir& dir) {
  fs::path to;
  for (int n = 1; fs::exists(to = dir.root / ("earlier-attempt-" + std::to_string(n))); ++n) {
  }
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) throw RuntimeError("cannot create '" + to.string() + "': " + ec.message());
  for (const auto& f : {dir.log_file(), dir.metrics_file(), dir.config_file()}) {
    if (!fs::exists(f)) continue;
    fs::rename(f, to / f.filename(), ec);
    if (ec) throw RuntimeError("cannot move '" + f.string() + "' to '" + to.string() + "': " + ec.message());
  }
  return to;
}

}  // namespace

void check_run_dir(const Config& config, RunDirMode mode) {
  const RunDir dir = run_dir_for(config);
  const bool has_run = fs::exists(dir.config_file());
  if (mode == RunDirMode::kFresh && has_run)
    throw ConfigError("run directory '" + dir.root.string() +
                      "' already holds a run: pass --resume auto to continue it, or choose another --name");
  if (mode == RunDirMode::kResume && !has_run)
    throw ConfigError("cannot resume: '" + dir.root.string() + "' holds no run (no config.json)");
}

RunDir create_run_dir(const Config& config, RunDirMode mode, fs::path* moved_to) {
  check_run_dir(config, mode);
  RunDir dir = run_dir_for(config);
  if (mode == RunDirMode::kRestart && fs::exists(dir.config_file())) {
    const auto to = move_earlier_attempt(dir);
    if (moved_to) *moved_to = to;
  }
  std::error_code ec;
  for (const auto& d : {dir.root, dir.checkpoints(), dir.report()}) {
    fs::create_directories(d, ec);
    if (ec) throw RuntimeError("cannot create '" + d.string() + "': " + ec.message());
  }
  write_file_atomically(dir.config_file(), config_to_json(config).dump(2) + "\n");
  return dir;
}

}  // namespace finch
