#include "finch/report/report.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "finch/core/atomic_file.h"
#include "finch/core/error.h"
#include "finch/report/plot.h"

namespace finch::report {
namespace fs = std::filesystem;
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> epochs_of(const RunMetrics& m) {
  std::vector<double> x;
  for (const auto& p : m.epochs) x.push_back(p.epoch);
  return x;
}

template <class F>
std::vector<double> series(const RunMetrics& m, F f) {
  std::vector<double> y;
  for (const auto& p : m.epochs) y.push_back(f(p));
  return y;
}

std::string pct(const std::optional<double>& v) { return v ? fmt::format("{:.2f}%", 100 * *v) : "–"; }

std::string thousands(int64_t v) {
  std::string s = std::to_string(v), out;
  for (size_t k = 0; k < s.size(); ++k) {
    if (k && (s.size() - k) % 3 == 0) out += ',';
    out += s[k];
  }
  return out;
}

}  // namespace

std::vector<std::string> varied_keys(const std::vector<RunMetrics>& runs) {
  std::set<std::string> keys;
  for (const auto& m : runs)
    for (const auto& [k, v] : m.config) keys.insert(k);
  std::vector<std::string> out;
  for (const auto& k : keys) {
    if (k == "name") continue;  // the run column says it
    std::set<std::string> values;
    for (const auto& m : runs) {
      const auto it = m.config.find(k);
      values.insert(it == m.config.end() ? "–" : it->second);
    }
    if (values.size() > 1) out.push_back(k);
  }
  return out;
}

int best_run(const std::vector<RunMetrics>& runs, std::string* why) {
  auto best_val = [](const RunMetrics& m) -> std::optional<double> {
    std::optional<double> b;
    for (const auto& p : m.epochs)
      if (p.val_acc && (!b || *p.val_acc > *b)) b = p.val_acc;
    return b;
  };
  int best = -1;
  for (size_t k = 0; k < runs.size(); ++k) {
    const auto v = best_val(runs[k]);
    if (v && (best < 0 || *v > *best_val(runs[best]))) best = static_cast<int>(k);
  }
  if (best >= 0) {
    if (why) *why = "the highest best validation accuracy (the test split plays no part in the choice)";
    return best;
  }
  for (size_t k = 0; k < runs.size(); ++k)
    if (runs[k].test_acc && (best < 0 || *runs[k].test_acc > *runs[best].test_acc)) best = static_cast<int>(k);
  if (best >= 0 && why) *why = "the highest test top-1 (no run has a validation split)";
  return best;
}

std::string summary_table(const std::vector<RunMetrics>& runs, const std::vector<std::string>& varied, int best) {
  std::string out = "| run |", rule = "|---|";
  for (const auto& k : varied) out += fmt::format(" {} |", k), rule += "---|";
  out += " arch | freeze | params total | params trainable | epochs | epochs to best | iterations to best | best val acc (epoch) | "
         "test top-1 | test top-5 | test mean per-class | images/s | wall time | ranks |\n";
  out += rule + "---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (size_t r = 0; r < runs.size(); ++r) {
    const auto& m = runs[r];
    std::optional<double> best_val;
    int64_t best_step = 0;
    double ips = 0;
    for (const auto& p : m.epochs) {
      if (p.epoch == m.best_epoch) best_val = p.val_acc, best_step = p.step;
      ips += p.images_per_s / std::max<size_t>(1, m.epochs.size());
    }
    std::string row = fmt::format("| {}{}{} |", static_cast<int>(r) == best ? "**best** " : "", m.name, m.synthetic ? " (synthetic data)" : "");
    for (const auto& k : varied) {
      const auto it = m.config.find(k);
      row += fmt::format(" {} |", it == m.config.end() ? "–" : it->second);
    }
    out += row + fmt::format(" {} | {} | {} | {} | {} | {} | {} | {}{} | {} | {} | {} | {:.1f} | {:.0f} s | {} |\n", m.arch, m.freeze,
                             thousands(m.params_total), thousands(m.params_trainable), m.epochs.size(),
                             m.best_epoch >= 0 ? std::to_string(m.best_epoch + 1) : "–", best_step, pct(best_val),
                             m.best_epoch >= 0 ? fmt::format(" ({})", m.best_epoch) : "", pct(m.test_acc), pct(m.test_top5),
                             pct(m.test_mean_class_acc), ips, m.wall_s, m.world_size);
  }
  return out;
}

