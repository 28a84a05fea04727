#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "finch/core/logging.h"

namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST(Logging, RankZeroWritesInfoToTheFileWithoutPrefixWhenAlone) {
  const auto path = fs::temp_directory_path() / "finch_log_rank0.log";
  fs::remove(path);
  finch::setup_logging({0, 1, finch::LogLevel::kInfo, false});
  finch::add_log_file(path.string());
  spdlog::info("epoch {} done", 3);
  spdlog::debug("hidden at info level");
  spdlog::default_logger()->flush();
  const auto text = read(path);
  EXPECT_NE(text.find("[info] epoch 3 done"), std::string::npos) << text;
  EXPECT_EQ(text.find("hidden"), std::string::npos);
  EXPECT_EQ(text.find("rank"), std::string::npos);
}

TEST(Logging, OtherRanksLogWarningsOnlyWithTheirRank) {
  const auto path = fs::temp_directory_path() / "finch_log_rank1.log";
  fs::remove(path);
  finch::setup_logging({1, 4, finch::LogLevel::kInfo, false});
  finch::add_log_file(path.string());
  spdlog::info("not shown on rank 1");
  spdlog::warn("loader skipped {} images", 2);
  spdlog::default_logger()->flush();
  const auto text = read(path);
  EXPECT_EQ(text.find("not shown"), std::string::npos) << text;
  EXPECT_NE(text.find("[rank 1] [warning] loader skipped 2 images"), std::string::npos) << text;
  // logging.all_ranks: everything, still prefixed.
  finch::setup_logging({1, 4, finch::LogLevel::kInfo, true});
  finch::add_log_file(path.string());
  spdlog::info("now shown");
  spdlog::default_logger()->flush();
  EXPECT_NE(read(path).find("[rank 1] [info] now shown"), std::string::npos);
}
