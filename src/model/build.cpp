#include "finch/model/build.h"

#include <spdlog/spdlog.h>

#include "finch/io/safetensors.h"
#include "finch/model/freeze.h"
#include "finch/model/weights.h"

namespace finch::model {

EfficientNetOptions options_from_config(const ModelConfig& c) {
  EfficientNetOptions o;
  o.arch = c.arch;
  o.classes = c.classes;
  o.dropout = c.dropout;
  o.stochastic_depth = c.stochastic_depth;
  o.head = HeadOptions{c.head.hidden, c.head.activation, c.head.negative_slope};
  // auto is resolved from the weights before a run builds its model (train/run_inputs); a config
  // that still says auto here (no weights, or a checkpoint of an earlier version) is symmetric.
  o.padding = c.padding == ModelPadding::kTfSame ? Padding::kTfSame : Padding::kSymmetric;
  o.bn_eps = c.bn_eps;
  return o;
}

EfficientNet build_model(const ModelConfig& c) {
  EfficientNet model(options_from_config(c));
  if (!c.pretrained.empty()) {
    const auto file = io::read_safetensors(c.pretrained);
    const auto report = load_weights(*model, file.in_order(), c.pretrained, LoadOptions{/*allow_head_mismatch=*/true});
    spdlog::info("loaded pretrained weights from {}{}", c.pretrained,
                 report.kept_fresh.empty() ? "" : fmt::format(" (classifier freshly initialised for {} classes)", c.classes));
  }
  apply_freeze(*model, FreezePolicy::parse(c.freeze), c.bn_eval);
  return model;
}

}  // namespace finch::model
