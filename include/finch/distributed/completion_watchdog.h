// A watchdog for work that completes asynchronously (NCCL collectives enqueued on a CUDA stream):
// the caller registers each piece of work with a poll that says whether it finished; a thread
// polls them and, when one has waited longer than the timeout or the health check fails (an
// asynchronous NCCL error: a peer died), calls `on_expire` once. The MPI path's equivalent, for
// blocking collectives, is watchdog.h; this one covers work no thread waits on.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "finch/core/clock.h"

namespace finch::distributed {

struct CompletionWatchdogOptions {
  double timeout_s = 600;                         // dist.timeout_s; <= 0: never expires on time
  std::chrono::milliseconds poll{100};            // how often the thread looks
};

class CompletionWatchdog {
 public:
  using Done = std::function<bool()>;            // polled on the watchdog thread; true once finished
  using Healthy = std::function<std::string()>;  // polled too; non-empty: what went wrong
  // what: the pending work that expired (or the health problem); waited: its age in seconds.
  using Expired = std::function<void(const std::string& what, double waited)>;

  CompletionWatchdog(CompletionWatchdogOptions options, Expired on_expire, Healthy healthy = {});
  ~CompletionWatchdog();  // stops the thread; pending work is dropped
  CompletionWatchdog(const CompletionWatchdog&) = delete;
  CompletionWatchdog& operator=(const CompletionWatchdog&) = delete;

  // Registers work enqueued now. Work finishes in the order it was registered (one stream), so
  // only the oldest unfinished one is polled.
  void watch(std::string what, Done done);
  size_t pending() const;
  bool expired() const { return expired_; }

 private:
  struct Item {
    std::string what;
    Done done;
    Clock::time_point since;
  };
  void run();

  CompletionWatchdogOptions options_;
  Expired on_expire_;
  Healthy healthy_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> items_;
  bool stop_ = false;
  std::atomic<bool> expired_{false};
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace finch::distributed
