// Subcommand registry of the finch binary. Each add_* registers its options on the parent app and
// returns the function to run when that subcommand is chosen (its exit code).
#pragma once

#include <functional>
#include <vector>
#include <string>

#include <CLI/CLI.hpp>

#include "finch/core/config.h"

namespace finch::cli {

using Run = std::function<int()>;

struct Command {
  CLI::App* app;
  Run run;
  // train: the stop-signal handlers (train::StopSignals) are installed before MPI starts and held
  // until the process exits, so that a SIGTERM at any time after finch's libraries have loaded
  // ends the run resumably (exit 75), never as a signal death (143).
  bool stop_signals = false;
};

Command add_train(CLI::App& parent);
Command add_config(CLI::App& parent);
Command add_import_weights(CLI::App& parent);
Command add_forward(CLI::App& parent);
Command add_inspect(CLI::App& parent);
Command add_dataset(CLI::App& parent);
Command add_synth(CLI::App& parent);
Command add_pack(CLI::App& parent);
Command add_bench(CLI::App& parent);
Command add_bench_step(CLI::App& root);       // after add_bench: adds `bench step`
Command add_bench_allreduce(CLI::App& root);  // after add_bench: adds `bench allreduce`
Command add_bench_e2e(CLI::App& root);        // after add_bench: adds `bench e2e`
Command add_report(CLI::App& parent);
Command add_sweep(CLI::App& parent);
Command add_eval(CLI::App& parent);
Command add_predict(CLI::App& parent);
Command add_transform(CLI::App& parent);

std::string version_text();

// torch's intra-op threads: `threads` when > 0, else OMP_NUM_THREADS when set, else the node's cores
// divided among its ranks (threads.cpp). After MPI is initialised.
void set_intra_op_threads(int threads = 0);

// finch inspect --checkpoint (inspect_checkpoint.cpp); the exit code.
int inspect_checkpoint(const std::string& where, const std::string& config_path, bool as_json);

// An option whose values are a config choice's names (config.h), parsed straight into the enum.
// `value` must outlive the parse (a member of the subcommand's shared options).
template <class E>
CLI::Option* add_choice_option(CLI::App* app, const std::string& flag, E& value, const std::string& help) {
  std::vector<std::string> names;
  for (const auto& [v, n] : ChoiceNames<E>::kAll) names.emplace_back(n);
  return app->add_option_function<std::string>(flag, [&value](const std::string& name) { value = *choice_from_name<E>(name); }, help)
      ->check(CLI::IsMember(names))
      ->default_str(std::string(choice_name(value)));
}

// --device, as train.device: auto is this rank's GPU when one is visible (see distributed::select_device).
inline CLI::Option* add_device_option(CLI::App* app, DeviceRequest& device) {
  return add_choice_option(app, "--device", device, "auto (this rank's GPU when one is visible, else CPU), cpu or cuda");
}

}  // namespace finch::cli
