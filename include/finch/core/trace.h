// A per-rank timeline of chosen steps (logging.trace_steps, `finch bench step --trace`), in Chrome's
// trace-event format: one file per rank, trace-rank<r>.json, that Perfetto (ui.perfetto.dev) and
// chrome://tracing open; load several ranks' files together to see them side by side.
//
// Note [The step timeline]: spans are recorded only between start() and stop(), so outside the
// traced steps a span costs one relaxed atomic load. Each thread is a track: the training thread
// (data wait, forward, backward, the gradient wait, the host read, the step agreement, the
// optimizer, the EMA, validation, checkpoint writes) and the MPI reduce thread (each gradient
// bucket's all-reduce, so what overlaps backward is visible). start() is called right after a
// barrier on every rank, and times are microseconds from there: the ranks' clocks are aligned at
// the first traced step (to the barrier's skew, microseconds on one node).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

namespace finch::trace {

// True while this process records (between start and stop).
bool recording();

// From construction to destruction on this thread, when recording; nothing otherwise.
class Span {
 public:
  explicit Span(const char* name, const char* category = "step");
  Span(std::string name, const char* category);
  ~Span();
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

 private:
  std::string name_;
  const char* category_;
  int64_t begin_us_ = -1;
};

// The name of this thread's track (kept for the process's life; the first name given wins).
void name_thread(const std::string& name);
// Starts recording (time zero now) as process `rank`; the calling thread is named "training".
void start(int rank);
// Stops recording and writes the trace-event JSON to `path` (atomically); returns the events written.
size_t stop_and_write(const std::filesystem::path& path);

// logging.trace_steps: "" (off) or "A:B", the global optimizer steps A..B (1 <= A <= B). ConfigError
// naming the key otherwise.
std::optional<std::pair<int64_t, int64_t>> parse_steps(const std::string& text);

}  // namespace finch::trace
