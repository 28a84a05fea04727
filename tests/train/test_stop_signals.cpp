// StopSignals with real signals, each case in a forked child (gtest death tests): a stop signal is
// recorded, not fatal; the default handlers come back when none arrived; once one did, the handlers
// stay, so a launcher's repeated SIGTERM cannot turn the preempted exit into a signal death.
#include <signal.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "finch/train/stop_signals.h"

namespace finch::train {
namespace {

TEST(StopSignalsDeathTest, RecordsTheFirstSignal) {
  EXPECT_EXIT(
      {
        StopSignals s;
        raise(SIGUSR1);
        raise(SIGTERM);
        std::exit(StopSignals::received() == SIGUSR1 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(StopSignalsDeathTest, RestoresTheDefaultWhenNoSignalArrived) {
  EXPECT_EXIT(
      {
        { StopSignals s; }
        raise(SIGTERM);
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGTERM), "");
}

TEST(StopSignalsDeathTest, KeepsTheHandlersAfterAStop) {
  EXPECT_EXIT(
      {
        {
          StopSignals s;
          raise(SIGTERM);
        }
        raise(SIGTERM);  // the launcher again, while the process leaves
        std::exit(kExitPreempted);
      },
      ::testing::ExitedWithCode(kExitPreempted), "");
}

}  // namespace
}  // namespace finch::train
