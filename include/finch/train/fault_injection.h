// Faults planted on purpose, for tests that check every rank reacts the same way. Off unless the
// environment asks:
//   FINCH_FAULT_NAN=RANK:STEP         that rank's loss is NaN at that global step (1-based), once;
//   FINCH_FAULT_SIGNAL=RANK:STEP:SIG  that rank sends itself a real SIGTERM, SIGUSR1 or SIGUSR2
//                                     during global step STEP (after its backward), once: a
//                                     preemption at a known step (the bit-exact resume tests).
#pragma once

#include <cstdint>

namespace finch::train {

class NanFault {
 public:
  // From FINCH_FAULT_NAN (ConfigError when malformed); rank 0 warns that it is armed.
  static NanFault from_env(int rank);
  // True once: at `step` (1-based global step) on the armed rank.
  bool fires(int rank, int64_t step);

 private:
  int rank_ = -1;
  int64_t step_ = -1;
};

class SignalFault {
 public:
  // From FINCH_FAULT_SIGNAL (ConfigError when malformed); rank 0 warns that it is armed.
  static SignalFault from_env(int rank);
  // raise()s the signal once, on the armed rank during `step` (1-based global step).
  void maybe_raise(int rank, int64_t step);

 private:
  int rank_ = -1;
  int64_t step_ = -1;
  int signal_ = 0;
};

}  // namespace finch::train
