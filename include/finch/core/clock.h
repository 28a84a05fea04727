// The one clock finch times itself with (steady: never jumps with the wall clock): step and epoch
// times, the loader's waits, the collective watchdogs. Wall-clock time appears only as timestamps
// (metrics.jsonl's "time", state.json's).
#pragma once

#include <chrono>

namespace finch {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace finch
