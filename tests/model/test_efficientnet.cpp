#include <map>
#include <numeric>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "finch/core/config.h"
#include "finch/core/error.h"
#include "finch/model/batchnorm.h"
#include "finch/model/efficientnet.h"
#include "finch/model/freeze.h"
#include "finch/model/param_count.h"
#include "finch/model/weights.h"

using namespace finch::model;

namespace {

EfficientNet make(const std::string& arch, int64_t classes = 200, const std::string& freeze = "none", bool bn_eval = false) {
  EfficientNetOptions o;
  o.arch = arch;
  o.classes = classes;
  EfficientNet m(o);
  apply_freeze(*m, FreezePolicy::parse(freeze), bn_eval);
  return m;
}

}  // namespace

// The seed's figures (and torchvision's: see tests/reference for the names and numerics).
TEST(EfficientNet, ParameterCountsMatchTheSeed) {
  EXPECT_EQ(count_parameters(*make("efficientnet_b0")).total, 4263748);
  EXPECT_EQ(count_parameters(*make("efficientnet_b2")).total, 7982794);
  EXPECT_EQ(count_parameters(*make("efficientnet_b0", 200, "last_blocks:1+bn")).trainable, 1010200);
  EXPECT_EQ(count_parameters(*make("efficientnet_b2", 200, "last_blocks:1+bn")).trainable, 2229136);
  // torchvision's ImageNet models.
  EXPECT_EQ(count_parameters(*make("b0", 1000)).total, 5288548);
  EXPECT_EQ(count_parameters(*make("b1", 1000)).total, 7794184);
  EXPECT_EQ(count_parameters(*make("b3", 1000)).total, 12233232);
}

TEST(EfficientNet, TorchvisionLayoutAndNames) {
  auto m = make("efficientnet_b0", 1000);
  const auto state = model_state(*m);
  EXPECT_EQ(state.size(), 360u);  // 213 parameters + 147 buffers, as torchvision's state_dict
  EXPECT_EQ(state.front().first, "features.0.0.weight");
  EXPECT_EQ(m->block_names().size(), 16u);
  EXPECT_EQ(m->block_names().back(), "features.7.0");
  EXPECT_EQ(m->feature_dim(), 1280);
  EXPECT_EQ(make("efficientnet_b2")->feature_dim(), 1408);
  EXPECT_EQ(make("efficientnet_b2")->block_names().size(), 23u);
}

TEST(EfficientNet, BatchNormConstantsPerVariant) {
  auto b0 = make("efficientnet_b0");
  auto* bn0 = b0->features[0]->as<StackImpl>()->ptr(1)->as<BatchNorm2d>();
  ASSERT_NE(bn0, nullptr);
  EXPECT_DOUBLE_EQ(bn0->eps, 1e-5);
  EXPECT_DOUBLE_EQ(bn0->momentum, 0.1);
  auto b5 = make("efficientnet_b5");
  auto* bn5 = b5->features[0]->as<StackImpl>()->ptr(1)->as<BatchNorm2d>();
  EXPECT_DOUBLE_EQ(bn5->eps, 1e-3);
  EXPECT_DOUBLE_EQ(bn5->momentum, 0.01);
}

TEST(EfficientNet, ForwardShapesAndEvalDeterminism) {
  auto m = make("efficientnet_b0", 7);
  m->eval();
  torch::NoGradGuard g;
  const auto x = torch::randn({2, 3, 64, 64});
  const auto y = m->forward(x);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 7}));
  EXPECT_TRUE(torch::equal(y, m->forward(x)));
  EXPECT_EQ(m->forward_features(x).sizes(), (std::vector<int64_t>{2, 1280}));
}

TEST(EfficientNet, StochasticDepthOnlyInTraining) {
  EfficientNetOptions o;
  o.classes = 3;
  o.stochastic_depth = 0.9;
  o.dropout = 0.0;
  EfficientNet m(o);
  torch::NoGradGuard g;
  const auto x = torch::randn({4, 3, 32, 32});
  m->eval();
  EXPECT_TRUE(torch::equal(m->forward(x), m->forward(x)));
  torch::manual_seed(1);
  m->train();
  const auto a = m->forward(x);
  const auto b = m->forward(x);
  EXPECT_FALSE(torch::equal(a, b));  // residual branches dropped at random
}

