// draw_figure for builds without cairo (FINCH_WITH_REPORT=OFF, or no cairo at configure time):
// GPU machines often lack it; `finch report` refuses up front with the same advice.
#include "finch/core/error.h"
#include "finch/report/plot.h"

namespace finch::report {

void draw_figure(const std::vector<Panel>&, const std::string&, const std::string&, const std::string&) {
  throw RuntimeError(unavailable_message());
}

}  // namespace finch::report
