#include "finch/core/logging.h"

#include <algorithm>
#include <fstream>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/ringbuffer_sink.h>
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
// What was logged before the run directory existed (a start checks everything before it creates
// anything): add_log_file writes it at the top of train.log.
std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> g_early;

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
  if (options.rank == 0) {  // only rank 0 writes train.log
    g_early = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(2000);
    g_early->set_pattern(pattern(options));
    logger->sinks().push_back(g_early);
  }
  spdlog::set_default_logger(logger);
}

void add_log_file(const std::string& path) {
  auto& sinks = spdlog::default_logger()->sinks();
  if (g_early) {
    std::ofstream early(path, std::ios::app);
    for (const auto& line : g_early->last_formatted()) early << line;
    sinks.erase(std::remove(sinks.begin(), sinks.end(), g_early), sinks.end());
    g_early.reset();
  }
  auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
  file->set_pattern(pattern(g_options));
  sinks.push_back(file);
}

}  // namespace finch
