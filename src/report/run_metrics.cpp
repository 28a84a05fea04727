#include "finch/report/run_metrics.h"

#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "finch/core/bounded_json.h"
#include "finch/core/regular_file.h"
#include "finch/core/error.h"

namespace finch::report {
namespace {

// "a.b.c" -> the value as JSON text (strings without their quotes), for every leaf of `j`.
void flatten(const nlohmann::json& j, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (j.is_object() && !j.empty()) {
    for (const auto& [k, v] : j.items()) flatten(v, prefix.empty() ? k : prefix + "." + k, out);
    return;
  }
  out[prefix] = j.is_string() ? j.get<std::string>() : j.dump();
}

}  // namespace

RunMetrics read_run_metrics(const std::string& run_dir) {
  const auto path = std::filesystem::path(run_dir) / "metrics.jsonl";
  std::ifstream in = open_regular(path.string());  // Note [Only regular files are opened]
  if (!in) throw RuntimeError(fmt::format("cannot read '{}' (is '{}' a finch run directory?)", path.string(), run_dir));
  RunMetrics m;
  m.name = std::filesystem::path(run_dir).filename().string();
  if (m.name.empty()) m.name = std::filesystem::path(run_dir).parent_path().filename().string();
  std::map<int, EpochPoint> by_epoch;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const auto r = parse_bounded_json(line);
    if (r.is_discarded() || !r.is_object() || !r.contains("kind"))
      throw RuntimeError(fmt::format("{}:{}: not a finch metrics record", path.string(), n));
    const std::string kind = r["kind"];
    auto opt = [&](const char* k) -> std::optional<double> {
      return r.contains(k) && r[k].is_number() ? std::optional<double>(r[k].get<double>()) : std::nullopt;
    };
    if (kind == "start") {
      m.arch = r.value("arch", "");
      m.freeze = r.value("freeze", "");
      m.params_total = r.value("params_total", int64_t{0});
      m.params_trainable = r.value("params_trainable", int64_t{0});
      m.world_size = r.value("world_size", 0);
      m.synthetic = m.synthetic || r.value("synthetic", false);
    } else if (kind == "epoch") {
      EpochPoint p;
      p.epoch = r.value("epoch", 0);
      p.step = r.value("step", int64_t{0});
      p.train_loss = r.value("train_loss", 0.0);
      p.train_acc = r.value("train_acc", 0.0);
      p.lr = r.value("lr", 0.0);
      p.epoch_time_s = r.value("epoch_time_s", 0.0);
      p.images_per_s = r.value("images_per_s", 0.0);
      p.val_loss = opt("val_loss");
      p.val_acc = opt("val_acc");
      p.val_top5 = opt("val_top5");
      by_epoch[p.epoch] = p;
    } else if (kind == "test") {
      m.test_acc = opt("test_acc");
      m.test_top5 = opt("test_top5");
      m.test_mean_class_acc = opt("test_mean_class_acc");
      m.test_loss = opt("test_loss");
    } else if (kind == "end") {
      m.wall_s += r.value("wall_s", 0.0);
      m.steps = r.value("steps", m.steps);
    }
  }
  for (auto& [e, p] : by_epoch) m.epochs.push_back(p);
  // The resolved config the run wrote (the last start's): what a comparison's varied columns show.
  std::ifstream cf = open_regular((std::filesystem::path(run_dir) / "config.json").string());
  if (cf) {
    const std::string text((std::istreambuf_iterator<char>(cf)), std::istreambuf_iterator<char>());
    const auto doc = parse_bounded_json(text);
    if (doc.is_object()) flatten(doc, "", m.config);
  }
  double best = -1;
  for (const auto& p : m.epochs)
    if (p.val_acc && *p.val_acc > best) best = *p.val_acc, m.best_epoch = p.epoch;
  if (m.steps == 0 && !m.epochs.empty()) m.steps = m.epochs.back().step;
  return m;
}

}  // namespace finch::report
