// The optimizer's parameter groups (param_groups.h): the two groups finch always had, the backbone
// LR scale, and timm's layer-wise decay for EfficientNet, the last against timm itself.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "finch/io/weight_import.h"
#include "finch/model/build.h"
#include "finch/model/efficientnet.h"
#include "finch/train/param_groups.h"
#include "reference_json.h"

using namespace finch;
using finch::train::plan_param_groups;

namespace {

model::EfficientNet make(const std::string& arch, int classes) {
  ModelConfig mc;
  mc.arch = arch;
  mc.classes = classes;
  return model::EfficientNet(model::options_from_config(mc));
}

}  // namespace

TEST(ParamGroups, WithoutLayerDecayTheTwoGroupsAsAlways) {
  auto net = make("efficientnet_b0", 10);
  OptimizerConfig c;
  c.weight_decay = 0.05;
  const auto groups = plan_param_groups(*net, c);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].name, "decay");
  EXPECT_EQ(groups[1].name, "no_decay");
  EXPECT_EQ(groups[1].weight_decay, 0.0);
  for (const auto& g : groups) EXPECT_EQ(g.lr_scale, 1.0);
  EXPECT_EQ(groups[0].params.size() + groups[1].params.size(), net->parameters().size());
}

TEST(ParamGroups, BackboneLrScaleLeavesTheClassifierAtTheFullLr) {
  auto net = make("efficientnet_b0", 10);
  OptimizerConfig c;
  c.backbone_lr_scale = 0.1;
  for (const auto& g : plan_param_groups(*net, c))
    for (const auto& name : g.param_names) EXPECT_EQ(g.lr_scale, name.rfind("classifier.", 0) == 0 ? 1.0 : 0.1) << name;
}

// Against timm's param_groups_layer_decay: tests/reference/layer_decay_reference.py writes its
// groups, ctest's reference.layer_decay points FINCH_LAYER_DECAY_REFERENCE at them (the PyPI suite).
TEST(LayerDecayReference, SameGroupsAsTimm) {
  const auto found = reference_json("FINCH_LAYER_DECAY_REFERENCE");
  if (!found) GTEST_SKIP() << "run through ctest -R reference.layer_decay (needs timm)";
  const auto& ref = *found;
  int checked = 0;
  for (const auto& c : ref["cases"]) {
    const std::string arch = c["arch"];
    auto net = make(arch, 200);
    OptimizerConfig oc;
    oc.layer_decay = c["layer_decay"];
    oc.weight_decay = c["weight_decay"];
    const auto groups = plan_param_groups(*net, oc);
    const io::EfficientNetLayout layout{model::stage_blocks(model::variant_spec(arch)), true};
    ASSERT_EQ(groups.size(), c["groups"].size()) << arch << " layer_decay " << oc.layer_decay;
    for (size_t g = 0; g < groups.size(); ++g) {
      const auto& want = c["groups"][g];
      EXPECT_NEAR(groups[g].lr_scale, want["lr_scale"].get<double>(), 1e-12) << arch << " group " << g << " " << groups[g].name;
      EXPECT_EQ(groups[g].weight_decay, want["weight_decay"].get<double>()) << arch << " group " << g << " " << groups[g].name;
      std::vector<std::string> names;
      for (const auto& n : want["params"]) names.push_back(io::timm_to_torchvision(n.get<std::string>(), layout));
      EXPECT_EQ(groups[g].param_names, names) << arch << " group " << g << " " << groups[g].name;
      checked += static_cast<int>(names.size());
    }
  }
  EXPECT_GT(checked, 1000);
}
