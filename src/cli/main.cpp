// finch: one binary, subcommands (train, eval, predict, ...). Errors end as one message and an
// exit code (2 usage/config, 1 runtime); with several ranks a runtime failure aborts the whole job.
#include <cstdio>
#include <iostream>
#include <optional>

#include "commands.h"
#include "finch/core/error.h"
#include "finch/core/host_allocator.h"
#include "finch/distributed/agree.h"
#include "finch/distributed/world.h"
#include "finch/train/stop_signals.h"

namespace {

int fail(const std::string& message, int code) {
  const auto& w = finch::distributed::world();
  const std::string line = finch::one_line(message);
  if (w.size > 1)
    std::fprintf(stderr, "finch: error: rank %d: %s\n", w.rank, line.c_str());
  else
    std::fprintf(stderr, "finch: error: %s\n", line.c_str());
  std::fflush(stderr);
  // Other ranks may sit in a collective waiting for this one: take the job down, don't hang it.
  if (w.size > 1) finch::distributed::abort_job(code);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  finch::tune_host_allocator();  // before anything allocates (Note [Host allocator])
  CLI::App app{"finch: distributed fine-tuning of EfficientNets for fine-grained image classification "
               "(LibTorch, MPI/NCCL)",
               "finch"};
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  bool show_version = false;
  app.add_flag("--version", show_version, "Print finch, LibTorch, CUDA/NCCL and MPI versions");
  app.require_subcommand(0, 1);
  app.footer("Run `finch SUBCOMMAND --help` for a subcommand's options. Multi-rank: mpirun -np N finch train ...");
  // Usage errors are one line too, as every other error (README "Errors and exit codes").
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "finch: error: " + finch::one_line(e.what()) + " (see --help)\n";
  });

  std::vector<finch::cli::Command> commands = {finch::cli::add_train(app),          finch::cli::add_config(app),
                                               finch::cli::add_forward(app),        finch::cli::add_import_weights(app),
                                               finch::cli::add_inspect(app),        finch::cli::add_dataset(app),
                                               finch::cli::add_synth(app),          finch::cli::add_pack(app),
                                               finch::cli::add_bench(app),          finch::cli::add_bench_step(app),
                                               finch::cli::add_bench_allreduce(app), finch::cli::add_bench_e2e(app),
                                               finch::cli::add_report(app),         finch::cli::add_sweep(app),
                                               finch::cli::add_eval(app),           finch::cli::add_predict(app),        finch::cli::add_transform(app)};

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (show_version) {
    std::cout << finch::cli::version_text();
    return 0;
  }
  for (auto& c : commands) {
    if (!c.app->parsed()) continue;
    std::optional<finch::train::StopSignals> stop_signals;
    if (c.stop_signals) stop_signals.emplace();  // before MPI: its start can take seconds (Command::stop_signals)
    try {
      finch::distributed::init_world(&argc, &argv);
      const int rc = c.run();
      finch::distributed::finalize_world();
      return rc;
    } catch (const finch::distributed::AgreedExit& e) {
      // Every rank reached this together: no abort needed, and only one of them speaks.
      if (*e.what()) std::fprintf(stderr, "finch: error: %s\n", finch::one_line(e.what()).c_str());
      finch::distributed::finalize_world();
      return e.exit_code();
    } catch (const finch::Error& e) {
      return fail(e.what(), e.exit_code());
    } catch (const std::exception& e) {
      return fail(e.what(), 1);
    }
  }
  std::cerr << app.help() << "\nfinch: error: a subcommand is required\n";
  return 2;
}
