#include "finch/distributed/watchdog.h"

#include <mpi.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "finch/distributed/world.h"

namespace finch::distributed {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<double> g_timeout{0};
std::atomic<int64_t> g_since_ns{0};  // 0: not in a collective
std::atomic<const char*> g_what{nullptr};
std::once_flag g_started;

int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

void monitor() {
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const int64_t since = g_since_ns.load();
    const double timeout = g_timeout.load();
    if (since == 0 || timeout <= 0) continue;
    const double waited = static_cast<double>(now_ns() - since) / 1e9;
    if (waited <= timeout) continue;
    std::fprintf(stderr,
                 "finch: error: rank %d: %s has waited %.0f s, longer than dist.timeout_s=%.0f: a peer rank died or hangs; "
                 "aborting the job\n",
                 world().rank, g_what.load() ? g_what.load() : "a collective", waited, timeout);
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
  g_what = what;
  g_since_ns = now_ns();
}

CollectiveGuard::~CollectiveGuard() { g_since_ns = 0; }

}  // namespace finch::distributed
