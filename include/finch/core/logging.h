// Rank-aware logging on spdlog. Rank 0 logs at the configured level to the terminal and, once the
// run directory exists, to train.log; other ranks log warnings and errors only (or everything with
// logging.all_ranks), each line prefixed with "rank N" so interleaved output stays attributable.
#pragma once

#include <string>

#include "finch/core/config.h"

namespace finch {

struct LogOptions {
  int rank = 0;
  int world_size = 1;
  LogLevel level = LogLevel::kInfo;
  bool all_ranks = false;
};

void setup_logging(const LogOptions& options);

// Adds a file sink (rank 0's train.log). Appends, so a resumed run keeps its history.
void add_log_file(const std::string& path);

}  // namespace finch
