// Subcommands that exist in the interface but whose implementation has not landed yet. Each one
// says so plainly (exit 1) instead of printing anything that could be mistaken for a result.
#include "commands.h"
#include "finch/core/error.h"

namespace finch::cli {

std::vector<Command> add_pending(CLI::App& parent) {
  const std::vector<std::pair<const char*, const char*>> pending = {
      {"eval", "Evaluate a checkpoint: top-1/top-5, per-class accuracy, confusion matrix"},
      {"predict", "Top-k classes with probabilities for image files"},
      {"report", "Curves (SVG/PNG) and summary tables from a run's metrics.jsonl"},
  };
  std::vector<Command> out;
  for (const auto& [name, description] : pending) {
    CLI::App* app = parent.add_subcommand(name, description);
    app->allow_extras();
    const std::string n = name;
    out.push_back({app, [n]() -> int { throw NotImplementedError("finch " + n); }});
  }
  return out;
}

}  // namespace finch::cli
