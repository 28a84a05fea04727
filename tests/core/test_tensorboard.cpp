#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "finch/core/build_info.h"
#include "finch/core/error.h"
#include "finch/core/tensorboard.h"

#if FINCH_HAS_TENSORBOARD
#include "finch/core/tfrecord.h"
#include "tensorboard_event.pb.h"
#endif

namespace fs = std::filesystem;
using finch::TensorBoardWriter;

#if FINCH_HAS_TENSORBOARD
namespace {
// The events of a TFRecord file, each record's framing and CRCs checked on the way.
std::vector<tensorboard::Event> read_events(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<tensorboard::Event> events;
  auto u32 = [&](size_t at) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
    return v;
  };
  size_t at = 0;
  while (at < bytes.size()) {
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
    EXPECT_EQ(u32(at + 8), finch::masked_crc32c(bytes.data() + at, 8));
    const std::string data = bytes.substr(at + 12, n);
    EXPECT_EQ(u32(at + 12 + n), finch::masked_crc32c(data.data(), data.size()));
    tensorboard::Event e;
    EXPECT_TRUE(e.ParseFromString(data));
    events.push_back(e);
    at += 12 + n + 4;
  }
  return events;
}
}  // namespace

// The published check value of CRC-32C (RFC 3720, B.4): "123456789" -> 0xE3069283.
TEST(TfRecord, Crc32cIsCastagnolis) {
  EXPECT_EQ(finch::crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(finch::crc32c("", 0), 0u);
}

TEST(TfRecord, FramesLengthCrcDataCrc) {
  const std::string r = finch::tfrecord("finch");
  ASSERT_EQ(r.size(), 8u + 4 + 5 + 4);
  EXPECT_EQ(static_cast<unsigned char>(r[0]), 5);
  for (int i = 1; i < 8; ++i) EXPECT_EQ(r[static_cast<size_t>(i)], 0) << "little-endian length";
  EXPECT_EQ(r.substr(12, 5), "finch");
}

TEST(TensorBoardWriter, MirrorsEveryNumberOfARecordAtItsStep) {
  const fs::path dir = fs::path(testing::TempDir()) / "finch_tb_mirror";
  fs::remove_all(dir);
  fs::path file;
  {
    TensorBoardWriter tb(dir, -1);
    file = tb.path();
    tb.record({{"kind", "start"}, {"world_size", 2}});
    tb.record({{"kind", "step"}, {"epoch", 0}, {"step", 7}, {"loss", 2.5}, {"lr", 0.01}, {"time", 123}});
    tb.record({{"kind", "epoch"}, {"epoch", 0}, {"step", 12}, {"val_acc", 0.25}, {"partial", false}, {"arch", "b0"}});
    tb.record({{"kind", "test"}, {"test_acc", 0.5}});  // no step: the last one seen
  }
  ASSERT_NE(file.filename().string().find("tfevents"), std::string::npos) << "TensorBoard reads files named *tfevents*";
  const auto ev = read_events(file);
  ASSERT_EQ(ev.size(), 4u) << "version, step, epoch, test (start records are left out)";
  EXPECT_EQ(ev[0].file_version(), "brain.Event:2");
  auto values = [](const tensorboard::Event& e) {
    std::map<std::string, float> m;
    for (const auto& v : e.summary().value()) m[v.tag()] = v.simple_value();
    return m;
  };
  EXPECT_EQ(ev[1].step(), 7);
  EXPECT_EQ(values(ev[1]), (std::map<std::string, float>{{"train/epoch", 0.f}, {"train/loss", 2.5f}, {"train/lr", 0.01f}}));
  EXPECT_EQ(ev[2].step(), 12);
  EXPECT_EQ(values(ev[2]), (std::map<std::string, float>{{"epoch/epoch", 0.f}, {"epoch/val_acc", 0.25f}, {"epoch/partial", 0.f}}));
  EXPECT_EQ(ev[3].step(), 12);
  EXPECT_EQ(values(ev[3]), (std::map<std::string, float>{{"test/test_acc", 0.5f}}));
}

// Note [TensorBoard across a resume]: a resumed run's file opens with SessionLog.START at its first
// new step, which tells TensorBoard to drop what an earlier session logged from there on.
TEST(TensorBoardWriter, AResumedRunStartsASessionAtItsFirstStep) {
  const fs::path dir = fs::path(testing::TempDir()) / "finch_tb_resume";
  fs::remove_all(dir);
  fs::path file;
  {
    TensorBoardWriter tb(dir, 25);
    file = tb.path();
    tb.text("config", "```json\n{}\n```", 24);
  }
  const auto ev = read_events(file);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[1].session_log().status(), tensorboard::SessionLog::START);
  EXPECT_EQ(ev[1].step(), 25);
  const auto& text = ev[2].summary().value(0);
  EXPECT_EQ(text.tag(), "config");
  EXPECT_EQ(text.metadata().plugin_data().plugin_name(), "text");
  EXPECT_EQ(text.tensor().dtype(), tensorboard::DT_STRING);
  EXPECT_EQ(text.tensor().string_val(0), "```json\n{}\n```");
}
#else
TEST(TensorBoardWriter, ABuildWithoutProtobufSaysSo) {
  EXPECT_FALSE(TensorBoardWriter::available());
  EXPECT_THROW(TensorBoardWriter(fs::path(testing::TempDir()), -1), finch::RuntimeError);
}
#endif
