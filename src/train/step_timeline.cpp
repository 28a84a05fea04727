#include "finch/train/step_timeline.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "finch/core/trace.h"

namespace finch::train {

StepTimeline::StepTimeline(const std::string& steps, std::filesystem::path dir, distributed::Communicator& comm)
    : range_(trace::parse_steps(steps)), dir_(std::move(dir)), comm_(comm) {}

StepTimeline::~StepTimeline() {
  try {
    close();
  } catch (const std::exception& e) {
    spdlog::warn("the step timeline was not written: {}", e.what());
  }
}

void StepTimeline::before_step(int64_t next) {
  if (!range_ || recording_ || done_ || next < range_->first || next > range_->second) return;
  comm_.barrier();  // every rank's time zero at the same moment (Note [The step timeline])
  trace::start(comm_.rank());
  recording_ = true;
}

void StepTimeline::after_step(int64_t done) {
  if (recording_ && done >= range_->second) close();
}

void StepTimeline::close() {
  if (!recording_) return;
  recording_ = false;
  done_ = true;
  const auto path = dir_ / fmt::format("trace-rank{}.json", comm_.rank());
  const size_t n = trace::stop_and_write(path);
  if (comm_.rank() == 0)
    spdlog::info("timeline of steps {}-{}: {} ({} spans on rank 0; one file per rank, open them in ui.perfetto.dev or chrome://tracing)",
                 range_->first, range_->second, (dir_ / "trace-rank*.json").string(), n);
}

}  // namespace finch::train
