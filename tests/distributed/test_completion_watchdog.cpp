// The watchdog that bounds NCCL's stream-ordered collectives, with CPU stand-ins for the CUDA
// event polls: work that never finishes expires after the timeout, finished work never does, and
// a failed health check (an asynchronous NCCL error) expires at once.
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "finch/distributed/completion_watchdog.h"

namespace finch::distributed {
namespace {

using namespace std::chrono_literals;

struct Expiry {
  std::promise<std::pair<std::string, double>> promise;
  std::future<std::pair<std::string, double>> future = promise.get_future();
  CompletionWatchdog::Expired callback() {
    return [this](const std::string& what, double waited) { promise.set_value({what, waited}); };
  }
};

TEST(CompletionWatchdog, WorkThatNeverFinishesExpiresAfterTheTimeout) {
  Expiry e;
  CompletionWatchdog dog({0.3, 10ms}, e.callback());
  dog.watch("ncclAllReduce (bucket 0)", [] { return true; });
  dog.watch("ncclAllReduce (bucket 1)", [] { return false; });
  ASSERT_EQ(e.future.wait_for(5s), std::future_status::ready);
  const auto [what, waited] = e.future.get();
  EXPECT_EQ(what, "ncclAllReduce (bucket 1)");
  EXPECT_GT(waited, 0.3);
  EXPECT_TRUE(dog.expired());
}

TEST(CompletionWatchdog, FinishedWorkNeverExpires) {
  Expiry e;
  std::atomic<bool> finished{false};
  {
    CompletionWatchdog dog({0.5, 10ms}, e.callback());
    dog.watch("ncclBroadcast", [&] { return finished.load(); });
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(dog.pending(), 1u);
    finished = true;
    std::this_thread::sleep_for(700ms);  // past the timeout: it was done before
    EXPECT_EQ(dog.pending(), 0u);
    EXPECT_FALSE(dog.expired());
  }
  EXPECT_EQ(e.future.wait_for(0s), std::future_status::timeout);
}

TEST(CompletionWatchdog, AFailedHealthCheckExpiresAtOnce) {
  Expiry e;
  std::atomic<bool> broken{false};
  CompletionWatchdog dog({600, 10ms}, e.callback(), [&] { return broken ? std::string("NCCL: remote process exited") : std::string(); });
  dog.watch("ncclAllReduce", [] { return false; });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(dog.expired());
  broken = true;
  ASSERT_EQ(e.future.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(e.future.get().first, "NCCL: remote process exited");
}

}  // namespace
}  // namespace finch::distributed
