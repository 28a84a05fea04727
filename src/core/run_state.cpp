#include "finch/core/run_state.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "finch/core/bounded_json.h"
#include "finch/core/regular_file.h"
#include "finch/core/run_lock.h"

namespace finch {
namespace fs = std::filesystem;

const char* run_state_name(RunState s) {
  switch (s) {
    case RunState::kPending: return "pending";
    case RunState::kRunning: return "running";
    case RunState::kDone: return "done";
    case RunState::kPreempted: return "preempted";
    case RunState::kFailed: return "failed";
    case RunState::kStarted: return "started";
  }
  return "?";
}

RunStatus read_run_state(const std::string& run_dir) {
  RunStatus st;
  std::string holder;
  const LockProbe lock = probe_run_lock(run_dir, &holder);
  std::error_code ec;
  if (!fs::exists(fs::path(run_dir) / "config.json", ec)) {
    if (lock == LockProbe::kHeld) return {RunState::kRunning, "starting, " + holder, 0};
    return st;
  }
  // The last segment: the records after the last "start" (a resumed run appends one per start).
  // A line that does not parse (a write cut off by a dying node) is passed over: the state is a
  // summary, `finch report` names such lines.
  nlohmann::json end, last_epoch, test;
  int epochs = 0;
  bool started = false;
  std::ifstream in = open_regular((fs::path(run_dir) / "metrics.jsonl").string());
  std::string line;
  while (in && std::getline(in, line)) {
    const auto r = parse_bounded_json(line);
    if (r.is_discarded() || !r.is_object()) continue;
    const std::string kind = r.value("kind", std::string());
    if (kind == "start") {
      started = true;
      end = nlohmann::json();
      test = nlohmann::json();
    } else if (kind == "epoch") {
      last_epoch = r;
      ++epochs;
    } else if (kind == "end") {
      end = r;
    } else if (kind == "test") {
      test = r;
    }
  }
  st.epochs = epochs;
  std::string where = last_epoch.is_object()
                          ? fmt::format("epoch {} done, step {}", last_epoch.value("epoch", 0), last_epoch.value("step", int64_t{0}))
                          : std::string(started ? "no epoch finished yet" : "no record yet");
  if (lock == LockProbe::kHeld) return {RunState::kRunning, where + ", " + holder, epochs};
  if (!end.is_object()) {
    if (lock == LockProbe::kUnknown) return {RunState::kStarted, where + "; no end record, no lock to tell whether it still runs", epochs};
    return {RunState::kFailed, where + "; ended without an end record (killed or crashed: see its train.log and the job's output)", epochs};
  }
  const std::string reason = end.value("reason", std::string());
  if (reason.rfind("preempted", 0) == 0) return {RunState::kPreempted, where + "; " + reason + ": --resume auto continues it", epochs};
  if (reason == "non-finite loss") return {RunState::kFailed, where + "; stopped on a non-finite loss", epochs};
  std::string detail = where + "; " + reason;
  if (test.is_object() && test.contains("test_acc") && test["test_acc"].is_number())
    detail += fmt::format(", test top-1 {:.2f}%", 100 * test["test_acc"].get<double>());
  return {RunState::kDone, detail, epochs};
}

}  // namespace finch
