#include "finch/train/fault_injection.h"

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "finch/core/error.h"

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

}  // namespace finch::train
