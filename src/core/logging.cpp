#include "finch/core/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "finch/core/build_info.h"

// spdlog was compiled against the fmt that CMake found; a PyTorch wheel's own fmt headers
// (torch/include/fmt) must not stand in for it (CMakeLists.txt: FINCH_FIRST_INCLUDES).
static_assert(FMT_VERSION == FINCH_FMT_VERSION, "<fmt/...> resolves to another fmt than the one spdlog was built with");

namespace finch {
namespace {

std::string pattern(const LogOptions& o) {
  // Rank prefix only where there is more than one rank to tell apart.
  const std::string who = o.world_size > 1 ? fmt::format("[rank {}] ", o.rank) : "";
  return "[%Y-%m-%d %H:%M:%S.%e] " + who + "[%^%l%$] %v";
}

LogOptions g_options;

}  // namespace

void setup_logging(const LogOptions& options) {
  g_options = options;
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("finch", sink);
  logger->set_pattern(pattern(options));
  spdlog::level::level_enum level = options.level == LogLevel::kDebug ? spdlog::level::debug
                                    : options.level == LogLevel::kWarn ? spdlog::level::warn
                                                                       : spdlog::level::info;
  if (options.rank != 0 && !options.all_ranks) level = std::max(level, spdlog::level::warn);
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void add_log_file(const std::string& path) {
  auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
  file->set_pattern(pattern(g_options));
  spdlog::default_logger()->sinks().push_back(file);
}

}  // namespace finch
