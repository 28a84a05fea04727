#include "finch/distributed/completion_watchdog.h"

namespace finch::distributed {

CompletionWatchdog::CompletionWatchdog(CompletionWatchdogOptions options, Expired on_expire, Healthy healthy)
    : options_(options), on_expire_(std::move(on_expire)), healthy_(std::move(healthy)), thread_([this] { run(); }) {}

CompletionWatchdog::~CompletionWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void CompletionWatchdog::watch(std::string what, Done done) {
  std::lock_guard<std::mutex> lock(mutex_);
  items_.push_back({std::move(what), std::move(done), Clock::now()});
}

size_t CompletionWatchdog::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return items_.size();
}

void CompletionWatchdog::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_ && !expired_) {
    wake_.wait_for(lock, options_.poll, [this] { return stop_; });
    if (stop_) break;
    // The polls run under the lock: watch() only appends, and a poll is a cheap query.
    while (!items_.empty() && items_.front().done()) items_.pop_front();
    std::string problem = healthy_ ? healthy_() : std::string();
    double waited = 0;
    if (problem.empty() && !items_.empty()) {
      waited = seconds_since(items_.front().since);
      if (options_.timeout_s > 0 && waited > options_.timeout_s) problem = items_.front().what;
    }
    if (problem.empty()) continue;
    expired_ = true;
    lock.unlock();
    on_expire_(problem, waited);
    return;
  }
}

}  // namespace finch::distributed
