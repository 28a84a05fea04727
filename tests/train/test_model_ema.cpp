// ModelEma (Note [EMA weights]): timm's ModelEmaV3 semantics on a small module with parameters, float
// buffers and an integer buffer; and the same weights as timm's own for the same updates
// (EmaReference, through ctest's reference.ema, which runs tests/reference/ema_reference.py).
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "finch/model/weights.h"
#include "finch/train/model_ema.h"
#include "reference_json.h"

using finch::train::ModelEma;
using finch::train::ModelEmaOptions;

namespace {

// The reference script's module: the same names, so the parameters and buffers pair by name.
struct NetImpl : torch::nn::Module {
  NetImpl() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3)));
    bn = register_module("bn", torch::nn::BatchNorm2d(4));
    fc = register_module("fc", torch::nn::Linear(4, 5));
  }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(Net);

// Every float tensor of `net` set to `value` + its offset, 0.25 x its place in model_state's order
// (conv.weight 1, conv.bias 2, bn.weight 3, bn.bias 4, fc.weight 5, fc.bias 6, then the buffers:
// bn.running_mean 7, bn.running_var 8); num_batches_tracked to `tracked`.
void fill(NetImpl& net, float value, int64_t tracked) {
  torch::NoGradGuard no_grad;
  float offset = 0;
  for (auto& [name, t] : finch::model::model_state(net)) {
    if (t.is_floating_point()) t.fill_(value + (offset += 0.25f));
    else t.fill_(tracked);
  }
}

float first_float(const ModelEma& ema, const std::string& name) {
  for (const auto& [n, t] : ema.state())
    if (n == name) return t.flatten()[0].item<float>();
  ADD_FAILURE() << "no " << name;
  return NAN;
}

}  // namespace

TEST(ModelEma, TheFirstUpdateCopiesThenEachMovesByOneMinusDecay) {
  Net model;
  fill(*model, 0, 0);
  ModelEma ema(std::make_shared<NetImpl>(), *model, ModelEmaOptions{0.9, false, 1});
  EXPECT_FLOAT_EQ(first_float(ema, "conv.weight"), 0.25f);  // a copy at construction
  fill(*model, 10, 1);
  ASSERT_TRUE(ema.update(1));  // timm: decay 0 at the first update
  EXPECT_FLOAT_EQ(first_float(ema, "conv.weight"), 10.25f);
  fill(*model, 20, 2);
  ASSERT_TRUE(ema.update(2));
  EXPECT_NEAR(first_float(ema, "conv.weight"), 10.25 + 0.1 * (20.25 - 10.25), 1e-5);
  EXPECT_NEAR(first_float(ema, "bn.running_var"), 12 + 0.1 * (22 - 12), 1e-5);  // float buffers are averaged
  EXPECT_EQ(first_float(ema, "bn.num_batches_tracked"), 2);                          // integer ones copied
}

TEST(ModelEma, WarmupDecayIsTimms) {
  Net model;
  const ModelEma plain(std::make_shared<NetImpl>(), *model, ModelEmaOptions{0.999, false, 1});
  const ModelEma warm(std::make_shared<NetImpl>(), *model, ModelEmaOptions{0.999, true, 1});
  EXPECT_EQ(plain.decay_at(1), 0.0);
  EXPECT_EQ(plain.decay_at(2), 0.999);
  EXPECT_EQ(warm.decay_at(1), 0.0);
  for (int64_t t : {2, 10, 100})  // crowsonkb's warmup: 1 - (1 + step)^(-2/3), step = t - 1
    EXPECT_DOUBLE_EQ(warm.decay_at(t), 1 - std::pow(static_cast<double>(t), -2.0 / 3.0)) << t;
  EXPECT_EQ(warm.decay_at(1000000), 0.999);  // capped at the decay
}

TEST(ModelEma, EveryStepsUpdatesOnItsMultiplesOnly) {
  Net model;
  fill(*model, 0, 0);
  ModelEma ema(std::make_shared<NetImpl>(), *model, ModelEmaOptions{0.5, false, 3});
  fill(*model, 8, 0);
  EXPECT_FALSE(ema.update(1));
  EXPECT_FALSE(ema.update(2));
  EXPECT_FLOAT_EQ(first_float(ema, "fc.bias"), 1.5f);  // untouched
  EXPECT_TRUE(ema.update(3));
  EXPECT_FLOAT_EQ(first_float(ema, "fc.bias"), 0.5f * 1.5f + 0.5f * 9.5f);
}

TEST(ModelEma, ItsModuleNeitherTrainsNorTakesGradients) {
  Net model;
  ModelEma ema(std::make_shared<NetImpl>(), *model, {});
  EXPECT_FALSE(ema.module().is_training());
  for (const auto& p : ema.module().parameters()) EXPECT_FALSE(p.requires_grad());
}

// timm's ModelEmaV3 fed the same model states at the same updates (reference.ema).
TEST(EmaReference, SameWeightsAsTimmModelEmaV3) {
  const auto found = reference_json("FINCH_EMA_REFERENCE");
  if (!found) GTEST_SKIP() << "run through ctest -R reference.ema (needs timm)";
  int compared = 0;
  for (const auto& c : (*found)["cases"]) {
    Net model;
    auto load = [&](const nlohmann::json& state) {
      torch::NoGradGuard no_grad;
      for (auto& [name, t] : finch::model::model_state(*model)) {
        const auto v = state.at(name).get<std::vector<double>>();
        t.copy_(torch::tensor(v, torch::kDouble).reshape(t.sizes()));
      }
    };
    load(c["states"][0]);
    ModelEma ema(std::make_shared<NetImpl>(), *model, ModelEmaOptions{c["decay"], c["warmup"], c["every"]});
    for (size_t u = 1; u < c["states"].size(); ++u) {
      load(c["states"][u]);
      ema.update(static_cast<int64_t>(u));
    }
    for (const auto& [name, t] : ema.state()) {
      const auto want = torch::tensor(c["ema"].at(name).get<std::vector<double>>(), torch::kDouble);
      const double diff = (t.to(torch::kDouble).flatten() - want).abs().max().item<double>();
      EXPECT_LE(diff, 1e-6) << c["name"] << " " << name;
      ++compared;
    }
  }
  EXPECT_GE(compared, 3 * 8);
}
