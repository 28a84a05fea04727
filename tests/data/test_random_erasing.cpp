// Random erasing (Note [Random erasing]): the boxes and fills for given draws, the loader's
// transform erasing what its plan says, and timm's RandomErasing itself (RandomErasingReference,
// through ctest's reference.random_erasing: tests/reference/random_erasing_reference.py records
// Python's draws and the fill values inside timm, finch replays them).
#include <deque>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "finch/data/random_erasing.h"
#include "finch/data/transforms.h"
#include "../train/reference_json.h"

using namespace finch::data;
using finch::ErasingMode;

namespace {

class ReplayErasingDraws : public ErasingDraws {
 public:
  explicit ReplayErasingDraws(std::deque<std::pair<std::string, double>> d) : d_(std::move(d)) {}
  double random() override { return take("random"); }
  double uniform(double, double) override { return take("uniform"); }
  int64_t randint(int64_t, int64_t) override { return static_cast<int64_t>(take("randint")); }
  bool done() const { return d_.empty(); }

 private:
  double take(const std::string& kind) {
    if (d_.empty()) throw std::runtime_error("asked for a " + kind + " draw after timm's last");
    const auto [k, v] = d_.front();
    d_.pop_front();
    if (k != kind) throw std::runtime_error("asked for a " + kind + " draw, timm drew a " + k);
    return v;
  }
  std::deque<std::pair<std::string, double>> d_;
};

}  // namespace

TEST(RandomErasing, ABoxOfTheDrawnAreaAndAspectIsFilled) {
  RandomErasingOptions o;
  o.prob = 0.5;
  o.mode = ErasingMode::kConst;
  // erased (0.2 <= 0.5); area share 0.25 of 20 x 20 = 100, aspect 1: a 10 x 10 box at (3, 5)
  ReplayErasingDraws draws({{"random", 0.2}, {"uniform", 0.25}, {"uniform", 0.0}, {"randint", 3}, {"randint", 5}});
  const auto boxes = plan_erasing(20, 20, o, draws);
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_TRUE(draws.done());
  EXPECT_EQ(boxes[0].top, 3);
  EXPECT_EQ(boxes[0].left, 5);
  EXPECT_EQ(boxes[0].h, 10);
  EXPECT_EQ(boxes[0].w, 10);
  auto img = torch::ones({3, 20, 20});
  erase_(img, boxes, ErasingMode::kConst, seeded_normal(1));
  EXPECT_EQ(img.sum().item<double>(), 3 * 400 - 3 * 100);
  EXPECT_EQ(img.slice(1, 3, 13).slice(2, 5, 15).abs().sum().item<double>(), 0);
  ReplayErasingDraws skip({{"random", 0.7}});  // 0.7 > prob: untouched
  EXPECT_TRUE(plan_erasing(20, 20, o, skip).empty());
}

TEST(RandomErasing, TheTrainTransformErasesOnlyWhenAsked) {
  const auto pixels = torch::full({40, 40, 3}, 200, torch::kByte);
  TransformOptions o;
  o.size = 32;
  o.erasing.prob = 1.0;
  o.erasing.mode = ErasingMode::kPixel;
  int erased = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const Plan p = plan_transform(40, 40, std::nullopt, o, seed);
    auto out = torch::empty({3, 32, 32});
    apply_transform(pixels, 40, 40, p, o, out);
    const bool uniform_image = (out[0] - out[0][0][0]).abs().max().item<double>() == 0;  // the flat image, unerased
    if (!p.erase.empty()) {
      ++erased;
      EXPECT_FALSE(uniform_image) << seed;
      auto again = torch::empty({3, 32, 32});
      apply_transform(pixels, 40, 40, plan_transform(40, 40, std::nullopt, o, seed), o, again);
      EXPECT_TRUE(again.equal(out)) << "the same sample seed erases the same pixels";
    }
  }
  EXPECT_GE(erased, 15);  // prob 1: only a box that fits in none of 10 tries leaves an image whole
  o.erasing.prob = 0;
  const Plan none = plan_transform(40, 40, std::nullopt, o, 3);
  EXPECT_TRUE(none.erase.empty());
}

// timm's RandomErasing with Python's draws and the fills recorded; finch replays them.
TEST(RandomErasingReference, SameImagesAsTimmForTheSameDraws) {
  const auto found = reference_json("FINCH_RANDOM_ERASING_REFERENCE");
  if (!found) GTEST_SKIP() << "run through ctest -R reference.random_erasing (needs timm)";
  int compared = 0, boxes = 0;
  for (const auto& c : (*found)["cases"]) {
    RandomErasingOptions o;
    o.prob = c["prob"];
    o.min_area = c["min_area"];
    o.max_area = c["max_area"];
    o.min_aspect = c["min_aspect"];
    o.max_aspect = 1.0 / o.min_aspect;
    o.mode = finch::parse_choice<ErasingMode>(c["mode"].get<std::string>(), "mode");
    o.max_count = c["max_count"];
    std::deque<std::pair<std::string, double>> d;
    for (const auto& r : c["draws"]) d.emplace_back(r["kind"], r["value"].get<double>());
    ReplayErasingDraws draws(std::move(d));
    const auto shape = c["shape"].get<std::vector<int64_t>>();
    auto img = torch::tensor(c["image"].get<std::vector<float>>()).reshape(shape);
    const auto planned = plan_erasing(shape[1], shape[2], o, draws);
    EXPECT_TRUE(draws.done()) << c.dump().substr(0, 120);
    size_t next_fill = 0;
    const auto& fills = c["fills"];
    erase_(img, planned, o.mode, [&](std::vector<int64_t> s) {
      const auto& f = fills.at(next_fill++);
      EXPECT_EQ(f["shape"].get<std::vector<int64_t>>(), s);
      return torch::tensor(f["values"].get<std::vector<float>>()).reshape(s);
    });
    if (o.mode != ErasingMode::kConst) EXPECT_EQ(next_fill, fills.size());
    boxes += static_cast<int>(planned.size());
    EXPECT_TRUE(img.equal(torch::tensor(c["erased"].get<std::vector<float>>()).reshape(shape))) << c.dump().substr(0, 120);
    ++compared;
  }
  EXPECT_EQ(compared, 36);
  EXPECT_GT(boxes, 30);
}
