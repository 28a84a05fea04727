#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "finch/core/config.h"
#include "finch/core/error.h"
#include "finch/core/metrics.h"
#include "finch/core/run_dir.h"
#include "finch/core/seed.h"

namespace fs = std::filesystem;

namespace {

finch::Config temp_config(const std::string& name) {
  finch::Config c;
  c.output_dir = (fs::temp_directory_path() / "finch_run_dir_test").string();
  c.name = name;
  fs::remove_all(fs::path(c.output_dir) / name);
  return c;
}

std::vector<std::string> lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST(RunDir, FreshRunCreatesLayoutAndResolvedConfig) {
  auto c = temp_config("fresh");
  c.train.epochs = 7;
  const auto dir = finch::create_run_dir(c, finch::RunDirMode::kFresh);
  EXPECT_TRUE(fs::is_directory(dir.checkpoints()));
  EXPECT_TRUE(fs::is_directory(dir.report()));
  std::ifstream in(dir.config_file());
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["train"]["epochs"], 7);
  EXPECT_EQ(j["name"], "fresh");
  EXPECT_FALSE(fs::exists(dir.config_file().string() + ".tmp"));
}

TEST(RunDir, FreshRunRefusesToOverwriteAndResumeNeedsARun) {
  auto c = temp_config("twice");
  EXPECT_THROW(finch::create_run_dir(c, finch::RunDirMode::kResume), finch::ConfigError);
  finch::create_run_dir(c, finch::RunDirMode::kFresh);
  try {
    finch::create_run_dir(c, finch::RunDirMode::kFresh);
    FAIL() << "a second fresh run must not reuse the directory";
  } catch (const finch::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--resume auto"), std::string::npos);
  }
  EXPECT_NO_THROW(finch::create_run_dir(c, finch::RunDirMode::kResume));
}

TEST(Metrics, AppendsOneObjectPerLineAcrossWriters) {
  const auto c = temp_config("metrics");
  const auto dir = finch::create_run_dir(c, finch::RunDirMode::kFresh);
  {
    finch::MetricsWriter w(dir.metrics_file().string());
    w.write({{"kind", "step"}, {"step", 1}, {"loss", 2.5}});
  }
  {
    finch::MetricsWriter w(dir.metrics_file().string());  // a resumed run appends
    w.write({{"kind", "epoch"}, {"epoch", 0}, {"val_acc", 0.25}});
  }
  const auto l = lines(dir.metrics_file());
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(l[0])["loss"], 2.5);
  EXPECT_EQ(nlohmann::json::parse(l[1])["kind"], "epoch");
  finch::MetricsWriter disabled;
  EXPECT_FALSE(disabled.enabled());
  disabled.write({{"x", 1}});  // no-op, no crash
}

TEST(Metrics, UnwritablePathIsAClearError) {
  EXPECT_THROW(finch::MetricsWriter("/nonexistent/dir/metrics.jsonl"), finch::RuntimeError);
}

TEST(Seed, DerivedSeedsDependOnEveryPartOnly) {
  EXPECT_EQ(finch::derive_seed(42, {1, 2}), finch::derive_seed(42, {1, 2}));
  EXPECT_NE(finch::derive_seed(42, {1, 2}), finch::derive_seed(42, {2, 1}));
  EXPECT_NE(finch::derive_seed(42, {1, 2}), finch::derive_seed(43, {1, 2}));
  EXPECT_NE(finch::derive_seed(42, {0}), finch::derive_seed(42, {}));
}
