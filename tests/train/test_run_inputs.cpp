// Keys resolved from the inputs (train/run_inputs.h): the weights' metadata and the data set.
#include <filesystem>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "finch/core/error.h"
#include "finch/io/safetensors.h"
#include "finch/io/weight_metadata.h"
#include "finch/train/run_inputs.h"

namespace fs = std::filesystem;

namespace {

std::string weights_with(const finch::io::WeightMetadata& md, const std::string& name) {
  const auto path = (fs::temp_directory_path() / name).string();
  finch::io::write_safetensors(path, {{"x", torch::zeros({1})}}, finch::io::to_safetensors_metadata(md));
  return path;
}

}  // namespace

TEST(RunInputs, NullKeysTakeWhatTheWeightsRecord) {
  finch::io::WeightMetadata md;
  md.arch = "efficientnet_lite0";
  md.padding = "tf_same";
  md.bn_eps = 1e-3;
  md.mean = std::array<double, 3>{0.498, 0.498, 0.498};
  md.std = std::array<double, 3>{0.502, 0.502, 0.502};
  finch::Config c;
  c.model.arch = "lite0";
  c.model.pretrained = weights_with(md, "finch_run_inputs_lite.safetensors");
  const auto notes = finch::train::resolve_from_weights(c);
  EXPECT_EQ(c.model.padding, finch::ModelPadding::kTfSame);
  EXPECT_EQ(c.model.bn_eps, 1e-3);
  EXPECT_EQ(c.data.mean, (std::vector<double>{0.498, 0.498, 0.498}));
  EXPECT_EQ(c.data.std, (std::vector<double>{0.502, 0.502, 0.502}));
  ASSERT_EQ(notes.size(), 4u);
  EXPECT_NE(notes[2].find("data.mean [0.498, 0.498, 0.498] (recorded in " + c.model.pretrained), std::string::npos) << notes[2];

  // What the config says wins, and the note says so.
  finch::Config d;
  d.model.arch = "efficientnet_lite0";
  d.model.pretrained = c.model.pretrained;
  d.model.padding = finch::ModelPadding::kSymmetric;
  d.data.mean = std::vector<double>{0.485, 0.456, 0.406};
  const auto dn = finch::train::resolve_from_weights(d);
  EXPECT_EQ(d.model.padding, finch::ModelPadding::kSymmetric);
  EXPECT_EQ(d.data.mean, (std::vector<double>{0.485, 0.456, 0.406}));
  EXPECT_EQ(d.data.std, (std::vector<double>{0.502, 0.502, 0.502}));
  EXPECT_NE(dn[2].find("(the config)"), std::string::npos) << dn[2];

  // Weights of another architecture are refused before anything is built.
  finch::Config e;
  e.model.arch = "efficientnet_b0";
  e.model.pretrained = c.model.pretrained;
  EXPECT_THROW(finch::train::resolve_from_weights(e), finch::ConfigError);
  // ... but a command that builds no model (transform) takes their normalisation whatever model.arch says.
  const auto en = finch::train::resolve_normalisation(e);
  EXPECT_EQ(e.data.mean, (std::vector<double>{0.498, 0.498, 0.498}));
  EXPECT_EQ(e.model.padding, finch::ModelPadding::kAuto);  // left alone
  EXPECT_EQ(en.size(), 2u);
}

TEST(RunInputs, WithoutWeightsPyTorchsDefaults) {
  finch::Config c;
  finch::train::resolve_from_weights(c);
  EXPECT_EQ(c.model.padding, finch::ModelPadding::kSymmetric);
  EXPECT_FALSE(c.model.bn_eps.has_value());  // the variant's
  EXPECT_EQ(c.data.mean, (std::vector<double>{0.485, 0.456, 0.406}));
  EXPECT_EQ(c.data.std, (std::vector<double>{0.229, 0.224, 0.225}));
}

TEST(RunInputs, ClassesFromTheDataSetOrMatchingIt) {
  finch::Config c;
  finch::train::resolve_classes(c, 7);
  EXPECT_EQ(c.model.classes, 7);
  finch::train::resolve_classes(c, 7);  // an explicit, matching count
  c.model.classes = 200;
  try {
    finch::train::resolve_classes(c, 7);
    FAIL();
  } catch (const finch::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("key 'model.classes' is 200 but the dataset"), std::string::npos) << e.what();
  }
}

// finch inspect --checkpoint --config: a config leaving these keys to the inputs does not differ.
TEST(RunInputs, WhatAConfigLeavesToTheInputs) {
  using finch::train::left_to_inputs;
  EXPECT_TRUE(left_to_inputs("model.classes", 0));
  EXPECT_FALSE(left_to_inputs("model.classes", 200));
  EXPECT_TRUE(left_to_inputs("model.padding", "auto"));
  EXPECT_FALSE(left_to_inputs("model.padding", "symmetric"));
  EXPECT_TRUE(left_to_inputs("data.mean", nullptr));
  EXPECT_FALSE(left_to_inputs("data.std", nlohmann::json::array({0.5, 0.5, 0.5})));
  EXPECT_TRUE(left_to_inputs("model.bn_eps", nullptr));
  EXPECT_FALSE(left_to_inputs("model.dropout", nullptr));  // null there is the variant's default, not an input's
}