TEST(EfficientNet, HiddenHead) {
  EfficientNetOptions o;
  o.classes = 10;
  o.head.hidden = 64;
  o.head.activation = finch::Activation::kLeakyReLU;
  EfficientNet m(o);
  const auto c = count_parameters(*m);
  EXPECT_EQ(c.parts.back().total, 1280 * 64 + 64 + 64 * 10 + 10);
  m->eval();
  EXPECT_EQ(m->forward(torch::randn({1, 3, 32, 32})).size(1), 10);
}

TEST(EfficientNet, UnknownArchitecture) {
  EfficientNetOptions o;
  o.arch = "efficientnet_b8";
  EXPECT_THROW(EfficientNet{o}, finch::ConfigError);
  EXPECT_EQ(canonical_arch("b3"), "efficientnet_b3");
}

TEST(Freeze, HeadOnlyTrainsTheClassifier) {
  auto m = make("efficientnet_b0", 200, "head");
  for (const auto& p : m->named_parameters())
    EXPECT_EQ(p.value().requires_grad(), p.key().rfind("classifier.", 0) == 0) << p.key();
  EXPECT_EQ(count_parameters(*m).trainable, 256200);
}

TEST(Freeze, LastBlocksAndBn) {
  auto m = make("efficientnet_b0", 200, "last_blocks:2");
  for (const auto& p : m->named_parameters()) {
    const auto& k = p.key();
    const bool expect = k.rfind("classifier.", 0) == 0 || k.rfind("features.7.0.", 0) == 0 || k.rfind("features.6.3.", 0) == 0;
    EXPECT_EQ(p.value().requires_grad(), expect) << k;
  }
  // +bn: every BatchNorm weight and bias trains too, nothing else.
  auto mb = make("efficientnet_b0", 200, "last_blocks:2+bn");
  EXPECT_TRUE(mb->named_parameters()["features.0.1.weight"].requires_grad());
  EXPECT_FALSE(mb->named_parameters()["features.0.0.weight"].requires_grad());
  EXPECT_THROW(make("efficientnet_b0", 200, "last_blocks:17"), finch::ConfigError);
  EXPECT_NO_THROW(make("efficientnet_b0", 200, "last_blocks:16"));
}

TEST(Freeze, FrozenParametersGetNoGradient) {
  auto m = make("efficientnet_b0", 5, "head");
  m->train();
  m->forward(torch::randn({2, 3, 32, 32})).sum().backward();
  for (const auto& p : m->named_parameters())
    EXPECT_EQ(p.value().grad().defined(), p.value().requires_grad()) << p.key();
}

TEST(Freeze, BnEvalKeepsFrozenRunningStatsFixed) {
  auto m = make("efficientnet_b0", 5, "last_blocks:1+bn", /*bn_eval=*/true);
  m->train();
  auto state_of = [&](const std::string& name) { return m->named_buffers()[name].clone(); };
  const auto frozen_before = state_of("features.0.1.running_mean");
  const auto trained_before = state_of("features.7.0.block.0.1.running_mean");
  m->forward(torch::randn({4, 3, 32, 32}) * 3 + 1);
  EXPECT_TRUE(torch::equal(frozen_before, state_of("features.0.1.running_mean")));
  EXPECT_FALSE(torch::equal(trained_before, state_of("features.7.0.block.0.1.running_mean")));
  // Without bn_eval every BatchNorm updates in train mode.
  auto plain = make("efficientnet_b0", 5, "last_blocks:1+bn", false);
  plain->train();
  const auto before = plain->named_buffers()["features.0.1.running_mean"].clone();
  plain->forward(torch::randn({4, 3, 32, 32}) * 3 + 1);
  EXPECT_FALSE(torch::equal(before, plain->named_buffers()["features.0.1.running_mean"]));
}

TEST(FreezePolicy, ParseAndPrint) {
  EXPECT_EQ(FreezePolicy::parse("last_blocks:3+bn").str(), "last_blocks:3+bn");
  EXPECT_EQ(FreezePolicy::parse("head").kind, FreezePolicy::Kind::kHead);
  EXPECT_THROW(FreezePolicy::parse("blocks:3"), finch::ConfigError);
}

