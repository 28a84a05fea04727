#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "finch/core/error.h"
#include "finch/core/trace.h"

namespace fs = std::filesystem;
namespace trace = finch::trace;

// Note [The step timeline]: spans count only between start and stop, each on its thread's named
// track, as complete ("X") events in microseconds from start.
TEST(Trace, RecordsSpansOnlyWhileRecordingEachThreadItsTrack) {
  { trace::Span before("before"); }
  trace::start(3);
  EXPECT_TRUE(trace::recording());
  { trace::Span forward("forward"); }
  std::thread other([] {
    trace::name_thread("reducer");
    trace::Span s(std::string("all-reduce 1.00 MB"), "comm");
  });
  other.join();
  const fs::path path = fs::path(testing::TempDir()) / "finch_trace.json";
  EXPECT_EQ(trace::stop_and_write(path), 2u);
  EXPECT_FALSE(trace::recording());
  { trace::Span after("after"); }
  std::ifstream in(path);
  const auto doc = nlohmann::json::parse(in);
  std::map<int, std::string> tracks;
  std::vector<nlohmann::json> spans;
  for (const auto& e : doc["traceEvents"]) {
    EXPECT_EQ(e["pid"], 3);
    if (e["ph"] == "M" && e["name"] == "thread_name") tracks[e["tid"].get<int>()] = e["args"]["name"];
    if (e["ph"] == "X") spans.push_back(e);
  }
  ASSERT_EQ(spans.size(), 2u) << "only the spans between start and stop";
  EXPECT_EQ(spans[0]["name"], "forward");
  EXPECT_EQ(tracks.at(spans[0]["tid"].get<int>()), "training");
  EXPECT_EQ(spans[1]["name"], "all-reduce 1.00 MB");
  EXPECT_EQ(spans[1]["cat"], "comm");
  EXPECT_EQ(tracks.at(spans[1]["tid"].get<int>()), "reducer");
  EXPECT_GE(spans[0]["ts"].get<int64_t>(), 0);
  EXPECT_GE(spans[0]["dur"].get<int64_t>(), 0);
}

TEST(Trace, StepsAreAColonB) {
  EXPECT_FALSE(trace::parse_steps("").has_value());
  EXPECT_EQ(trace::parse_steps("20:25"), std::make_pair(int64_t{20}, int64_t{25}));
  EXPECT_EQ(trace::parse_steps("7:7"), std::make_pair(int64_t{7}, int64_t{7}));
  for (const char* bad : {"20", "25:20", "0:3", "a:b", "3:", ":3", "3:4x", "-1:2"})
    EXPECT_THROW(trace::parse_steps(bad), finch::ConfigError) << bad;
}
