// Faults planted on purpose, for tests that check every rank reacts the same way. Off unless the
// environment asks: FINCH_FAULT_NAN=RANK:STEP makes that rank's loss NaN at that global step
// (1-based), once.
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

}  // namespace finch::train
