#include "finch/core/run_dir.h"

#include "finch/core/atomic_file.h"
#include "finch/core/error.h"

namespace finch {
namespace fs = std::filesystem;

RunDir run_dir_for(const Config& config) { return RunDir{fs::path(config.output_dir) / config.name}; }

RunDir create_run_dir(const Config& config, RunDirMode mode) {
  RunDir dir = run_dir_for(config);
  const bool has_run = fs::exists(dir.config_file());
  if (mode == RunDirMode::kFresh && has_run)
    throw ConfigError("run directory '" + dir.root.string() +
                      "' already holds a run: pass --resume auto to continue it, or choose another --name");
  if (mode == RunDirMode::kResume && !has_run)
    throw ConfigError("cannot resume: '" + dir.root.string() + "' holds no run (no config.json)");
  std::error_code ec;
  for (const auto& d : {dir.root, dir.checkpoints(), dir.report()}) {
    fs::create_directories(d, ec);
    if (ec) throw RuntimeError("cannot create '" + d.string() + "': " + ec.message());
  }
  write_file_atomically(dir.config_file(), config_to_json(config).dump(2) + "\n");
  return dir;
}

}  // namespace finch
