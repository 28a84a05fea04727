// Line charts, side-by-side panels, written as SVG and PNG with Cairo: axes with ticks and labels,
// a legend per panel, an optional marked x position (the best epoch).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace finch::report {

struct Series {
  std::string label;
  std::vector<double> x, y;
  std::array<double, 3> rgb{0.12, 0.47, 0.71};
  bool dashed = false;
};

struct Panel {
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
  std::optional<double> marker_x;  // vertical dashed line, e.g. the best epoch
  std::string marker_label;
  bool log_y = false;
};

// The tab10 colour of index k (as matplotlib's default cycle).
std::array<double, 3> palette(size_t k);

// Why this build cannot draw, and how to get a build that can (builds without cairo).
inline std::string unavailable_message() {
  return "this finch was built without cairo (FINCH_WITH_REPORT=OFF, or no cairo at configure time), so `finch report` cannot draw "
         "curves: install libcairo2-dev and pkg-config (Debian) and rebuild with launch/build.sh, or run `finch report` on a full "
         "build; the run's metrics.jsonl holds every number";
}

void draw_figure(const std::vector<Panel>& panels, const std::string& title, const std::string& svg_path, const std::string& png_path);

}  // namespace finch::report
