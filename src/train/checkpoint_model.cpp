#include "finch/train/checkpoint_model.h"

#include <filesystem>

#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/io/checkpoint.h"
#include "finch/model/build.h"
#include "finch/model/weights.h"

namespace finch::train {
namespace fs = std::filesystem;

LoadedCheckpoint load_checkpoint_model(const std::string& path) {
  std::string dir = path;
  if (fs::exists(fs::path(path) / "checkpoints")) {  // a run directory
    const auto best = fs::path(path) / "checkpoints" / "best";
    dir = fs::exists(best / "state.json") ? best.string() : io::find_latest_checkpoint((fs::path(path) / "checkpoints").string());
    if (dir.empty()) throw RuntimeError(fmt::format("'{}' has no intact checkpoint", path));
  }
  if (!fs::exists(fs::path(dir) / "state.json"))
    throw ConfigError(fmt::format("'{}' is not a checkpoint directory (no state.json) nor a run directory", path));
  const auto ck = io::read_checkpoint(dir);
  if (!ck.state.contains("config")) throw RuntimeError(fmt::format("'{}/state.json' holds no config", dir));
  LoadedCheckpoint out;
  out.path = dir;
  out.config = config_from_json(ck.state["config"], dir + "/state.json");
  model::EfficientNetOptions o = model::options_from_config(out.config.model);
  out.model = model::EfficientNet(o);
  model::load_weights(*out.model, ck.model, dir + "/model.safetensors");
  out.model->eval();
  return out;
}

}  // namespace finch::train
