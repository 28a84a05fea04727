// finch report: from metrics.jsonl to report/curves.{svg,png} (train/val loss and accuracy per
// epoch, LR, best epoch marked) and report/summary.md; with several runs, a comparison figure and
// table like the seed's results tables.
#pragma once

#include <string>
#include <vector>

#include "finch/report/run_metrics.h"

namespace finch::report {

// Writes <run_dir>/report/{curves.svg, curves.png, summary.md}; returns the paths written.
std::vector<std::string> write_run_report(const std::string& run_dir);

// Writes <out_dir>/{compare.svg, compare.png, comparison.md} for several runs.
std::vector<std::string> write_comparison(const std::vector<std::string>& run_dirs, const std::string& out_dir);

// One Markdown table row per run (shared by summary.md and comparison.md).
std::string summary_table(const std::vector<RunMetrics>& runs);

}  // namespace finch::report
