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

// Writes <out_dir>/{compare.svg, compare.png, comparison.md} for several runs: the curves overlaid,
// the table with a column per config key whose value differs between the runs (the varied keys;
// `name` aside), and the best run marked. `notes` (e.g. a sweep's unfinished runs) are listed under
// the table.
std::vector<std::string> write_comparison(const std::vector<std::string>& run_dirs, const std::string& out_dir,
                                          const std::vector<std::string>& notes = {});

// The config keys whose values differ between runs (their config.json), in alphabetical order.
std::vector<std::string> varied_keys(const std::vector<RunMetrics>& runs);

// The run a comparison marks best: the highest best validation accuracy (the selection criterion;
// the test split stays out of the choice), else, when no run validated, the highest test top-1.
// -1 when no run has either. `why` receives the criterion in words.
int best_run(const std::vector<RunMetrics>& runs, std::string* why = nullptr);

// One Markdown table row per run (shared by summary.md and comparison.md): `varied` keys as
// columns after the run's name, and the run `best` marked.
std::string summary_table(const std::vector<RunMetrics>& runs, const std::vector<std::string>& varied = {}, int best = -1);

}  // namespace finch::report
