// A run's state from its directory (finch sweep list) and the lock of
// Note [One trainer per run directory].
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "finch/core/error.h"
#include "finch/core/run_lock.h"
#include "finch/core/run_state.h"

namespace fs = std::filesystem;
using finch::RunState;

namespace {

// A run directory with config.json and these metrics lines.
std::string run_with(const std::string& name, const std::vector<std::string>& records, bool config = true) {
  const auto dir = fs::temp_directory_path() / "finch_run_state_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  if (config) std::ofstream(dir / "config.json") << "{}";
  std::ofstream m(dir / "metrics.jsonl");
  for (const auto& r : records) m << r << "\n";
  return dir.string();
}

const std::string kStart = R"({"kind":"start","world_size":2})";
const std::string kEpoch = R"({"kind":"epoch","epoch":0,"step":85,"val_acc":0.2})";
const std::string kTest = R"({"kind":"test","test_acc":0.5512})";

}  // namespace

TEST(RunState, PendingWithoutARun) {
  EXPECT_EQ(finch::read_run_state("/nonexistent_finch_run").state, RunState::kPending);
  EXPECT_EQ(finch::read_run_state(run_with("pending", {}, /*config=*/false)).state, RunState::kPending);
}

TEST(RunState, TheLastSegmentDecides) {
  const auto preempted = run_with("preempted", {kStart, kEpoch, R"j({"kind":"end","reason":"preempted (SIGUSR1 on rank 0)"})j"});
  finch::RunLock::acquire(preempted);  // a lock file that nobody holds now
  EXPECT_EQ(finch::read_run_state(preempted).state, RunState::kPreempted);
  const auto done = run_with("done", {kStart, kEpoch, R"j({"kind":"end","reason":"preempted (SIGUSR1 on rank 0)"})j", kStart, kTest,
                                      R"({"kind":"end","reason":"early stopping"})"});
  const auto st = finch::read_run_state(done);
  EXPECT_EQ(st.state, RunState::kDone);
  EXPECT_NE(st.detail.find("early stopping, test top-1 55.12%"), std::string::npos) << st.detail;
  // Done once, started again (a --resume of a finished run) and still going: not done.
  const auto again = run_with("again", {kStart, kTest, R"({"kind":"end","reason":"max_epochs"})", kStart});
  finch::RunLock::acquire(again);
  EXPECT_EQ(finch::read_run_state(again).state, RunState::kFailed);
  const auto nan = run_with("nan", {kStart, kEpoch, R"({"kind":"end","reason":"non-finite loss"})"});
  EXPECT_EQ(finch::read_run_state(nan).state, RunState::kFailed);
}

TEST(RunState, RunningWhileTheLockIsHeldFailedOnceItIsNot) {
  const auto dir = run_with("running", {kStart, kEpoch});
  {
    auto lock = finch::RunLock::acquire(dir);
    const auto st = finch::read_run_state(dir);
    EXPECT_EQ(st.state, RunState::kRunning);
    EXPECT_NE(st.detail.find("pid"), std::string::npos) << st.detail;
    // A second trainer on the same directory is refused, naming the first.
    try {
      finch::RunLock::acquire(dir);
      FAIL() << "a second lock was granted";
    } catch (const finch::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("is in use by host"), std::string::npos) << e.what();
    }
  }
  const auto st = finch::read_run_state(dir);
  EXPECT_EQ(st.state, RunState::kFailed);  // the process "died": no end record, nobody holds the lock
  EXPECT_NE(st.detail.find("without an end record"), std::string::npos) << st.detail;
  // No lock file at all (a filesystem without locks, an older finch): it cannot tell.
  fs::remove(finch::run_lock_file(dir));
  EXPECT_EQ(finch::read_run_state(dir).state, RunState::kStarted);
}
