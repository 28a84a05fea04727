#include "finch/train/fault_injection.h"

#include <signal.h>

#include <cstdio>
#include <string>
#include <cstdlib>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "finch/core/error.h"
#include "finch/train/stop_signals.h"

namespace finch::train {

NanFault NanFault::from_env(int rank) {
  NanFault f;
  const char* v = std::getenv("FINCH_FAULT_NAN");
  if (!v) return f;
  long long step = -1;
  if (std::sscanf(v, "%d:%lld", &f.rank_, &step) != 2) throw ConfigError(fmt::format("FINCH_FAULT_NAN='{}': expected RANK:STEP", v));
  f.step_ = step;
  if (rank == 0) spdlog::warn("fault injection: rank {} will see a NaN loss at step {} (FINCH_FAULT_NAN)", f.rank_, f.step_);
  return f;
}

bool NanFault::fires(int rank, int64_t step) {
  if (rank != rank_ || step != step_) return false;
  rank_ = -1;  // once
  return true;
}

SignalFault SignalFault::from_env(int rank) {
  SignalFault f;
  const char* v = std::getenv("FINCH_FAULT_SIGNAL");
  if (!v) return f;
  long long step = -1;
  char name[16] = {0};
  if (std::sscanf(v, "%d:%lld:%15s", &f.rank_, &step, name) != 3)
    throw ConfigError(fmt::format("FINCH_FAULT_SIGNAL='{}': expected RANK:STEP:SIG (SIG one of TERM, USR1, USR2)", v));
  const std::string sig = name;
  f.signal_ = sig == "TERM" ? SIGTERM : sig == "USR1" ? SIGUSR1 : sig == "USR2" ? SIGUSR2 : 0;
  if (f.signal_ == 0) throw ConfigError(fmt::format("FINCH_FAULT_SIGNAL='{}': signal '{}' is not one of TERM, USR1, USR2", v, sig));
  f.step_ = step;
  if (rank == 0)
    spdlog::warn("fault injection: rank {} will receive {} during step {} (FINCH_FAULT_SIGNAL)", f.rank_, signal_name(f.signal_), f.step_);
  return f;
}

void SignalFault::maybe_raise(int rank, int64_t step) {
  if (rank != rank_ || step != step_) return;
  rank_ = -1;  // once
  raise(signal_);
}

}  // namespace finch::train
