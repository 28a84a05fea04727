#include "finch/distributed/watchdog.h"

#include <mpi.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "finch/core/clock.h"
#include "finch/distributed/world.h"

namespace finch::distributed {
namespace {

std::atomic<double> g_timeout{0};
// The collectives in progress, by guard: the main thread's and the MPI backend's reduce thread's
// can overlap, and each must be watched for as long as it lasts.
std::mutex g_m;
std::map<const CollectiveGuard*, std::pair<int64_t, const char*>> g_active;  // guard -> (start, what)
std::once_flag g_started;

int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

void monitor() {
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const double timeout = g_timeout.load();
    if (timeout <= 0) continue;
    int64_t since = 0;
    const char* what = nullptr;
    {
      std::lock_guard<std::mutex> lock(g_m);
      for (const auto& [guard, started] : g_active)
        if (since == 0 || started.first < since) since = started.first, what = started.second;
    }
    if (since == 0) continue;
    const double waited = static_cast<double>(now_ns() - since) / 1e9;
    if (waited <= timeout) continue;
    std::fprintf(stderr,
                 "finch: error: rank %d: %s has waited %.0f s, longer than dist.timeout_s=%.0f: a peer rank died or hangs; "
                 "aborting the job\n",
                 world().rank, what ? what : "a collective", waited, timeout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
}

}  // namespace

void set_collective_timeout(double seconds) {
  g_timeout = seconds;
  if (seconds > 0 && world().size > 1) std::call_once(g_started, [] { std::thread(monitor).detach(); });
}

CollectiveGuard::CollectiveGuard(const char* what) {
  std::lock_guard<std::mutex> lock(g_m);
  g_active[this] = {now_ns(), what};
}

CollectiveGuard::~CollectiveGuard() {
  std::lock_guard<std::mutex> lock(g_m);
  g_active.erase(this);
}

}  // namespace finch::distributed
