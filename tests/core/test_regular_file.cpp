// Note [Only regular files are opened]: a FIFO, a device or a directory is refused by name before
// anything reads from it; a missing file is a stream that is not good(), for the caller to name.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "finch/core/error.h"
#include "finch/core/regular_file.h"

namespace fs = std::filesystem;

TEST(RegularFile, OnlyARegularFileIsOpened) {
  const auto dir = fs::temp_directory_path() / "finch_regular_file";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "plain.txt") << "one line\n";
  std::string line;
  auto in = finch::open_regular((dir / "plain.txt").string());
  ASSERT_TRUE(in.good());
  std::getline(in, line);
  EXPECT_EQ(line, "one line");

  EXPECT_FALSE(finch::open_regular((dir / "missing.txt").string()).good());
  EXPECT_EQ(finch::open_regular_fd((dir / "missing.txt").string()), -1);

  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  const std::vector<std::pair<fs::path, std::string>> refused = {
      {dir / "fifo", "is a FIFO, not a regular file"}, {dir, "is a directory, not a regular file"}, {"/dev/zero", "is a device, not a regular file"}};
  for (const auto& [path, message] : refused) {
    for (int via_fd : {0, 1}) {
      try {  // a blocking open of the FIFO would hang here: the test's timeout is the other witness
        if (via_fd) finch::open_regular_fd(path.string());
        else finch::open_regular(path.string());
        ADD_FAILURE() << path << " was opened";
      } catch (const finch::RuntimeError& e) {
        EXPECT_NE(std::string(e.what()).find("'" + path.string() + "' " + message), std::string::npos) << e.what();
      }
    }
  }
}
