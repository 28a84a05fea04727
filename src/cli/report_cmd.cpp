// finch report: curves and summary tables from a run's metrics.jsonl (and comparisons of runs).
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "finch/core/build_info.h"
#include "finch/core/error.h"
#include "finch/report/plot.h"
#include "finch/report/report.h"

namespace finch::cli {
namespace {

// What finch report does not draw but the run has: TensorBoard's event files and the timelines.
void say_where_the_logs_are(const std::string& run) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(fs::path(run) / "tensorboard", ec))
    std::cout << "TensorBoard: tensorboard --logdir " << (fs::path(run) / "tensorboard").string() << "\n";
  std::vector<std::string> traces;
  for (const auto& e : fs::directory_iterator(run, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("trace-rank", 0) == 0 && e.path().extension() == ".json") traces.push_back(e.path().string());
  }
  std::sort(traces.begin(), traces.end());
  if (!traces.empty())
    std::cout << "timeline (logging.trace_steps): " << traces.size() << " file(s), " << traces.front()
              << (traces.size() > 1 ? " ..." : "") << ": open them together in ui.perfetto.dev or chrome://tracing\n";
}

}  // namespace

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
            say_where_the_logs_are(*run);
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
