// finch train: load and validate the config on every rank (one agreed error if it is bad), check
// the run directory, open data, model, weights and checkpoint, and only then create the run
// directory on rank 0 (a start that fails leaves nothing behind), and train.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "finch/core/config.h"
#include "finch/core/error.h"
#include "finch/core/logging.h"
#include "finch/core/run_dir.h"
#include "finch/core/run_lock.h"
#include "finch/distributed/agree.h"
#include "finch/distributed/communicator.h"
#include "finch/distributed/run_context.h"
#include "finch/distributed/watchdog.h"
#include "finch/train/auto_resume.h"
#include "finch/train/trainer.h"

namespace finch::cli {
namespace {

// Every rank must train the same resolved config (README: the ranks agree on it): a rank launched
// with another --set, another file or another data set would otherwise train a different batch
// size without a word, or fail deep in a broadcast (MPI_ERR_TRUNCATE for another head). Rank 0's
// config goes to every rank, and a rank that differs names the first key.
void check_same_config_on_every_rank(distributed::Communicator& comm, const Config& resolved) {
  const nlohmann::json mine = config_to_json(resolved);
  const nlohmann::json rank0 = nlohmann::json::parse(comm.broadcast_text(mine.dump(), 0));
  distributed::run_agreed(comm, [&] {
    if (mine == rank0) return;
    const auto patch = nlohmann::json::diff(rank0, mine);
    std::string key = patch.empty() ? "" : patch[0].value("path", "");
    const nlohmann::json::json_pointer at(key);
    const auto value = [&](const nlohmann::json& j) { return j.contains(at) ? briefly(j.at(at).dump()) : std::string("absent"); };
    std::replace(key.begin(), key.end(), '/', '.');
    throw ConfigError(fmt::format("the resolved config differs from rank 0's at key '{}' ({} here, {} on rank 0): every rank must "
                                  "train the same config (the same file, --set options and data set)",
                                  key.empty() ? key : key.substr(1), value(mine), value(rank0)));
  });
}

}  // namespace

Command add_train(CLI::App& parent) {
  auto* app = parent.add_subcommand("train", "Train (fine-tune) a model; launch with mpirun/srun for several ranks");
  struct Opts {
    std::string file;
    std::vector<std::string> sets;
    std::string name;
    std::string resume;
    std::string new_run;
    bool dry_run = false;
    bool force = false;
  };
  auto o = std::make_shared<Opts>();
  app->add_option("--config,-c", o->file, "JSON run config (see configs/ and `finch config --schema`)")->required();
  app->add_option("--set", o->sets, "Override a config key: --set optimizer.lr=3e-4 (repeatable)");
  auto* name = app->add_option("--name", o->name, "Run name (default: the config's name, else the file's stem)");
  auto* resume = app->add_option("--resume", o->resume, "Continue a run: 'auto' (the run directory's latest intact checkpoint; starts the run if it has none yet) or a checkpoint directory");
  app->add_flag("--force", o->force,
                "With --resume of an older checkpoint: move the run's newer checkpoints to checkpoints/set-aside-<time>/ "
                "instead of refusing to start (they are never replaced)")
      ->needs(resume);
  app->add_option("--resume-into-new-run", o->new_run,
                  "With --resume CHECKPOINT: continue from it in a new run directory NAME (weights, optimizer, schedule and "
                  "position), leaving the run it came from as it is")
      ->needs(resume)
      ->excludes(name)
      ->excludes("--force");
  app->add_flag("--dry-run", o->dry_run, "Validate the config on every rank, print it resolved, and exit");
  return {app, [o]() {
            auto comm = distributed::make_mpi_communicator();
            Config config;
            distributed::run_agreed(*comm, [&] {
              std::vector<std::string> sets = o->sets;
              if (!o->name.empty()) sets.push_back("name=" + o->name);
              if (!o->new_run.empty()) {
                if (o->resume == "auto")
                  throw ConfigError("--resume-into-new-run starts from a checkpoint or run directory: give its path to --resume, not 'auto'");
                sets.push_back("name=" + o->new_run);  // checked as any name (one folder inside output_dir)
              }
              config = load_config(o->file, sets);
            });
            distributed::set_collective_timeout(config.dist.timeout_s);
            if (o->dry_run) {
              if (comm->rank() == 0) std::cout << config_to_json(config).dump(2) << "\n";
              return 0;
            }
            setup_logging({comm->rank(), comm->size(), config.logging.level, config.logging.all_ranks});
            set_intra_op_threads();
            // Device and communicator first: a rank that cannot have its GPU stops every rank with one
            // message before a run directory exists.
            auto ctx = distributed::make_run_context(
                *comm, {config.train.device, config.dist.share_gpus, config.dist.backend, static_cast<double>(config.dist.timeout_s)});
            RunDir dir = run_dir_for(config);
            const train::ResumePlan plan = train::plan_resume(*comm, config, dir, o->resume, /*into_new_run=*/!o->new_run.empty());
            spdlog::info("device {}: {}", ctx.device.str(), ctx.device_reason);
            train::TrainRequest request{config, dir, plan.from, o->force, {}};
            // The run directory once data, model, weights and checkpoint are in hand on every rank;
            // rank 0 holds its lock until it exits (Note [One trainer per run directory]).
            std::optional<RunLock> lock;
            std::string no_lock;
            request.open_run_dir = [&](const Config& resolved) {
              check_same_config_on_every_rank(*comm, resolved);
              std::filesystem::path moved_to;
              distributed::run_agreed(*comm, [&] {
                if (comm->rank() != 0) return;
                check_run_dir(resolved, plan.mode);  // refused before the lock creates the folder
                lock.emplace(RunLock::acquire(run_dir_for(resolved).root.string(), &no_lock));
                dir = create_run_dir(resolved, plan.mode, &moved_to);
              });
              if (comm->rank() != 0) return;
              add_log_file(dir.log_file().string());
              if (!no_lock.empty()) spdlog::warn("{}", no_lock);
              if (!plan.why.empty())
                spdlog::info("{}{}", plan.why, moved_to.empty() ? "" : " (its logs were moved to " + moved_to.string() + ")");
            };
            return train::run_training(request, ctx);
          },
          /*stop_signals=*/true};
}

}  // namespace finch::cli
