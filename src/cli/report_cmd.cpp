// finch report: curves and summary tables from a run's metrics.jsonl (and comparisons of runs).
#include <iostream>

#include "commands.h"
#include "finch/core/build_info.h"
#include "finch/core/error.h"
#include "finch/report/plot.h"
#include "finch/report/report.h"

namespace finch::cli {

Command add_report(CLI::App& parent) {
  auto* app = parent.add_subcommand("report", "Curves (SVG/PNG) and summary tables from a run's metrics.jsonl");
  auto run = std::make_shared<std::string>();
  auto compare = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  app->add_option("--run-dir", *run, "Run directory (runs/<name>)")->required();
  app->add_option("--compare", *compare, "Other run directories to draw on one figure with --run-dir");
  app->add_option("--out", *out, "Folder for the comparison (default: <run-dir>/report/compare)");
  return {app, [run, compare, out]() {
            if (!FINCH_HAS_REPORT) throw RuntimeError(report::unavailable_message());
            for (const auto& f : report::write_run_report(*run)) std::cout << "wrote " << f << "\n";
            if (!compare->empty()) {
              std::vector<std::string> all{*run};
              all.insert(all.end(), compare->begin(), compare->end());
              const std::string dir = out->empty() ? *run + "/report/compare" : *out;
              for (const auto& f : report::write_comparison(all, dir)) std::cout << "wrote " << f << "\n";
            }
            return 0;
          }};
}

}  // namespace finch::cli
