// Colours for series (matplotlib's tab10), shared by the cairo plots and the summary tables.
#include "finch/report/plot.h"

namespace finch::report {

std::array<double, 3> palette(size_t k) {
  static const std::array<double, 3> tab10[] = {{0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16},
                                                {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50},
                                                {0.74, 0.74, 0.13}, {0.09, 0.75, 0.81}};
  return tab10[k % 10];
}

}  // namespace finch::report
