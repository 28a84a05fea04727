// finch train: load and validate the config on every rank (one agreed error if it is bad), then
// train. The training loop lands with the distributed engine (issue 5).
#include <iostream>

#include "commands.h"
#include "finch/core/config.h"
#include "finch/core/error.h"
#include "finch/dist/agree.h"
#include "finch/dist/communicator.h"

namespace finch::cli {

Command add_train(CLI::App& parent) {
  auto* app = parent.add_subcommand("train", "Train (fine-tune) a model; launch with mpirun/srun for several ranks");
  struct Opts {
    std::string file;
    std::vector<std::string> sets;
    std::string name;
    std::string resume;
    bool dry_run = false;
  };
  auto o = std::make_shared<Opts>();
  app->add_option("--config,-c", o->file, "JSON run config (see configs/ and `finch config --schema`)")->required();
  app->add_option("--set", o->sets, "Override a config key: --set optimizer.lr=3e-4 (repeatable)");
  app->add_option("--name", o->name, "Run name (default: the config's name, else the file's stem)");
  app->add_option("--resume", o->resume, "Continue a run: 'auto' (latest checkpoint of the run directory) or a checkpoint path");
  app->add_flag("--dry-run", o->dry_run, "Validate the config on every rank, print it resolved, and exit");
  return {app, [o]() {
            auto comm = dist::make_mpi_communicator();
            Config config;
            dist::run_agreed(*comm, [&] {
              std::vector<std::string> sets = o->sets;
              if (!o->name.empty()) sets.push_back("name=" + o->name);
              config = load_config(o->file, sets);
            });
            if (o->dry_run) {
              if (comm->rank() == 0) std::cout << config_to_json(config).dump(2) << "\n";
              return 0;
            }
            throw NotImplementedError("finch train (the training loop)");
          }};
}

}  // namespace finch::cli
