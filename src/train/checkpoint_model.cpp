#include "finch/train/checkpoint_model.h"

#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/io/checkpoint.h"
#include "finch/model/build.h"
#include "finch/model/weights.h"
#include "finch/train/train_state.h"

namespace finch::train {

LoadedCheckpoint load_checkpoint_model(const std::string& path, bool use_ema) {
  const std::string dir = resolve_checkpoint(path, CheckpointPick::kBestElseLatest);
  const auto ck = io::read_checkpoint(dir);
  if (!ck.state.contains("config")) throw RuntimeError(fmt::format("'{}/state.json' holds no config", dir));
  LoadedCheckpoint out;
  out.path = dir;
  out.config = config_from_json(ck.state["config"], dir + "/state.json");
  if (ck.state.contains("class_names") && ck.state["class_names"].is_array())
    for (const auto& n : ck.state["class_names"])
      if (n.is_string()) out.class_names.push_back(n.get<std::string>());
  out.model = model::EfficientNet(model::options_from_config(out.config.model));
  out.ema = use_ema && !ck.ema.empty();
  if (out.ema) model::load_weights(*out.model, ck.ema, dir + "/" + io::kEmaFile);
  else model::load_weights(*out.model, ck.model, dir + "/model.safetensors");
  out.model->eval();
  return out;
}

}  // namespace finch::train
