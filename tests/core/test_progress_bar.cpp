#include <gtest/gtest.h>

#include "finch/core/progress_bar.h"

TEST(ProgressBar, DurationsAsTqdmWritesThem) {
  EXPECT_EQ(finch::format_duration(0), "00:00");
  EXPECT_EQ(finch::format_duration(59.4), "00:59");
  EXPECT_EQ(finch::format_duration(61), "01:01");
  EXPECT_EQ(finch::format_duration(3599), "59:59");
  EXPECT_EQ(finch::format_duration(3600 * 2 + 5 * 60 + 7), "2:05:07");
}
