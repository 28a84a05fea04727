#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "finch/core/error.h"
#include "finch/report/report.h"
#include "finch/report/run_metrics.h"

namespace fs = std::filesystem;
using namespace finch::report;

namespace {

// A run directory holding the recorded metrics.jsonl (a 2-rank run resumed on 4 ranks).
std::string recorded_run(const std::string& name) {
  const auto dir = fs::temp_directory_path() / "finch_report_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(fs::path(FINCH_TEST_DIR) / "report" / "fixture_metrics.jsonl", dir / "metrics.jsonl");
  return dir.string();
}

std::string read(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST(RunMetrics, SeriesFromARecordedRun) {
  const auto m = read_run_metrics(recorded_run("series"));
  ASSERT_EQ(m.epochs.size(), 4u);
  EXPECT_EQ(m.arch, "efficientnet_b0");
  EXPECT_EQ(m.params_trainable, 1010200);
  EXPECT_EQ(m.world_size, 4);  // the latest segment
  EXPECT_DOUBLE_EQ(m.epochs[1].val_acc.value(), 0.41);
  EXPECT_DOUBLE_EQ(m.epochs[3].train_loss, 2.0);
  EXPECT_EQ(m.best_epoch, 2);
  EXPECT_DOUBLE_EQ(m.test_acc.value(), 0.5512);
  EXPECT_DOUBLE_EQ(m.wall_s, 195.0);  // both segments
  EXPECT_EQ(m.steps, 254);
}

TEST(RunMetrics, MalformedLineNamesFileAndLine) {
  const auto dir = recorded_run("malformed");
  std::ofstream(dir + "/metrics.jsonl", std::ios::app) << "{not json\n";
  try {
    read_run_metrics(dir);
    FAIL();
  } catch (const finch::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("metrics.jsonl:11"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_run_metrics("/nonexistent_run"), finch::RuntimeError);
}

TEST(Report, WritesCurvesAndASummaryWithTheExpectedNumbers) {
  const auto dir = recorded_run("report");
  const auto files = write_run_report(dir);
  ASSERT_EQ(files.size(), 3u);
  const auto png = read(dir + "/report/curves.png");
  ASSERT_GT(png.size(), 1000u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  const auto svg = read(dir + "/report/curves.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  const auto md = read(dir + "/report/summary.md");
  EXPECT_NE(md.find("| efficientnet_b0 | last_blocks:1+bn | 4,263,748 | 1,010,200 | 4 | 3 | 212 | 56.25% (2) | 55.12% | 79.33% | 54.87% |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| 3 | 254 | 2.0000 | 60.00% | 2.3000 | 55.00% | 81.00% |"), std::string::npos) << md;
}

TEST(Report, ComparisonHasOneRowPerRun) {
  const auto a = recorded_run("run_a"), b = recorded_run("run_b");
  const auto out = (fs::temp_directory_path() / "finch_report_test" / "cmp").string();
  write_comparison({a, b}, out);
  const auto md = read(out + "/comparison.md");
  EXPECT_NE(md.find("| **best** run_a |"), std::string::npos) << md;  // a tie goes to the first run listed
  EXPECT_NE(md.find("| run_b |"), std::string::npos) << md;
  EXPECT_EQ(read(out + "/compare.png").substr(1, 3), "PNG");
}

namespace {

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// The recorded run with one line's text replaced.
std::string edited_run(const std::string& name, const std::string& from, const std::string& to) {
  const auto dir = recorded_run(name);
  std::string m = read(dir + "/metrics.jsonl");
  const auto at = m.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) m.replace(at, from.size(), to);
  write_text(dir + "/metrics.jsonl", m);
  return dir;
}

}  // namespace

TEST(Report, ComparisonColumnsAreTheVariedKeysAndTheBestRunIsMarked) {
  // b validates better (0.70 at epoch 3) but tests worse: the mark follows validation.
  const auto a = recorded_run("varied_a");
  const auto b = edited_run("varied_b", "\"val_acc\":0.55,", "\"val_acc\":0.70,");
  write_text(a + "/config.json", R"({"name": "varied_a", "model": {"arch": "efficientnet_b0", "dropout": 0.2}, "optimizer": {"lr": 0.001}})");
  write_text(b + "/config.json", R"({"name": "varied_b", "model": {"arch": "efficientnet_b0", "dropout": 0.5}, "optimizer": {"lr": 0.001}})");
  const auto out = (fs::temp_directory_path() / "finch_report_test" / "varied_cmp").string();
  write_comparison({a, b}, out, {"run 2 `varied_c`: failed (killed)"});
  const auto md = read(out + "/comparison.md");
  EXPECT_NE(md.find("| run | model.dropout | arch |"), std::string::npos) << md;  // name, arch and lr are alike
  EXPECT_NE(md.find("| varied_a | 0.2 | efficientnet_b0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| **best** varied_b | 0.5 | efficientnet_b0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("70.00% (3)"), std::string::npos) << md;
  EXPECT_NE(md.find("- run 2 `varied_c`: failed (killed)"), std::string::npos) << md;
}

TEST(Report, BestRunFallsBackToTestAccuracyWithoutValidation) {
  RunMetrics x, y, z;
  x.test_acc = 0.4;
  y.test_acc = 0.6;
  std::string why;
  EXPECT_EQ(best_run({x, y, z}, &why), 1);
  EXPECT_NE(why.find("test top-1"), std::string::npos) << why;
  EXPECT_EQ(best_run({z}), -1);
  x.epochs.push_back({});
  x.epochs.back().val_acc = 0.1;  // one validated run: it is the best, whatever the tests say
  EXPECT_EQ(best_run({x, y}, &why), 0);
  EXPECT_NE(why.find("validation"), std::string::npos) << why;
}
