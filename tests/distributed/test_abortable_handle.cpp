#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "finch/distributed/abortable_handle.h"

using finch::distributed::AbortableHandle;

namespace {
// Stands in for an NCCL communicator: "destroyed" marks it instead of freeing it, so a use after
// the destruction is seen (and counted) instead of being undefined behaviour.
struct FakeComm {
  std::atomic<bool> destroyed{false};
};
}  // namespace

// Note [Aborting a communicator another thread uses]: a watchdog thread asks the communicator for
// errors in a loop while the owner takes it and destroys it, many times over; no use may ever see
// a destroyed one. (With the handle a plain atomic pointer, loaded and then used, uses after the
// destruction showed up within the first rounds.)
TEST(AbortableHandle, NoUseSeesAHandleAfterItWasTakenAndDestroyed) {
  constexpr int kRounds = 2000;
  std::vector<std::unique_ptr<FakeComm>> comms;
  for (int i = 0; i < kRounds; ++i) comms.push_back(std::make_unique<FakeComm>());
  std::atomic<int> after_destroy{0}, uses{0};
  for (int i = 0; i < kRounds; ++i) {
    AbortableHandle<FakeComm*> handle(comms[static_cast<size_t>(i)].get());
    std::atomic<bool> stop{false};
    std::thread watchdog([&] {
      while (!stop.load()) {
        handle.use([&](FakeComm* c) {
          std::this_thread::yield();  // widens the window a check-then-use race would need
          if (c->destroyed.load()) ++after_destroy;
          ++uses;
        });
      }
    });
    std::this_thread::yield();
    if (FakeComm* c = handle.take()) c->destroyed.store(true);  // ncclCommAbort
    EXPECT_EQ(handle.take(), nullptr) << "taken twice";
    EXPECT_FALSE(handle.use([](FakeComm*) {})) << "used after it was taken";
    stop.store(true);
    watchdog.join();
  }
  EXPECT_EQ(after_destroy.load(), 0);
  EXPECT_GT(uses.load(), 0);
}
