// Mixup and CutMix (Note [Mixup and CutMix]): what a batch becomes for given draws, finch's own
// draws, and timm's Mixup itself (MixupReference, through ctest's reference.mixup, which records
// numpy's draws inside timm and has finch replay them: tests/reference/mixup_reference.py).
#include <cmath>
#include <deque>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "finch/core/error.h"
#include "finch/data/mixup.h"
#include "../train/reference_json.h"

using namespace finch::data;
using finch::MixupMode;

namespace {

// Draws given in advance, in the order Mixup asks for them; a request of another kind (or a
// vector where timm drew a scalar) fails the test: finch would not be drawing in timm's order.
class ReplayDraws : public MixDraws {
 public:
  struct Draw {
    std::string kind;
    std::vector<double> value;
    bool vector = false;
  };
  explicit ReplayDraws(std::deque<Draw> d) : d_(std::move(d)) {}
  double uniform() override { return take("uniform", false)[0]; }
  double beta(double) override { return take("beta", false)[0]; }
  int64_t randint(int64_t, int64_t) override { return static_cast<int64_t>(take("randint", false)[0]); }
  std::vector<double> uniforms(int64_t n) override { return sized(take("uniform", true), n); }
  std::vector<double> betas(double, int64_t n) override { return sized(take("beta", true), n); }
  bool done() const { return d_.empty(); }

 private:
  std::vector<double> take(const std::string& kind, bool vector) {
    if (d_.empty()) throw std::runtime_error("asked for a " + kind + " draw after timm's last");
    Draw d = d_.front();
    d_.pop_front();
    if (d.kind != kind || d.vector != vector)
      throw std::runtime_error("asked for a " + kind + (vector ? " vector" : "") + ", timm drew a " + d.kind + (d.vector ? " vector" : ""));
    return d.value;
  }
  static std::vector<double> sized(std::vector<double> v, int64_t n) {
    if (static_cast<int64_t>(v.size()) != n) throw std::runtime_error("a draw of another size than timm's");
    return v;
  }
  std::deque<Draw> d_;
};

MixupOptions mixup_only(double alpha, MixupMode mode) {
  MixupOptions o;
  o.mixup_alpha = alpha;
  o.mode = mode;
  o.classes = 5;
  return o;
}

}  // namespace

