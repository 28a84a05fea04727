#include "finch/train/stop_signals.h"

#include <signal.h>

#include <string>

namespace finch::train {
namespace {

constexpr int kSignals[] = {SIGTERM, SIGUSR1, SIGUSR2};
volatile sig_atomic_t g_received = 0;
struct sigaction g_previous[3];

extern "C" void record_stop_signal(int signal) {
  if (g_received == 0) g_received = signal;  // async-signal-safe: one store
}

}  // namespace

StopSignals::StopSignals() {
  g_received = 0;
  struct sigaction sa {};
  sa.sa_handler = record_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // reads and writes in flight (checkpoint files, MPI) carry on
  for (int k = 0; k < 3; ++k) sigaction(kSignals[k], &sa, &g_previous[k]);
}

StopSignals::~StopSignals() {
  // Once a stop was asked for, the process is on its way out with kExitPreempted: the handlers
  // stay, so that a launcher's repeated SIGTERM cannot turn that exit code into a signal death.
  if (g_received != 0) return;
  for (int k = 0; k < 3; ++k) sigaction(kSignals[k], &g_previous[k], nullptr);
}

int StopSignals::received() { return g_received; }

std::string signal_name(int signal) {
  switch (signal) {
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    default: return "signal " + std::to_string(signal);
  }
}

}  // namespace finch::train
