// finch sweep: plan a sweep (configs x grid values -> named, validated runs), list its runs' states,
// give an array task its run's `finch train` arguments, and compare what finished.
// Note [A sweep's plan] (core/sweep_plan.cpp).
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <iostream>

#include <fmt/format.h>

#include "commands.h"
#include "finch/core/atomic_file.h"
#include "finch/core/build_info.h"
#include "finch/core/error.h"
#include "finch/core/run_lock.h"
#include "finch/core/run_state.h"
#include "finch/core/sweep_plan.h"
#include "finch/report/plot.h"
#include "finch/report/report.h"

namespace finch::cli {
namespace fs = std::filesystem;
namespace {

std::string values_text(const SweepRun& r) {
  std::string out;
  for (const auto& [k, v] : r.values) out += (out.empty() ? "" : " ") + k + "=" + v;
  return out;
}

const SweepRun& run_at(const SweepPlan& plan, int index, const std::string& path) {
  if (index < 0 || index >= static_cast<int>(plan.runs.size()))
    throw ConfigError(fmt::format("{}: no run {} (the plan has runs 0 to {}; is the job array bigger than the plan?)", path, index,
                                  plan.runs.size() - 1));
  return plan.runs[index];
}

// A JSON pointer of a flattened config ("/optimizer/lr") as a config key ("optimizer.lr").
std::string dotted(std::string pointer) {
  if (!pointer.empty() && pointer[0] == '/') pointer.erase(0, 1);
  std::replace(pointer.begin(), pointer.end(), '/', '.');
  return pointer;
}

bool no_newline(const std::string& s) { return s.find_first_of("\r\n") == std::string::npos; }

int plan_cmd(const std::vector<std::string>& configs, const std::vector<std::string>& grids, const std::vector<std::string>& sets,
             const std::string& out, bool force) {
  SweepRequest req;
  req.configs = configs;
  req.sets = sets;
  req.workdir = fs::current_path().string();
  for (const auto& g : grids) req.grid.push_back(parse_grid_axis(g));
  // `finch sweep args` hands these to scripts one per line.
  for (const auto& s : sets)
    if (!no_newline(s)) throw ConfigError("--set '" + briefly(s) + "': holds a line break");
  for (const auto& a : req.grid)
    for (const auto& v : a.values)
      if (!no_newline(v)) throw ConfigError("--grid " + a.key + ": a value holds a line break");
  std::error_code ec;
  if (fs::exists(out, ec) && !force)
    throw ConfigError(fmt::format("'{}' exists already: choose another --out, or --force to replace that plan", out));
  const SweepPlan plan = make_sweep_plan(req, fs::path(out).stem().string());
  if (fs::path(out).has_parent_path()) fs::create_directories(fs::path(out).parent_path());
  write_file_atomically(out, sweep_plan_to_json(plan).dump(2) + "\n");
  std::cout << fmt::format("{}: {} run(s), each validated\n", out, plan.runs.size());
  for (const auto& r : plan.runs) std::cout << fmt::format("  {:>3}  {}  ({}{}{})\n", r.index, r.name, r.config, r.values.empty() ? "" : " ", values_text(r));
  std::cout << fmt::format(
      "run it:\n  on Slurm:         cluster/slurm/submit-sweep.sh {0} --concurrent K   (a job array, then the comparison)\n"
      "  on this machine:  launch/sweep.sh {0} [-j N]\n  its state:        finch sweep list {0}\n",
      out);
  return 0;
}

int list_cmd(const std::string& path, bool unfinished) {
  const SweepPlan plan = read_sweep_plan(path);
  if (unfinished) {
    // The array indices still to train: what a re-submission queues (finished and running runs aside).
    std::string out;
    for (const auto& r : plan.runs) {
      const RunState s = read_run_state(at_workdir(plan.workdir, r.run_dir)).state;
      if (s != RunState::kDone && s != RunState::kRunning) out += (out.empty() ? "" : ",") + std::to_string(r.index);
    }
    std::cout << out << "\n";
    return 0;
  }
  std::cout << fmt::format("{}: {} run(s) in {}\n", path, plan.runs.size(), plan.workdir);
  std::map<std::string, int> counts;
  for (const auto& r : plan.runs) {
    const RunStatus st = read_run_state(at_workdir(plan.workdir, r.run_dir));
    ++counts[run_state_name(st.state)];
    std::cout << fmt::format("  {:>3}  {:<9}  {}  {}{}\n", r.index, run_state_name(st.state), r.name, r.run_dir,
                             st.detail.empty() ? "" : "  (" + st.detail + ")");
  }
  std::string summary;
  for (const auto& [s, n] : counts) summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", n, s);
  std::cout << summary << "\n";
  return 0;
}

// The run's working directory, then its `finch train` arguments (config file, then --set pairs),
// one per line; nothing (and exit 0) when the run is done, so a re-submitted task trains nothing.
int args_cmd(const std::string& path, int index) {
  const SweepPlan plan = read_sweep_plan(path);
  const SweepRun& run = run_at(plan, index, path);
  if (!fs::is_directory(plan.workdir))
    throw ConfigError(fmt::format("{}: its workdir '{}' does not exist here (plan the sweep where it runs)", path, plan.workdir));
  const std::string dir = at_workdir(plan.workdir, run.run_dir);
  const RunStatus st = read_run_state(dir);
  if (st.state == RunState::kDone) {
    std::cerr << fmt::format("finch sweep: run {} '{}' is done ({}): nothing to train\n", index, run.name, st.detail);
    return 0;
  }
  if (st.state == RunState::kRunning)
    throw ConfigError(fmt::format("run {} '{}' is running already ({}): not starting it twice", index, run.name, st.detail));
  // The config as it loads now must be the config the plan validated (Note [A sweep's plan]).
  const fs::path here = fs::current_path();
  fs::current_path(plan.workdir);
  nlohmann::ordered_json now;
  try {
    now = config_to_json(load_config(run.config, run.sets));
  } catch (const ConfigError& e) {
    fs::current_path(here);
    throw ConfigError(fmt::format("{}: run {} '{}': {} (the plan validated it: was {} changed since? make the plan again)", path, index,
                                  run.name, e.what(), run.config));
  }
  fs::current_path(here);
  // Compared as JSON values: key order is not part of a config (the plan's is alphabetical once read).
  const auto was = nlohmann::json::parse(run.resolved.dump()).flatten(), is = nlohmann::json::parse(now.dump()).flatten();
  if (was != is) {
    std::string key = "?";
    for (const auto* side : {&is, &was})
      for (const auto& [k, v] : side->items())
        if (key == "?" && (!was.contains(k) || !is.contains(k) || was.at(k) != is.at(k))) key = k;
    throw ConfigError(fmt::format("{}: run {} '{}': {} now resolves differently from the plan at key '{}' ({} now, {} in the plan): "
                                  "make the plan again (finch sweep plan ... --force) so that what trains is what was validated",
                                  path, index, run.name, run.config, dotted(key),
                                  is.contains(key) ? is.at(key).dump() : "nothing", was.contains(key) ? was.at(key).dump() : "nothing"));
  }
  std::cout << plan.workdir << "\n" << run.config << "\n";
  for (const auto& s : run.sets) std::cout << "--set\n" << s << "\n";
  return 0;
}

int compare_cmd(const std::string& path, const std::string& out_opt) {
  if (!FINCH_HAS_REPORT) throw RuntimeError(report::unavailable_message());
  const SweepPlan plan = read_sweep_plan(path);
  std::vector<std::string> done, notes;
  for (const auto& r : plan.runs) {
    const std::string dir = at_workdir(plan.workdir, r.run_dir);
    const RunStatus st = read_run_state(dir);
    if (st.state == RunState::kDone) {
      done.push_back(dir);
      report::write_run_report(dir);
    } else {
      notes.push_back(fmt::format("run {} `{}`: {}{}", r.index, r.name, run_state_name(st.state), st.detail.empty() ? "" : " (" + st.detail + ")"));
    }
  }
  if (done.empty()) throw RuntimeError(fmt::format("{}: no run of the plan has finished yet (finch sweep list {})", path, path));
  const std::string out = out_opt.empty() ? at_workdir(plan.workdir, plan.compare_dir) : out_opt;
  for (const auto& f : report::write_comparison(done, out, notes)) std::cout << "wrote " << f << "\n";
  std::cout << fmt::format("{} of {} run(s) compared\n", done.size(), plan.runs.size());
  if (notes.empty()) return 0;
  for (const auto& n : notes) std::cerr << "finch sweep: not finished: " << n << "\n";
  return 1;
}

}  // namespace

Command add_sweep(CLI::App& parent) {
  auto* app = parent.add_subcommand("sweep", "Sweeps: configs x grid values as named runs (a Slurm job array or one machine), and their comparison");
  app->require_subcommand(1, 1);
  struct Opts {
    std::vector<std::string> configs, grids, sets;
    std::string out, plan;
    bool force = false, unfinished = false;
    int index = -1;
  };
  auto o = std::make_shared<Opts>();
  auto* plan = app->add_subcommand("plan", "Expand configs x --grid values into named runs, validate every one, write the plan");
  plan->add_option("--config,-c", o->configs, "Config file(s); each is crossed with the grid")->required();
  plan->add_option("--grid", o->grids, "KEY=V1,V2,... values of one key (repeatable: the runs are every combination)");
  plan->add_option("--set", o->sets, "Override a key in every run: --set data.root=/scratch/cub.pack (repeatable)");
  plan->add_option("--out,-o", o->out, "The plan file to write (JSON)")->required();
  plan->add_flag("--force", o->force, "Replace an existing plan file");
  auto* list = app->add_subcommand("list", "Each run of a plan with its state: pending, running, done, failed, preempted");
  list->add_option("plan", o->plan, "The plan file")->required();
  list->add_flag("--unfinished", o->unfinished, "Print only the indices of the runs still to train, comma-separated (for sbatch --array)");
  auto* args = app->add_subcommand("args", "For scripts: the working directory, then the finch train arguments of run --index, one per line "
                                           "(nothing when the run is done)");
  args->add_option("plan", o->plan, "The plan file")->required();
  args->add_option("--index,-i", o->index, "The run's index (SLURM_ARRAY_TASK_ID)")->required();
  auto* compare = app->add_subcommand("compare", "Reports of the finished runs and their comparison (table with the varied keys, curves "
                                                 "overlaid, best run marked); exit 1 when some run has not finished");
  compare->add_option("plan", o->plan, "The plan file")->required();
  compare->add_option("--out", o->out, "Folder for the comparison (default: the plan's, <output_dir>/sweep-<plan name>)");
  return {app, [o, plan, list, args, compare]() {
            if (plan->parsed()) return plan_cmd(o->configs, o->grids, o->sets, o->out, o->force);
            if (list->parsed()) return list_cmd(o->plan, o->unfinished);
            if (args->parsed()) return args_cmd(o->plan, o->index);
            return compare_cmd(o->plan, o->out);
          }};
}

}  // namespace finch::cli