std::vector<std::string> write_run_report(const std::string& run_dir) {
  const RunMetrics m = read_run_metrics(run_dir);
  if (m.epochs.empty()) throw RuntimeError(fmt::format("'{}/metrics.jsonl' has no epoch records yet", run_dir));
  const fs::path out = fs::path(run_dir) / "report";
  fs::create_directories(out);
  const auto x = epochs_of(m);
  Panel loss{"Loss", "epoch", "cross-entropy loss"};
  loss.series.push_back({"train", x, series(m, [](const EpochPoint& p) { return p.train_loss; }), palette(0)});
  loss.series.push_back({"validation", x, series(m, [](const EpochPoint& p) { return p.val_loss.value_or(kNaN); }), palette(1)});
  Panel acc{"Accuracy", "epoch", "top-1 accuracy"};
  acc.series.push_back({"train", x, series(m, [](const EpochPoint& p) { return p.train_acc; }), palette(0)});
  acc.series.push_back({"validation", x, series(m, [](const EpochPoint& p) { return p.val_acc.value_or(kNaN); }), palette(1)});
  if (m.best_epoch >= 0) {
    for (Panel* p : {&loss, &acc}) {
      p->marker_x = m.best_epoch;
      p->marker_label = fmt::format("best (epoch {})", m.best_epoch);
    }
  }
  Panel lr{"Learning rate", "epoch", "learning rate"};
  lr.series.push_back({"lr", x, series(m, [](const EpochPoint& p) { return p.lr; }), palette(2)});
  const std::string title = fmt::format("{} — {} ({}){}", m.name, m.arch, m.freeze, m.synthetic ? " — SYNTHETIC data, not CUB" : "");
  const auto svg = (out / "curves.svg").string(), png = (out / "curves.png").string(), md = (out / "summary.md").string();
  draw_figure({loss, acc, lr}, title, svg, png);
  std::string text = fmt::format("# {}\n\n", m.name);
  if (m.synthetic) text += "**Synthetic data generated by `finch synth`: these are not CUB-200-2011 results.**\n\n";
  text += summary_table({m});
  text += "\n![curves](curves.png)\n\nPer epoch:\n\n| epoch | step | train loss | train acc | val loss | val acc | val top-5 | lr | time |\n"
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& p : m.epochs)
    text += fmt::format("| {} | {} | {:.4f} | {} | {} | {} | {} | {:.3g} | {:.1f} s |\n", p.epoch, p.step, p.train_loss,
                        pct(p.train_acc), p.val_loss ? fmt::format("{:.4f}", *p.val_loss) : "–", pct(p.val_acc), pct(p.val_top5), p.lr,
                        p.epoch_time_s);
  write_file_atomically(md, text);
  return {svg, png, md};
}

std::vector<std::string> write_comparison(const std::vector<std::string>& run_dirs, const std::string& out_dir,
                                          const std::vector<std::string>& notes) {
  std::vector<RunMetrics> runs;
  for (const auto& d : run_dirs) runs.push_back(read_run_metrics(d));
  fs::create_directories(out_dir);
  Panel val{"Validation accuracy", "epoch", "top-1 accuracy"}, train{"Training loss", "epoch", "cross-entropy loss"},
      vloss{"Validation loss", "epoch", "cross-entropy loss"};
  bool synthetic = false;
  for (size_t k = 0; k < runs.size(); ++k) {
    const auto& m = runs[k];
    synthetic = synthetic || m.synthetic;
    const auto x = epochs_of(m);
    val.series.push_back({m.name, x, series(m, [](const EpochPoint& p) { return p.val_acc.value_or(kNaN); }), palette(k)});
    train.series.push_back({m.name, x, series(m, [](const EpochPoint& p) { return p.train_loss; }), palette(k)});
    vloss.series.push_back({m.name, x, series(m, [](const EpochPoint& p) { return p.val_loss.value_or(kNaN); }), palette(k)});
  }
  const auto svg = (fs::path(out_dir) / "compare.svg").string(), png = (fs::path(out_dir) / "compare.png").string(),
             md = (fs::path(out_dir) / "comparison.md").string();
  draw_figure({val, train, vloss}, fmt::format("{} runs{}", runs.size(), synthetic ? " — includes SYNTHETIC data, not CUB" : ""), svg, png);
  std::string text = "# Comparison\n\n";
  if (synthetic) text += "**Some runs use synthetic data generated by `finch synth`: those are not CUB-200-2011 results.**\n\n";
  std::string why;
  const int best = best_run(runs, &why);
  text += summary_table(runs, varied_keys(runs), best);
  if (best >= 0) text += fmt::format("\n**best**: {}, by {}.\n", runs[best].name, why);
  if (!notes.empty()) {
    text += "\nNot in the table:\n\n";
    for (const auto& n : notes) text += "- " + n + "\n";
  }
  write_file_atomically(md, text + "\n![comparison](compare.png)\n");
  return {svg, png, md};
}

}  // namespace finch::report