TEST(LoadWeights, StrictWithAListOfWhatIsWrong) {
  auto src = make("efficientnet_b0", 1000);
  auto dst = make("efficientnet_b0", 200);
  auto state = model_state(*src);
  // A 1000-class head into a 200-class model: an error unless the head may differ.
  try {
    load_weights(*dst, state, "in.safetensors");
    FAIL();
  } catch (const finch::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("classifier.1.weight [1000, 1280] (model [200, 1280])"), std::string::npos) << e.what();
  }
  const auto report = load_weights(*dst, state, "in.safetensors", {/*allow_head_mismatch=*/true});
  EXPECT_EQ(report.kept_fresh.size(), 2u);
  EXPECT_TRUE(torch::equal(dst->named_parameters()["features.0.0.weight"], src->named_parameters()["features.0.0.weight"]));
  // Missing and unexpected keys are listed by name.
  state.erase(state.begin());
  state.emplace_back("features.99.weight", torch::zeros({1}));
  try {
    load_weights(*dst, state, "in.safetensors", {true});
    FAIL();
  } catch (const finch::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("missing keys (1): features.0.0.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("unexpected keys (1): features.99.weight"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "not one line: " << e.what();
  }
  // A float tensor relabelled I32 (its bits read as integers) once loaded as weights of +-1e9.
  state = model_state(*src);
  for (auto& [name, t] : state)
    if (name == "features.0.1.weight") t = t.view(torch::kInt);
  try {
    load_weights(*dst, state, "in.safetensors", {true});
    FAIL() << "integer weights were loaded into float parameters";
  } catch (const finch::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("weights 'in.safetensors' do not fit the model: type mismatches (1): features.0.1.weight Int (model Float)"),
              std::string::npos) << e.what();
  }
}

#include <filesystem>

#include "finch/io/safetensors.h"
#include "finch/model/build.h"

TEST(BuildModel, LoadsPretrainedKeepsAFreshHeadAndFreezes) {
  const auto path = (std::filesystem::temp_directory_path() / "finch_pretrained_b0.safetensors").string();
  auto imagenet = make("efficientnet_b0", 1000);
  finch::io::write_safetensors(path, model_state(*imagenet));
  finch::ModelConfig c;
  c.classes = 200;
  c.pretrained = path;
  c.freeze = "head";
  auto m = build_model(c);
  EXPECT_TRUE(torch::equal(m->named_parameters()["features.3.1.block.1.0.weight"],
                           imagenet->named_parameters()["features.3.1.block.1.0.weight"]));
  EXPECT_TRUE(torch::equal(m->named_buffers()["features.8.1.running_var"], imagenet->named_buffers()["features.8.1.running_var"]));
  EXPECT_EQ(m->named_parameters()["classifier.1.weight"].size(0), 200);
  EXPECT_EQ(count_parameters(*m).trainable, 256200);
  c.arch = "efficientnet_b2";  // B0 weights into B2: a clear error, not a partial load
  EXPECT_THROW(build_model(c), finch::RuntimeError);
}

// EfficientNet-Lite: counts from the reference implementation (efficientnet-lite-pytorch's
// EfficientNet.from_name, sum of parameter numels), not from finch.
TEST(EfficientNetLite, ParameterCountsMatchTheReference) {
  EXPECT_EQ(count_parameters(*make("efficientnet_lite0", 1000)).total, 4652008);
  EXPECT_EQ(count_parameters(*make("efficientnet_lite0", 200)).total, 3627208);
  EXPECT_EQ(count_parameters(*make("lite1", 1000)).total, 5416680);
  EXPECT_EQ(count_parameters(*make("lite2", 1000)).total, 6092072);
  EXPECT_EQ(count_parameters(*make("lite2", 200)).total, 5067272);
  EXPECT_EQ(count_parameters(*make("lite3", 1000)).total, 8197096);
  EXPECT_EQ(count_parameters(*make("lite4", 1000)).total, 13006568);
}

TEST(EfficientNetLite, NoSqueezeExcitationReLU6FixedStemAndHead) {
  auto m = make("efficientnet_lite4", 1000);
  std::map<std::string, at::Tensor> state;
  for (const auto& [n, t] : model_state(*m)) state[n] = t;
  for (const auto& [n, t] : state) EXPECT_EQ(n.find("fc1"), std::string::npos) << n;
  EXPECT_EQ(state.at("features.0.0.weight").size(0), 32);     // stem not widened (B-style would be 48)
  EXPECT_EQ(state.at("features.8.0.weight").size(0), 1280);   // head not widened
  EXPECT_EQ(state.at("features.1.0.block.1.0.weight").size(1), 32);  // stage 1: dw(32) -> project, no SE between
  EXPECT_EQ(m->block_names().front(), "features.1.0");
  EXPECT_EQ(m->block_names().back(), "features.7.0");  // the last stage is not repeated
  EXPECT_EQ(m->block_names().size(), 1u + 4 + 4 + 6 + 6 + 8 + 1);  // lite4: depth 1.8, first and last stage fixed
  int relu6 = 0, silu = 0;
  for (const auto& mod : m->modules(false)) {
    relu6 += mod->as<torch::nn::ReLU6>() != nullptr;
    silu += mod->as<torch::nn::SiLU>() != nullptr;
  }
  EXPECT_GT(relu6, 0);
  EXPECT_EQ(silu, 0);
  const auto spec = variant_spec("lite2");
  EXPECT_EQ(spec.resolution, 260);
  EXPECT_DOUBLE_EQ(spec.dropout, 0.3);
  EXPECT_DOUBLE_EQ(spec.bn_eps, 1e-3);
}

