#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "finch/train/schedule.h"

using namespace finch;
using finch::train::EarlyStopping;
using finch::train::LrSchedule;

// Against PyTorch's ReduceLROnPlateau itself: tests/reference/plateau_reference.py writes its
// decisions, ctest's reference.plateau points FINCH_PLATEAU_REFERENCE at them.
TEST(PlateauReference, SameLrSequenceAsPyTorch) {
  const char* path = std::getenv("FINCH_PLATEAU_REFERENCE");
  if (!path) GTEST_SKIP() << "run through ctest -R reference.plateau (needs python3-torch)";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  const auto ref = nlohmann::json::parse(in);
  int checked = 0;
  for (const auto& c : ref["cases"]) {
    SchedulerConfig sc;
    sc.name = "plateau";
    sc.mode = c["config"]["mode"];
    sc.threshold_mode = c["config"]["threshold_mode"];
    sc.patience = c["config"]["patience"];
    sc.cooldown = c["config"]["cooldown"];
    sc.threshold = c["config"]["threshold"];
    sc.factor = c["config"]["factor"];
    sc.min_lr = c["config"]["min_lr"];
    LrSchedule s(sc, ref["base_lr"], 100);
    for (size_t k = 0; k < c["metrics"].size(); ++k) {
      const double lr = s.observe(c["metrics"][k]);
      ASSERT_NEAR(lr, c["lrs"][k].get<double>(), 1e-12) << c["config"].dump() << " " << c["sequence"] << " step " << k;
      ++checked;
    }
    // The state survives a checkpoint round trip.
    LrSchedule again(sc, ref["base_lr"], 100);
    again.load(nlohmann::json::parse(s.state().dump()));
    EXPECT_DOUBLE_EQ(again.lr_at(0), s.lr_at(0));
  }
  EXPECT_GT(checked, 500);
}

TEST(LrSchedule, StepAndCosine) {
  SchedulerConfig sc;
  sc.name = "step";
  sc.step_size = 2;
  sc.gamma = 0.5;
  LrSchedule step(sc, 0.1, 10);
  EXPECT_DOUBLE_EQ(step.lr_at(0), 0.1);
  EXPECT_DOUBLE_EQ(step.lr_at(1), 0.1);
  EXPECT_DOUBLE_EQ(step.lr_at(2), 0.05);
  EXPECT_DOUBLE_EQ(step.lr_at(5), 0.025);
  sc.name = "cosine";
  sc.warmup_epochs = 2;
  sc.min_lr = 0.001;
  LrSchedule cos(sc, 0.1, 12);
  EXPECT_DOUBLE_EQ(cos.lr_at(0), 0.05);
  EXPECT_DOUBLE_EQ(cos.lr_at(1), 0.1);
  EXPECT_DOUBLE_EQ(cos.lr_at(2), 0.1);
  EXPECT_NEAR(cos.lr_at(7), 0.001 + 0.099 * 0.5, 1e-12);
  EXPECT_NEAR(cos.lr_at(12), 0.001, 1e-12);
  sc.name = "none";
  EXPECT_DOUBLE_EQ(LrSchedule(sc, 0.1, 5).lr_at(4), 0.1);
}

TEST(EarlyStopping, TheSeedsRulePatienceThreeOnValAccuracy) {
  EarlyStoppingConfig ec;  // defaults: val_acc, max, patience 3
  EarlyStopping es(ec);
  const std::vector<double> acc = {0.30, 0.42, 0.45, 0.44, 0.451, 0.43, 0.46, 0.40, 0.41, 0.46};
  int stopped_at = -1;
  for (size_t e = 0; e < acc.size(); ++e) {
    es.observe(acc[e], static_cast<int>(e));
    if (es.should_stop()) {
      stopped_at = static_cast<int>(e);
      break;
    }
  }
  // 0.44 does not reset the count but 0.451 does; best 0.46 at epoch 6; then 0.40, 0.41 and 0.46
  // (not > 0.46) are three epochs without improvement.
  EXPECT_EQ(stopped_at, 9);
  EXPECT_EQ(es.best_epoch(), 6);
  EXPECT_DOUBLE_EQ(es.best(), 0.46);
  ec.mode = "min";
  ec.min_delta = 0.05;
  EarlyStopping loss(ec);
  EXPECT_TRUE(loss.observe(1.0, 0));
  EXPECT_FALSE(loss.observe(0.97, 1));  // not better by min_delta
  EXPECT_TRUE(loss.observe(0.9, 2));
  EarlyStopping restored(ec);
  restored.load(nlohmann::json::parse(loss.state().dump()));
  EXPECT_EQ(restored.best_epoch(), 2);
  ec.enabled = false;
  EarlyStopping off(ec);
  for (int e = 0; e < 10; ++e) off.observe(0.1, e);
  EXPECT_FALSE(off.should_stop());
}
