// The run's timeline (logging.trace_steps "A:B"): decides for itself when to record. Before the
// first traced step every rank meets in a barrier and starts recording (Note [The step timeline]);
// after step B, or when the run ends first, each rank writes <run>/trace-rank<r>.json and rank 0
// says where. Collective in before_step (the barrier): every rank calls it at the same steps.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "finch/distributed/communicator.h"

namespace finch::train {

class StepTimeline {
 public:
  // `steps`: logging.trace_steps ("" records nothing); the files go into `dir`.
  StepTimeline(const std::string& steps, std::filesystem::path dir, distributed::Communicator& comm);
  ~StepTimeline();  // writes what was recorded if the run ended inside the range
  StepTimeline(const StepTimeline&) = delete;
  StepTimeline& operator=(const StepTimeline&) = delete;

  // Before global step `next` (1-based): starts recording at the first step of the range.
  void before_step(int64_t next);
  // After the step (its checkpoint included): ends at the range's last step.
  void after_step(int64_t done);
  // Ends now if recording (the run stops early); idempotent.
  void close();
  bool recording() const { return recording_; }

 private:
  std::optional<std::pair<int64_t, int64_t>> range_;
  std::filesystem::path dir_;
  distributed::Communicator& comm_;
  bool recording_ = false, done_ = false;
};

}  // namespace finch::train
