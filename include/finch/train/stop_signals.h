// Preemption: SIGTERM, SIGUSR1 and SIGUSR2 (SLURM's `--signal=B:USR1@120`, `scancel --signal`, a
// scheduler's preemption, `kill` by hand) ask a training run to stop resumably. The handler only
// records the signal; the trainer's ranks agree on it at the next step boundary inside the
// collective they already make there, rank 0 writes a checkpoint, and every rank exits with
// kExitPreempted. Further signals while that happens are recorded and otherwise ignored, so a
// second SIGTERM cannot interrupt the checkpoint write.
#pragma once

#include <string>

namespace finch::train {

// "Stopped on request, resumable with --resume auto" (sysexits.h's EX_TEMPFAIL: retry later).
constexpr int kExitPreempted = 75;

// Installs the handlers for its lifetime (the previous ones come back on destruction, unless a stop
// signal arrived: then they stay until the process exits).
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The first stop signal this process received (0: none).
  static int received();
};

// "SIGTERM", "SIGUSR1", ...
std::string signal_name(int signal);

}  // namespace finch::train
