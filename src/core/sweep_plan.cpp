#include "finch/core/sweep_plan.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>

#include "finch/core/atomic_file.h"
#include "finch/core/bounded_json.h"
#include "finch/core/config.h"
#include "finch/core/error.h"
#include "finch/core/regular_file.h"

// Note [A sweep's plan]
// ~~~~~~~~~~~~~~~~~~~~~
// `finch sweep plan` resolves and validates every run once, on the login node, and writes the plan:
// per run its index (the Slurm array index), name, config file, the --set overrides that make it
// (plan-wide ones, then the grid's values, then name=), its run directory and its resolved config.
// What runs it never expands anything again: `finch sweep args PLAN --index I` prints the
// `finch train` arguments of run I for the array task (cluster/slurm/finch-sweep.sbatch) and for
// launch/sweep.sh, after loading them once more and comparing the result with the resolved config
// the plan holds: a config file edited between planning and running would otherwise train something
// nobody validated, under a name that says otherwise. Relative paths (configs, data.root,
// output_dir) start at the plan's workdir, the directory it was made in; the task scripts cd there.
// A run's state (`finch sweep list`) is read from its run directory alone (run_state.h), so that a
// re-submitted plan skips what finished and resumes what did not, wherever it ran before.

namespace finch {
namespace fs = std::filesystem;
namespace {

constexpr const char* kFormat = "finch-sweep";

std::vector<std::string> split_values(const std::string& text, const std::string& what) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  bool quoted = false;
  for (size_t k = 0; k < text.size(); ++k) {
    const char ch = text[k];
    if (quoted) {
      if (ch == '\\' && k + 1 < text.size()) cur += text[k++];
      else if (ch == '"') quoted = false;
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == '[' || ch == '{') {
      ++depth;
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      --depth;
    } else if (ch == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    cur += ch;
  }
  if (quoted || depth) throw ConfigError(fmt::format("{}: unbalanced {} in the values", what, quoted ? "quote" : "bracket"));
  out.push_back(cur);
  return out;
}

// A value as a name part: what it says, without characters a folder name or a shell would trip on.
std::string name_part(const std::string& value) {
  std::string out;
  for (char ch : value) {
    const bool keep = std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '+' || ch == '-' || ch == '_';
    if (keep) out += ch;
    else if (!out.empty() && out.back() != '-' && ch != '"') out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "none" : out;
}

// The last `parts` dot-separated parts of key.
std::string key_tail(const std::string& key, size_t parts) {
  size_t pos = key.size();
  for (size_t k = 0; k < parts; ++k) {
    const size_t dot = key.rfind('.', pos == 0 ? 0 : pos - 1);
    if (dot == std::string::npos || pos == 0) return key;
    pos = dot;
  }
  return key.substr(pos + 1);
}

std::string short_key(const std::string& key, const std::vector<std::string>& grid_keys) {
  for (size_t parts = 1;; ++parts) {
    const std::string mine = key_tail(key, parts);
    if (mine == key) return key;
    bool clash = false;
    for (const auto& other : grid_keys)
      if (other != key && key_tail(other, parts) == mine) clash = true;
    if (!clash) return mine;
  }
}

// The files a run reads before it trains: absent ones would fail every task of the array after
// hours in the queue, so the plan refuses them now.
void check_inputs_exist(const Config& c, const std::string& workdir, const std::string& where) {
  std::error_code ec;
  if (!fs::exists(at_workdir(workdir, c.data.root), ec))
    throw ConfigError(fmt::format("{}: key 'data.root': '{}' does not exist", where, c.data.root));
  if (!c.model.pretrained.empty() && !fs::exists(at_workdir(workdir, c.model.pretrained), ec))
    throw ConfigError(fmt::format("{}: key 'model.pretrained': '{}' does not exist (finch import-weights makes it)", where,
                                  c.model.pretrained));
}

template <class J>
const J& member(const J& doc, const char* key, const std::string& path) {
  if (!doc.is_object() || !doc.contains(key)) throw ConfigError(fmt::format("{}: not a finch sweep plan: no '{}'", path, key));
  return doc.at(key);
}

std::vector<std::string> strings(const nlohmann::json& a, const std::string& path, const std::string& key) {
  if (!a.is_array()) throw ConfigError(fmt::format("{}: '{}' is not a list", path, key));
  std::vector<std::string> out;
  for (const auto& v : a) {
    if (!v.is_string()) throw ConfigError(fmt::format("{}: '{}' holds a non-string", path, key));
    out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

std::string at_workdir(const std::string& workdir, const std::string& path) {
  return path.empty() || fs::path(path).is_absolute() ? path : (fs::path(workdir) / path).lexically_normal().string();
}

GridAxis parse_grid_axis(const std::string& text) {
  const std::string what = "--grid '" + briefly(text) + "'";
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) throw ConfigError(what + ": expected KEY=V1,V2,... e.g. --grid optimizer.lr=1e-3,3e-4");
  GridAxis axis{text.substr(0, eq), split_values(text.substr(eq + 1), what)};
  std::set<std::string> seen;
  for (const auto& v : axis.values)
    if (!seen.insert(v).second) throw ConfigError(fmt::format("{}: value '{}' is given twice", what, briefly(v)));
  return axis;
}

std::string sweep_run_name(const std::string& base, const std::vector<std::pair<std::string, std::string>>& values,
                           const std::vector<std::string>& grid_keys) {
  std::string name = base;
  for (const auto& [key, value] : values) name += "_" + short_key(key, grid_keys) + name_part(value);
  return name;
}

SweepPlan make_sweep_plan(const SweepRequest& request, const std::string& plan_name) {
  if (request.configs.empty()) throw ConfigError("finch sweep plan: no --config given");
  SweepPlan plan;
  plan.workdir = request.workdir;
  plan.configs = request.configs;
  plan.grid = request.grid;
  plan.sets = request.sets;
  std::vector<std::string> keys;
  for (const auto& axis : request.grid) {
    if (std::find(keys.begin(), keys.end(), axis.key) != keys.end())
      throw ConfigError(fmt::format("--grid {}: the key is given twice; list every value in one --grid", axis.key));
    keys.push_back(axis.key);
  }
  // Every combination of the grid's values, the first axis varying slowest (as itertools.product).
  std::vector<std::vector<std::pair<std::string, std::string>>> combos{{}};
  for (const auto& axis : request.grid) {
    std::vector<std::vector<std::pair<std::string, std::string>>> next;
    for (const auto& c : combos)
      for (const auto& v : axis.values) {
        next.push_back(c);
        next.back().emplace_back(axis.key, v);
      }
    combos.swap(next);
  }
  std::map<std::string, std::string> owner;  // run name -> what made it, for a clash
  for (const auto& config : request.configs) {
    // The config's own name (file stem, "name" key or a plan-wide --set name=), which every run of
    // it carries before its grid values.
    std::string base;
    try {
      base = load_config(config, request.sets).name;
    } catch (const ConfigError& e) {
      throw ConfigError(fmt::format("config '{}' (before any grid value): {}", config, e.what()));
    }
    for (const auto& values : combos) {
      SweepRun run;
      run.index = static_cast<int>(plan.runs.size());
      run.config = config;
      run.values = values;
      run.name = sweep_run_name(base, values, keys);
      run.sets = request.sets;
      std::string made_of = config;
      for (const auto& [k, v] : values) {
        run.sets.push_back(k + "=" + v);
        made_of += " " + k + "=" + v;
      }
      run.sets.push_back("name=" + run.name);
      const std::string named = fmt::format("run {} '{}' ({})", run.index, run.name, made_of);
      Config c;
      try {
        c = load_config(config, run.sets);
      } catch (const ConfigError& e) {
        throw ConfigError(fmt::format("{}: {}", named, e.what()));
      }
      check_inputs_exist(c, request.workdir, named);
      if (auto [it, fresh] = owner.emplace(c.name, made_of); !fresh)
        throw ConfigError(fmt::format("two runs would be named '{}' ({} and {}): give the configs different names (key 'name')",
                                      c.name, it->second, made_of));
      run.run_dir = (fs::path(c.output_dir) / c.name).string();
      run.resolved = config_to_json(c);
      plan.runs.push_back(std::move(run));
    }
  }
  const auto& first = plan.runs.front();
  plan.compare_dir = (fs::path(first.resolved.at("output_dir").get<std::string>()) / ("sweep-" + plan_name)).string();
  return plan;
}

nlohmann::ordered_json sweep_plan_to_json(const SweepPlan& plan) {
  nlohmann::ordered_json doc;
  doc["format"] = kFormat;
  doc["version"] = plan.version;
  doc["workdir"] = plan.workdir;
  doc["configs"] = plan.configs;
  doc["grid"] = nlohmann::ordered_json::array();
  for (const auto& a : plan.grid) doc["grid"].push_back({{"key", a.key}, {"values", a.values}});
  doc["set"] = plan.sets;
  doc["compare_dir"] = plan.compare_dir;
  doc["runs"] = nlohmann::ordered_json::array();
  for (const auto& r : plan.runs) {
    nlohmann::ordered_json values = nlohmann::ordered_json::object();
    for (const auto& [k, v] : r.values) values[k] = v;
    doc["runs"].push_back({{"index", r.index},
                           {"name", r.name},
                           {"config", r.config},
                           {"set", r.sets},
                           {"values", values},
                           {"run_dir", r.run_dir},
                           {"resolved", r.resolved}});
  }
  return doc;
}

SweepPlan sweep_plan_from_json(const nlohmann::json& doc, const std::string& path) {
  if (!doc.is_object() || doc.value("format", std::string()) != kFormat)
    throw ConfigError(fmt::format("{}: not a finch sweep plan (no \"format\": \"{}\"; `finch sweep plan` writes one)", path, kFormat));
  SweepPlan plan;
  try {
    plan.version = member(doc, "version", path).get<int>();
    if (plan.version != 1) throw ConfigError(fmt::format("{}: plan version {} (this finch reads version 1)", path, plan.version));
    plan.workdir = member(doc, "workdir", path).get<std::string>();
    plan.configs = strings(member(doc, "configs", path), path, "configs");
    for (const auto& a : member(doc, "grid", path))
      plan.grid.push_back({member(a, "key", path).get<std::string>(), strings(member(a, "values", path), path, "grid.values")});
    plan.sets = strings(member(doc, "set", path), path, "set");
    plan.compare_dir = member(doc, "compare_dir", path).get<std::string>();
    for (const auto& r : member(doc, "runs", path)) {
      SweepRun run;
      run.index = member(r, "index", path).get<int>();
      if (run.index != static_cast<int>(plan.runs.size()))
        throw ConfigError(fmt::format("{}: run {} has index {}: the runs must be numbered 0, 1, ... in order", path, plan.runs.size(), run.index));
      run.name = member(r, "name", path).get<std::string>();
      run.config = member(r, "config", path).get<std::string>();
      run.sets = strings(member(r, "set", path), path, "set");
      for (const auto& [k, v] : member(r, "values", path).items()) run.values.emplace_back(k, v.get<std::string>());
      run.run_dir = member(r, "run_dir", path).get<std::string>();
      run.resolved = nlohmann::ordered_json::parse(member(r, "resolved", path).dump());
      plan.runs.push_back(std::move(run));
    }
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(fmt::format("{}: not a finch sweep plan: {}", path, e.what()));
  }
  if (plan.runs.empty()) throw ConfigError(fmt::format("{}: the plan holds no runs", path));
  return plan;
}

SweepPlan read_sweep_plan(const std::string& path) {
  std::ifstream in = open_regular(path);  // Note [Only regular files are opened]
  if (!in) throw ConfigError(fmt::format("cannot read sweep plan '{}'", path));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto doc = parse_bounded_json(text);
  if (doc.is_discarded()) throw ConfigError(fmt::format("{}: not a finch sweep plan (not JSON; `finch sweep plan` writes one)", path));
  return sweep_plan_from_json(doc, path);
}

}  // namespace finch
