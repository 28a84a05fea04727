#include "finch/train/param_groups.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/model/batchnorm.h"

namespace finch::train {
namespace {

// "features.3.1.block.0.0.weight" -> (3, 1); "features.0.0.weight" -> (0, 0); "classifier.1.weight" -> nothing.
std::optional<std::pair<int, int>> feature_position(const std::string& name) {
  int stage = -1, block = -1, used = 0;
  if (std::sscanf(name.c_str(), "features.%d.%d.%n", &stage, &block, &used) == 2 && used > 0) return std::make_pair(stage, block);
  if (std::sscanf(name.c_str(), "features.%d.%n", &stage, &used) == 1 && used > 0) return std::make_pair(stage, -1);
  return std::nullopt;
}

}  // namespace

std::vector<ParamGroupPlan> plan_param_groups(const torch::nn::Module& model, const OptimizerConfig& c) {
  // Which parameters are exempt from weight decay: BatchNorm's and biases (timm: every 1-D one,
  // the same set for these models).
  std::map<std::string, bool> exempt, one_d;  // one_d: timm's no-decay set, for its layer-wise groups
  std::vector<std::pair<std::string, torch::Tensor>> trainable;
  for (const auto& item : model.named_modules("", /*include_self=*/true)) {
    const bool is_bn = item.value()->as<model::BatchNorm2d>() != nullptr;
    for (const auto& p : item.value()->named_parameters(/*recurse=*/false)) {
      if (!p.value().requires_grad()) continue;
      const std::string name = item.key().empty() ? p.key() : item.key() + "." + p.key();
      one_d[name] = c.no_decay_bn_bias && (is_bn || p.key() == "bias");
      exempt[name] = one_d[name] && c.weight_decay > 0;
    }
  }
  for (const auto& p : model.named_parameters())
    if (p.value().requires_grad()) trainable.emplace_back(p.key(), p.value());
  if (trainable.empty()) throw ConfigError("model.freeze leaves no trainable parameter");

  std::vector<ParamGroupPlan> groups;
  if (c.layer_decay <= 0 && c.backbone_lr_scale == 1.0) {  // the two groups finch always had
    ParamGroupPlan decay{"decay", 1.0, c.weight_decay, {}, {}}, no_decay{"no_decay", 1.0, 0.0, {}, {}};
    for (const auto& [name, p] : trainable) {
      auto& g = exempt.at(name) ? no_decay : decay;
      g.param_names.push_back(name), g.params.push_back(p);
    }
    if (!decay.params.empty()) groups.push_back(std::move(decay));
    if (!no_decay.params.empty()) groups.push_back(std::move(no_decay));
    return groups;
  }

  // timm's group_matcher for EfficientNet in torchvision's names: the stem (features.0) is layer 0,
  // each block (features.S.B) the next, the head convolution (the last features.N) the last
  // block's, the classifier (and an extra head layer) the last. Layers are counted over all
  // parameters, frozen ones too, as timm's layer map is.
  int last_feature = 0;
  for (const auto& p : model.named_parameters())
    if (const auto pos = feature_position(p.key())) last_feature = std::max(last_feature, pos->first);
  std::map<std::pair<int, int>, int> block_ids;
  for (const auto& p : model.named_parameters())
    if (const auto pos = feature_position(p.key()); pos && pos->first > 0 && pos->first < last_feature && pos->second >= 0)
      block_ids.emplace(*pos, 0);
  int next = 1;
  for (auto& [pos, id] : block_ids) id = next++;  // in (stage, block) order
  // The head convolution joins the last block's layer (timm's MATCH_PREV_GROUP for conv_head|bn2).
  const int head_conv = next - 1, classifier = next;
  auto layer_of = [&](const std::string& name) {
    const auto pos = feature_position(name);
    if (!pos) return classifier;
    if (pos->first == 0) return 0;
    if (pos->first == last_feature) return head_conv;
    const auto it = block_ids.find(*pos);
    return it == block_ids.end() ? classifier : it->second;
  };
  std::map<std::string, size_t> index;
  for (const auto& [name, p] : trainable) {
    const int layer = layer_of(name);
    const bool no_decay = one_d.at(name);  // separate groups even without weight decay, as timm's
    const std::string key = fmt::format("layer_{}_{}", layer, no_decay ? "no_decay" : "decay");
    auto [it, fresh] = index.emplace(key, groups.size());
    if (fresh) {
      double scale = c.layer_decay > 0 ? std::pow(c.layer_decay, classifier - layer) : 1.0;
      if (layer != classifier) scale *= c.backbone_lr_scale;
      groups.push_back({key, scale, no_decay ? 0.0 : c.weight_decay, {}, {}});
    }
    groups[it->second].param_names.push_back(name);
    groups[it->second].params.push_back(p);
  }
  return groups;
}

}  // namespace finch::train
