// A sweep: configs x grid values, expanded into named runs and validated before anything starts
// (`finch sweep plan`), written as one JSON plan that every way of running it reads: Slurm job
// arrays (cluster/slurm/finch-sweep.sbatch, one array index per run), launch/sweep.sh on one
// machine, `finch sweep list` and `finch sweep compare`. Note [A sweep's plan].
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace finch {

// --grid KEY=V1,V2,...: one config key and the values it takes (as --set would take them).
struct GridAxis {
  std::string key;
  std::vector<std::string> values;
};

// "optimizer.lr=1e-3,3e-4" -> {optimizer.lr, [1e-3, 3e-4]}. Commas inside [...], {...} or "..."
// belong to the value (--grid data.scale=[0.25,1],[0.08,1]). ConfigError naming the argument.
GridAxis parse_grid_axis(const std::string& text);

struct SweepRequest {
  std::vector<std::string> configs;  // config files, in order
  std::vector<GridAxis> grid;        // crossed with every config, the first axis slowest
  std::vector<std::string> sets;     // --set overrides for every run, before the grid's values
  std::string workdir;               // where relative paths start (the planner's working directory)
};

struct SweepRun {
  int index = 0;                     // the Slurm array index
  std::string name;                  // run name: the config's name and the grid values it takes
  std::string config;                // config file (as given)
  std::vector<std::string> sets;     // --set overrides of `finch train`, name last
  std::vector<std::pair<std::string, std::string>> values;  // grid key -> value of this run
  std::string run_dir;               // output_dir/name, relative to workdir unless absolute
  nlohmann::ordered_json resolved;   // the validated config (as finch config prints it)
};

struct SweepPlan {
  int version = 1;
  std::string workdir;
  std::vector<std::string> configs;
  std::vector<GridAxis> grid;
  std::vector<std::string> sets;
  std::vector<SweepRun> runs;
  std::string compare_dir;           // where `finch sweep compare` writes the comparison
};

// The runs of `request`, each config loaded with its overrides and validated: a bad value is a
// ConfigError naming the run, the config file and the key; two runs with one name, an error naming
// both. `plan_name` (the plan file's stem) names the comparison folder.
SweepPlan make_sweep_plan(const SweepRequest& request, const std::string& plan_name);

// A run's name from its config's name and its grid values: "b0" + {optimizer.lr=3e-4,
// model.dropout=0.5} -> "b0_lr3e-4_dropout0.5". Keys are shortened to their last part, or more
// parts where two keys of the grid would otherwise read alike; values keep [A-Za-z0-9._+-] only.
std::string sweep_run_name(const std::string& base, const std::vector<std::pair<std::string, std::string>>& values,
                           const std::vector<std::string>& grid_keys);

// A path of a plan (config, data.root, run_dir) as this process reaches it: a relative one starts at
// the plan's workdir (Note [A sweep's plan]).
std::string at_workdir(const std::string& workdir, const std::string& path);

nlohmann::ordered_json sweep_plan_to_json(const SweepPlan& plan);
// ConfigError naming `path` and the key for a file that is not a finch plan.
SweepPlan sweep_plan_from_json(const nlohmann::json& doc, const std::string& path);
SweepPlan read_sweep_plan(const std::string& path);

}  // namespace finch
