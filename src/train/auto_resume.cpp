#include "finch/train/auto_resume.h"

#include <filesystem>

#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/distributed/agree.h"
#include "finch/distributed/communicator.h"
#include "finch/io/checkpoint.h"

namespace finch::train {
namespace fs = std::filesystem;

AutoResume plan_auto_resume(const RunDir& dir) {
  if (!fs::exists(dir.config_file()))
    return {RunDirMode::kFresh, fmt::format("--resume auto: '{}' holds no run yet: starting it", dir.root.string())};
  std::vector<std::string> notes;
  if (!io::find_latest_checkpoint(dir.checkpoints().string(), &notes).empty()) return {RunDirMode::kResume, ""};
  // No intact periodic checkpoint. A finished one of another kind (best), or damaged ones, mean the
  // run got somewhere: refuse rather than start over on top of it. Temporary directories of a write
  // that was cut off (.ckpt-*.tmp) do not count.
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir.checkpoints(), ec)) {
    const auto name = e.path().filename().string();
    if (e.is_directory() && name.front() != '.') found.push_back(name);
  }
  if (!found.empty()) {
    std::string why;
    for (const auto& n : notes) why += "\n  " + n;
    throw ConfigError(fmt::format(
        "--resume auto: '{}' holds {} checkpoint(s) ({}{}) but no intact periodic one to resume from; not starting over on top "
        "of them. See `finch inspect --checkpoint {}`; resume one explicitly with --resume DIR, or move them away to start "
        "again{}",
        dir.checkpoints().string(), found.size(), found.front(), found.size() > 1 ? ", ..." : "", dir.root.string(), why));
  }
  return {RunDirMode::kRestart,
          fmt::format("--resume auto: '{}' holds a run that wrote no checkpoint before it ended: starting it again from the beginning",
                      dir.root.string())};
}

ResumePlan plan_resume(distributed::Communicator& comm, const Config& config, const RunDir& dir, const std::string& resume,
                       bool into_new_run) {
  AutoResume found{resume.empty() || into_new_run ? RunDirMode::kFresh : RunDirMode::kResume, ""};
  distributed::run_agreed(comm, [&] {
    if (comm.rank() != 0) return;
    if (resume == "auto") found = plan_auto_resume(dir);
    check_run_dir(config, found.mode);
  });
  // Rank 0 looked; every rank follows its answer (the others never read the directory).
  ResumePlan plan;
  plan.mode = static_cast<RunDirMode>(comm.broadcast_value(static_cast<int64_t>(found.mode), 0));
  if (plan.mode == RunDirMode::kResume) plan.from = resume == "auto" ? dir.root.string() : resume;
  if (into_new_run) {
    plan.from = resume;
    found.why = fmt::format("a new run continuing from {} (that run is only read)", resume);
  }
  plan.why = found.why;  // rank 0's, which alone logs it
  return plan;
}

}  // namespace finch::train
