// The one clock finch times itself with (steady: never jumps with the wall clock).
#pragma once

#include <chrono>

namespace finch {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace finch
