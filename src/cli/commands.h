// Subcommand registry of the finch binary. Each add_* registers its options on the parent app and
// returns the function to run when that subcommand is chosen (its exit code).
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

namespace finch::cli {

using Run = std::function<int()>;

struct Command {
  CLI::App* app;
  Run run;
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
Command add_report(CLI::App& parent);
Command add_eval(CLI::App& parent);
Command add_predict(CLI::App& parent);

std::string version_text();

// --device, as train.device: auto is this rank's GPU when one is visible (see dist::select_device).
inline CLI::Option* add_device_option(CLI::App* app, std::string& device) {
  return app->add_option("--device", device, "auto (this rank's GPU when one is visible, else CPU), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
}

}  // namespace finch::cli
