// --resume auto: what it does with each state a run directory can be in when a job (re)starts.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "finch/core/config.h"
#include "finch/core/error.h"
#include "finch/core/run_dir.h"
#include "finch/io/checkpoint.h"
#include "finch/train/auto_resume.h"

namespace fs = std::filesystem;
using finch::RunDirMode;

namespace {

finch::Config temp_config(const std::string& name) {
  finch::Config c;
  c.output_dir = (fs::temp_directory_path() / "finch_auto_resume_test").string();
  c.name = name;
  fs::remove_all(fs::path(c.output_dir) / name);
  return c;
}

void write_text(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

void a_checkpoint(const finch::RunDir& dir, const std::string& name) {
  finch::io::CheckpointData d;
  d.model = {{"w", torch::ones({2, 2})}};
  d.optimizer = {{"g0.p0.exp_avg", torch::zeros({2, 2})}};
  d.state = {{"global_step", 3}};
  finch::io::write_checkpoint(dir.checkpoints().string(), name, d);
}

}  // namespace

TEST(AutoResume, NoRunYetStartsFresh) {
  const auto c = temp_config("none");
  const auto plan = finch::train::plan_auto_resume(finch::run_dir_for(c));
  EXPECT_EQ(plan.mode, RunDirMode::kFresh);
  EXPECT_NE(plan.why.find("holds no run yet"), std::string::npos) << plan.why;
  EXPECT_NO_THROW(finch::create_run_dir(c, plan.mode));
}

TEST(AutoResume, AnIntactCheckpointResumes) {
  const auto c = temp_config("resume");
  const auto dir = finch::create_run_dir(c, RunDirMode::kFresh);
  a_checkpoint(dir, finch::io::periodic_name(3));
  EXPECT_EQ(finch::train::plan_auto_resume(dir).mode, RunDirMode::kResume);
}

TEST(AutoResume, ARunWithoutCheckpointRestartsAndKeepsItsLogs) {
  auto c = temp_config("restart");
  const auto dir = finch::create_run_dir(c, RunDirMode::kFresh);
  write_text(dir.log_file(), "first attempt\n");
  write_text(dir.metrics_file(), "{\"kind\":\"start\"}\n");
  fs::create_directories(dir.checkpoints() / ".ckpt-0000000003.tmp");  // a write cut off: does not count
  const auto plan = finch::train::plan_auto_resume(dir);
  ASSERT_EQ(plan.mode, RunDirMode::kRestart) << plan.why;
  EXPECT_NE(plan.why.find("wrote no checkpoint"), std::string::npos) << plan.why;
  c.train.epochs = 9;
  fs::path moved;
  finch::create_run_dir(c, plan.mode, &moved);
  EXPECT_EQ(moved, dir.root / "earlier-attempt-1");
  EXPECT_EQ(read_text(moved / "train.log"), "first attempt\n");
  EXPECT_EQ(read_text(moved / "metrics.jsonl"), "{\"kind\":\"start\"}\n");
  EXPECT_FALSE(fs::exists(dir.metrics_file()));  // the restarted run's curves hold only its own records
  EXPECT_NE(read_text(dir.config_file()).find("\"epochs\": 9"), std::string::npos);
  // A second failed attempt goes next to the first.
  write_text(dir.log_file(), "second attempt\n");
  finch::create_run_dir(c, RunDirMode::kRestart, &moved);
  EXPECT_EQ(moved, dir.root / "earlier-attempt-2");
  EXPECT_EQ(read_text(moved / "train.log"), "second attempt\n");
}

TEST(AutoResume, CheckpointsNoneIntactIsAnErrorNotAFreshStart) {
  const auto c = temp_config("damaged");
  const auto dir = finch::create_run_dir(c, RunDirMode::kFresh);
  a_checkpoint(dir, finch::io::periodic_name(3));
  const auto ckpt = dir.checkpoints() / finch::io::periodic_name(3);
  fs::resize_file(ckpt / "model.safetensors", fs::file_size(ckpt / "model.safetensors") / 2);
  try {
    finch::train::plan_auto_resume(dir);
    FAIL() << "a run whose only checkpoint is damaged must not start over";
  } catch (const finch::ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("no intact periodic one"), std::string::npos) << what;
    EXPECT_NE(what.find("ckpt-0000000003"), std::string::npos) << what;
  }
}
