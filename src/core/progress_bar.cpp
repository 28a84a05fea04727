#include "finch/core/progress_bar.h"

#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "finch/core/clock.h"

namespace finch {

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, std::round(seconds)));
  if (s >= 3600) return fmt::format("{}:{:02d}:{:02d}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{:02d}:{:02d}", s / 60, s % 60);
}

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(std::max<int64_t>(1, total)), enabled_(enabled), start_(Clock::now()) {}

void ProgressBar::update(int64_t done, const std::string& extra) {
  if (!enabled_) return;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  // Remaining at the pace so far, as tqdm estimates it.
  const double remaining = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total_ - done) : 0.0;
  const int width = 30, filled = static_cast<int>(width * std::min(done, total_) / total_);
  std::fprintf(stderr, "\r%s [%s%s] %lld/%lld %s<%s %s  ", label_.c_str(), std::string(filled, '#').c_str(),
               std::string(width - filled, '.').c_str(), static_cast<long long>(done), static_cast<long long>(total_),
               format_duration(elapsed).c_str(), done > 0 ? format_duration(remaining).c_str() : "?", extra.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (!drawn_) return;
  std::fprintf(stderr, "\n");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace finch
