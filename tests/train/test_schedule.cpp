#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "finch/train/schedule.h"
#include "reference_json.h"

using namespace finch;
using finch::train::EarlyStopping;
using finch::train::LrSchedule;

// Against PyTorch's ReduceLROnPlateau itself: tests/reference/plateau_reference.py writes its
// decisions, ctest's reference.plateau points FINCH_PLATEAU_REFERENCE at them.
// Against timm's schedulers (and PyTorch's CosineAnnealingLR) stepped once per update:
// tests/reference/step_schedule_reference.py writes their LRs, ctest's reference.step_schedule
// points FINCH_STEP_SCHEDULE_REFERENCE at them (the PyPI suite, where timm is installed).
TEST(StepScheduleReference, SameLrPerUpdateAsTimm) {
  const auto found = reference_json("FINCH_STEP_SCHEDULE_REFERENCE");
  if (!found) GTEST_SKIP() << "run through ctest -R reference.step_schedule (needs timm)";
  const auto& ref = *found;
  int checked = 0;
  for (const auto& c : ref["cases"]) {
    SchedulerConfig sc;
    sc.name = parse_choice<SchedulerKind>(c["name"].get<std::string>(), "name");
    sc.per_step = true;
    sc.warmup_epochs = c["warmup_epochs"];
    sc.warmup_lr = c["warmup_lr"];
    sc.warmup_prefix = c["warmup_prefix"];
    sc.min_lr = c.value("min_lr", 0.0);
    sc.power = c.value("power", 0.5);
    sc.step_size = c.value("step_size", 1);
    sc.gamma = c.value("gamma", 0.9);
    const LrSchedule s(sc, ref["base_lr"], c["epochs"]);
    const int64_t per_epoch = c["per_epoch"];
    for (size_t t = 0; t < c["lrs"].size(); ++t) {
      ASSERT_NEAR(s.lr_at_update(static_cast<int64_t>(t), per_epoch), c["lrs"][t].get<double>(), 1e-9)
          << c.dump().substr(0, 300) << " update " << t;
      ++checked;
    }
  }
  EXPECT_GT(checked, 1000);
}

TEST(PlateauReference, SameLrSequenceAsPyTorch) {
  const auto found = reference_json("FINCH_PLATEAU_REFERENCE");
  if (!found) GTEST_SKIP() << "run through ctest -R reference.plateau (needs python3-torch)";
  const auto& ref = *found;
  int checked = 0;
  for (const auto& c : ref["cases"]) {
    SchedulerConfig sc;
    sc.name = SchedulerKind::kPlateau;
    sc.mode = parse_choice<MetricMode>(c["config"]["mode"].get<std::string>(), "mode");
    sc.threshold_mode = parse_choice<ThresholdMode>(c["config"]["threshold_mode"].get<std::string>(), "threshold_mode");
    sc.patience = c["config"]["patience"];
    sc.cooldown = c["config"]["cooldown"];
    sc.threshold = c["config"]["threshold"];
    sc.factor = c["config"]["factor"];
    sc.min_lr = c["config"]["min_lr"];
    // A run that is checkpointed halfway and resumed in a new schedule object (the state through
    // JSON text, as state.json carries it) takes PyTorch's decisions on both sides of the resume.
    const size_t n = c["metrics"].size(), half = n / 2;
    auto s = std::make_unique<LrSchedule>(sc, ref["base_lr"], 100);
    for (size_t k = 0; k < n; ++k) {
      if (k == half) {
        const auto saved = nlohmann::json::parse(s->state().dump());
        s = std::make_unique<LrSchedule>(sc, ref["base_lr"], 100);
        s->load(saved);
        ASSERT_EQ(s->state(), saved) << "the whole state (lr, best, bad epochs, cooldown) survives the round trip";
      }
      const double lr = s->observe(c["metrics"][k]);
      ASSERT_NEAR(lr, c["lrs"][k].get<double>(), 1e-12) << c["config"].dump() << " " << c["sequence"] << " step " << k;
      ++checked;
    }
  }
  EXPECT_GT(checked, 500);
}

TEST(LrSchedule, StepAndCosine) {
  SchedulerConfig sc;
  sc.name = SchedulerKind::kStep;
  sc.step_size = 2;
  sc.gamma = 0.5;
  LrSchedule step(sc, 0.1, 10);
  EXPECT_DOUBLE_EQ(step.lr_at(0), 0.1);
  EXPECT_DOUBLE_EQ(step.lr_at(1), 0.1);
  EXPECT_DOUBLE_EQ(step.lr_at(2), 0.05);
  EXPECT_DOUBLE_EQ(step.lr_at(5), 0.025);
  sc.name = SchedulerKind::kCosine;
  sc.warmup_epochs = 2;
  sc.min_lr = 0.001;
  LrSchedule cos(sc, 0.1, 12);
  EXPECT_DOUBLE_EQ(cos.lr_at(0), 0.05);
  EXPECT_DOUBLE_EQ(cos.lr_at(1), 0.1);
  EXPECT_DOUBLE_EQ(cos.lr_at(2), 0.1);
  EXPECT_NEAR(cos.lr_at(7), 0.001 + 0.099 * 0.5, 1e-12);
  EXPECT_NEAR(cos.lr_at(12), 0.001, 1e-12);
  sc.name = SchedulerKind::kNone;
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
  ec.mode = MetricMode::kMin;
  ec.min_delta = 0.05;
  EarlyStopping loss(ec);
  EXPECT_TRUE(loss.observe(1.0, 0));
  EXPECT_FALSE(loss.observe(0.97, 1));  // not better by min_delta
  EXPECT_TRUE(loss.observe(0.9, 2));
  EXPECT_FALSE(loss.observe(0.88, 3));
  EarlyStopping restored(ec);
  restored.load(nlohmann::json::parse(loss.state().dump()));
  EXPECT_EQ(restored.state(), loss.state());  // best, best epoch and bad epochs
  EXPECT_EQ(restored.best_epoch(), 2);
  ec.enabled = false;
  EarlyStopping off(ec);
  for (int e = 0; e < 10; ++e) off.observe(0.1, e);
  EXPECT_FALSE(off.should_stop());
}

// Resuming in the middle of a cooldown: a schedule rebuilt from the saved state holds the same
// best, bad-epoch count and cooldown counter, and so takes the same decisions afterwards.
TEST(LrSchedule, PlateauStateRoundTripMidCooldown) {
  SchedulerConfig sc;
  sc.name = SchedulerKind::kPlateau;
  sc.mode = MetricMode::kMax;
  sc.patience = 1;
  sc.cooldown = 2;
  sc.factor = 0.5;
  LrSchedule s(sc, 0.1, 50);
  for (double m : {0.5, 0.4, 0.4}) s.observe(m);  // reduced at the third epoch: cooldown 2 starts
  const auto saved = nlohmann::json::parse(s.state().dump());
  EXPECT_EQ(saved["cooldown_counter"], 2);
  EXPECT_DOUBLE_EQ(saved["best"].get<double>(), 0.5);
  LrSchedule resumed(sc, 0.1, 50);
  resumed.load(saved);
  EXPECT_EQ(resumed.state(), saved);
  for (double m : {0.3, 0.3, 0.3, 0.3, 0.6, 0.2, 0.2}) EXPECT_DOUBLE_EQ(resumed.observe(m), s.observe(m)) << m;
}
