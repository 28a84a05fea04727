// Starting worker threads when the system may refuse some (a `ulimit -v` leaves no room for their
// stacks, a container's thread limit): std::thread's constructor then throws, and a vector of
// still-running, joinable threads destroyed on the way out calls std::terminate ("terminate called
// without an active exception", exit 134). start_threads stops and joins the ones it started and
// throws a RuntimeError that says how many started and what to lower instead.
#pragma once

#include <functional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "finch/core/error.h"

namespace finch {

// `count` threads running body(index). When one cannot be started: `stop()` (which must make every
// started body return soon), then they are joined, then RuntimeError naming `what` (the option to
// lower, e.g. "data.workers 256").
inline std::vector<std::thread> start_threads(int count, const std::function<void(int)>& body, const std::function<void()>& stop,
                                              const std::string& what) {
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(count));
  try {
    for (int k = 0; k < count; ++k) threads.emplace_back(body, k);
  } catch (const std::system_error& e) {
    stop();
    for (auto& t : threads) t.join();
    throw RuntimeError(fmt::format("cannot start {} worker threads ({} started: {}): lower {}", count, threads.size(), e.what(), what));
  }
  return threads;
}

}  // namespace finch