TEST(Mixup, BatchModeMixesEachImageWithItsFlipByLambda) {
  const auto x0 = torch::randn({4, 3, 8, 8});
  auto x = x0.clone();
  const auto y = torch::tensor({0, 1, 2, 3}, torch::kLong);
  ReplayDraws draws({{"uniform", {0.0}}, {"beta", {0.7}}});  // mixed (0 < prob), λ 0.7
  const auto t = Mixup(mixup_only(0.4, MixupMode::kBatch)).apply_(x, y, draws);
  EXPECT_TRUE(draws.done());
  EXPECT_TRUE(torch::allclose(x[0], 0.7 * x0[0] + 0.3 * x0[3], 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(x[2], 0.7 * x0[2] + 0.3 * x0[1], 1e-6, 1e-6));
  EXPECT_NEAR(t[0][0].item<double>(), 0.7, 1e-6);
  EXPECT_NEAR(t[0][3].item<double>(), 0.3, 1e-6);
  EXPECT_NEAR(t.sum().item<double>(), 4.0, 1e-5);
}

TEST(Mixup, ACutMixBoxIsPastedAndLambdaIsItsComplement) {
  MixupOptions o;
  o.cutmix_alpha = 1.0;
  o.classes = 3;
  const auto x0 = torch::arange(2 * 1 * 10 * 10, torch::kFloat).reshape({2, 1, 10, 10});
  auto x = x0.clone();
  // mixed, λ 0.75: a 5 x 5 box centred at (4, 6): rows 2-6, columns 4-8
  ReplayDraws draws({{"uniform", {0.0}}, {"beta", {0.75}}, {"randint", {4}}, {"randint", {6}}});
  const auto t = Mixup(o).apply_(x, torch::tensor({0, 2}, torch::kLong), draws);
  const auto box = [](const at::Tensor& v) { return v.slice(-2, 2, 7).slice(-1, 4, 9); };
  EXPECT_TRUE(box(x[0]).equal(box(x0[1])));
  EXPECT_TRUE(x[0].slice(-2, 0, 2).equal(x0[0].slice(-2, 0, 2)));  // outside the box: its own
  EXPECT_NEAR(t[0][0].item<double>(), 0.75, 1e-6);                 // 1 - 25/100
  EXPECT_NEAR(t[0][2].item<double>(), 0.25, 1e-6);
}

TEST(Mixup, FinchDrawsAreSeededAndBetaHasItsMoments) {
  SeededMixDraws a(7), b(7);
  for (int k = 0; k < 5; ++k) EXPECT_EQ(a.beta(0.8), b.beta(0.8));
  for (double alpha : {0.2, 0.8, 1.0}) {
    SeededMixDraws d(11);
    double sum = 0, sq = 0;
    const int n = 40000;
    for (int k = 0; k < n; ++k) {
      const double v = d.beta(alpha);
      ASSERT_TRUE(v >= 0 && v <= 1) << v;
      sum += v, sq += v * v;
    }
    const double mean = sum / n, var = sq / n - mean * mean;
    EXPECT_NEAR(mean, 0.5, 0.01) << alpha;
    EXPECT_NEAR(var, 1.0 / (4 * (2 * alpha + 1)), 0.01) << alpha;  // Beta(a, a): 1 / (4 (2a + 1))
  }
  SeededMixDraws r(3);
  for (int k = 0; k < 1000; ++k) {
    const auto v = r.randint(2, 9);
    ASSERT_TRUE(v >= 2 && v < 9) << v;
  }
}

// timm's Mixup with numpy's draws recorded; finch replays them: the same images and targets.
TEST(MixupReference, SameImagesAndTargetsAsTimmForTheSameDraws) {
  const auto found = reference_json("FINCH_MIXUP_REFERENCE");
  if (!found) GTEST_SKIP() << "run through ctest -R reference.mixup (needs timm)";
  const auto& ref = *found;
  const auto shape = ref["shape"].get<std::vector<int64_t>>();
  int compared = 0;
  for (const auto& c : ref["cases"]) {
    const auto& kw = c["options"];
    MixupOptions o;
    o.mixup_alpha = kw.value("mixup_alpha", 1.0);
    o.cutmix_alpha = kw.value("cutmix_alpha", 0.0);
    if (kw.contains("cutmix_minmax")) o.cutmix_minmax = kw["cutmix_minmax"].get<std::vector<double>>(), o.cutmix_alpha = 1.0;
    o.prob = kw.value("prob", 1.0);
    o.switch_prob = kw.value("switch_prob", 0.5);
    o.mode = finch::parse_choice<finch::MixupMode>(kw.value("mode", "batch"), "mode");
    o.correct_lam = kw.value("correct_lam", true);
    o.label_smoothing = ref["label_smoothing"];
    o.classes = ref["classes"];
    std::deque<ReplayDraws::Draw> d;
    for (const auto& r : c["draws"]) d.push_back({r["kind"], r["value"].get<std::vector<double>>(), r["vector"]});
    ReplayDraws draws(std::move(d));
    auto x = torch::tensor(c["images"].get<std::vector<float>>()).reshape(shape);
    const auto y = torch::tensor(c["labels"].get<std::vector<int64_t>>());
    const auto t = Mixup(o).apply_(x, y, draws);
    EXPECT_TRUE(draws.done()) << c["name"] << ": timm drew more";
    const auto want_x = torch::tensor(c["mixed"].get<std::vector<float>>()).reshape(shape);
    const auto want_t = torch::tensor(c["targets"].get<std::vector<float>>()).reshape(t.sizes());
    EXPECT_TRUE(x.equal(want_x)) << c["name"] << ": images differ by up to " << (x - want_x).abs().max().item<double>();
    EXPECT_TRUE(t.equal(want_t)) << c["name"] << ": targets differ by up to " << (t - want_t).abs().max().item<double>();
    ++compared;
  }
  EXPECT_EQ(compared, 36);
}