// Note [TF same padding]: a strided convolution pads (total/2, total - total/2) for the input it
// gets, so one model serves every size; on an odd size that is the symmetric padding.
TEST(EfficientNetLite, TfSamePaddingFollowsTheInputSize) {
  for (int64_t size : {224, 225, 239, 240}) {
    EfficientNetOptions o;
    o.arch = "efficientnet_lite0";
    o.classes = 10;
    o.padding = Padding::kTfSame;
    EfficientNet tf(o);
    tf->eval();
    torch::manual_seed(1);
    const auto x = torch::randn({1, 3, size, size});
    torch::NoGradGuard no_grad;
    // The stem by hand: TF's padding for a 3x3 stride-2 conv on `size` pixels, then eval BatchNorm
    // at its initial statistics (x / sqrt(1 + eps)) and ReLU6.
    const int64_t out = (size + 1) / 2, total = std::max<int64_t>((out - 1) * 2 + 3 - size, 0);
    auto* stem = tf->features[0]->as<StackImpl>();
    const auto w = stem->named_parameters()["0.weight"];
    const auto padded = torch::constant_pad_nd(x, {total / 2, total - total / 2, total / 2, total - total / 2});
    const auto want = torch::clamp(torch::conv2d(padded, w, {}, 2) / std::sqrt(1 + 1e-3), 0, 6);
    const auto got = stem->forward(x);
    EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-6)) << size;
    // The same weights with symmetric padding: equal exactly when every strided convolution (the
    // stem and four stages) sees an odd size (225: 225, 113, 57, 29, 15), different otherwise (239: 120).
    bool all_odd = true;
    for (int64_t s = size, k = 0; k < 5; ++k, s = (s + 1) / 2) all_odd = all_odd && s % 2 == 1;
    o.padding = Padding::kSymmetric;
    EfficientNet sym(o);
    load_weights(*sym, model_state(*tf), "tf");
    sym->eval();
    EXPECT_EQ(torch::equal(tf->forward(x), sym->forward(x)), all_odd) << size;
  }
}

// model.arch's choices (core/config_schema.cpp, which cannot include model/) are the variant table's.
TEST(EfficientNet, ConfigChoicesAreTheVariantTable) {
  for (const auto& v : variant_table())
    EXPECT_EQ(finch::config_from_json(nlohmann::json::parse(std::string(R"({"model": {"arch": ")") + v.name + "\"}}"), "t").model.arch, v.name);
  try {
    finch::config_from_json(nlohmann::json::parse(R"({"model": {"arch": "resnet50"}})"), "t");
    FAIL();
  } catch (const finch::ConfigError& e) {
    const std::string what = e.what();
    size_t listed = 0;
    for (size_t at = what.find("\"efficientnet_"); at != std::string::npos; at = what.find("\"efficientnet_", at + 1)) ++listed;
    EXPECT_EQ(listed, variant_table().size()) << what;
  }
}

TEST(EfficientNet, StageBlocksAreWhatTheModelBuilds) {
  EXPECT_EQ(stage_blocks(variant_spec("b0")), (std::vector<int>{1, 2, 2, 3, 3, 4, 1}));
  EXPECT_EQ(stage_blocks(variant_spec("lite4")), (std::vector<int>{1, 4, 4, 6, 6, 8, 1}));  // first and last not repeated
  for (const auto& v : variant_table()) {
    const auto blocks = stage_blocks(v);
    EXPECT_EQ(static_cast<size_t>(std::accumulate(blocks.begin(), blocks.end(), 0)), make(v.name, 10)->block_names().size()) << v.name;
  }
}
