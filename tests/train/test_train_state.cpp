// Resuming: the optimizer state of each optimizer survives a save and load (the resumed optimizer
// takes exactly the steps the original would have), TrainState survives its JSON, and the
// checkpoint a path means is found (best, else latest).
#include <filesystem>
#include <set>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "finch/core/error.h"
#include "finch/io/checkpoint.h"
#include "finch/train/grad_scaler.h"
#include "finch/train/optim.h"
#include "finch/train/schedule.h"
#include "finch/train/train_state.h"

namespace fs = std::filesystem;
using namespace finch;
using namespace finch::train;

namespace {

torch::nn::Sequential small_model() {
  torch::manual_seed(7);
  return torch::nn::Sequential(torch::nn::Linear(5, 4), torch::nn::Linear(4, 3));
}

void step(torch::nn::Sequential& m, torch::optim::Optimizer& opt, int k) {
  torch::manual_seed(100 + k);
  const auto x = torch::randn({6, 5});
  const auto y = torch::randint(0, 3, {6});
  opt.zero_grad();
  torch::nn::functional::cross_entropy(m->forward(x), y).backward();
  opt.step();
}

std::vector<at::Tensor> params(torch::nn::Sequential& m) {
  std::vector<at::Tensor> out;
  for (const auto& p : m->parameters()) out.push_back(p.detach().clone());
  return out;
}

}  // namespace

class OptimizerRoundTrip : public ::testing::TestWithParam<OptimizerKind> {};

TEST_P(OptimizerRoundTrip, ResumedOptimizerTakesTheSameSteps) {
  OptimizerConfig oc;
  oc.name = GetParam();
  oc.lr = 0.05;
  oc.weight_decay = 0.01;  // two parameter groups (biases exempt)
  auto a = small_model();
  auto opt_a = make_optimizer(*a, oc);
  for (int k = 0; k < 3; ++k) step(a, *opt_a, k);
  // The saved state through safetensors-like names and a copy of the weights, as a resume does.
  const auto saved = optimizer_state(*opt_a, oc.name);
  ASSERT_FALSE(saved.empty());
  auto b = small_model();
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < b->parameters().size(); ++i) b->parameters()[i].copy_(a->parameters()[i]);
  }
  auto opt_b = make_optimizer(*b, oc);
  load_optimizer_state(*opt_b, oc.name, saved);
  for (int k = 3; k < 6; ++k) {
    step(a, *opt_a, k);
    step(b, *opt_b, k);
  }
  const auto pa = params(a), pb = params(b);
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << choice_name(oc.name) << " parameter " << i;
}

INSTANTIATE_TEST_SUITE_P(EveryOptimizer, OptimizerRoundTrip,
                         ::testing::Values(OptimizerKind::kAdam, OptimizerKind::kAdamW, OptimizerKind::kSgd),
                         [](const auto& info) { return std::string(choice_name(info.param)); });

// Adam's state after one step of `m` (the model the OptimizerState tests damage or misread).
static io::NamedTensors adam_state_after_a_step(torch::nn::Sequential& m, std::unique_ptr<torch::optim::Optimizer>* opt_out = nullptr) {
  auto opt = make_optimizer(*m, OptimizerConfig{});
  step(m, *opt, 0);
  auto saved = optimizer_state(*opt, OptimizerKind::kAdam);
  if (opt_out) *opt_out = std::move(opt);
  return saved;
}

TEST(OptimizerState, AnotherOptimizersStateIsAnError) {
  auto m = small_model();
  std::unique_ptr<torch::optim::Optimizer> opt;
  const auto saved = adam_state_after_a_step(m, &opt);
  OptimizerConfig sgd;
  sgd.name = OptimizerKind::kSgd;
  auto opt_sgd = make_optimizer(*m, sgd);
  EXPECT_THROW(load_optimizer_state(*opt_sgd, OptimizerKind::kSgd, saved), RuntimeError);
  // Saving with the wrong kind is refused too, never a reinterpretation of Adam's state.
  EXPECT_THROW(optimizer_state(*opt, OptimizerKind::kSgd), RuntimeError);
}

// A damaged optimizer file is refused naming the file and the tensor, never restored in part: a
// missing step tensor once stopped with "map::at".
TEST(OptimizerState, AnEntryMissingATensorOrAParameterIsRefused) {
  auto m = small_model();
  const auto saved = adam_state_after_a_step(m);
  auto without = [&](std::set<std::string> keys) {
    io::NamedTensors out;
    for (const auto& [k, v] : saved)
      if (!keys.count(k)) out.emplace_back(k, v);
    return out;
  };
  const std::vector<std::pair<io::NamedTensors, std::string>> bad = {
      {without({"g0.p0.step"}), "ck/optimizer.safetensors: no 'g0.p0.step' although 'g0.p0.exp_avg' is there"},
      {without({"g0.p0.exp_avg_sq"}), "ck/optimizer.safetensors: no 'g0.p0.exp_avg_sq' although 'g0.p0.exp_avg' is there"},
      {without({"g0.p1.exp_avg"}), "no 'g0.p1.exp_avg' although 'g0.p1.step' is there"},
      {without({"g0.p1.exp_avg", "g0.p1.exp_avg_sq", "g0.p1.step"}),
       "ck/optimizer.safetensors: state for 3 of the optimizer's 4 parameters (no 'g0.p1.exp_avg')"}};
  for (const auto& [state, message] : bad) {
    auto fresh = make_optimizer(*m, OptimizerConfig{});
    try {
      load_optimizer_state(*fresh, OptimizerKind::kAdam, state, "ck/optimizer.safetensors");
      ADD_FAILURE() << "accepted; wanted: " << message;
    } catch (const RuntimeError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
}

// A state as the trainer's parts write it (their own state(), not a copy of its keys).
TrainState parts_state() {
  TrainState s;
  s.scheduler = LrSchedule(SchedulerConfig{}, 0.01, 10).state();
  s.early_stopping = EarlyStopping(EarlyStoppingConfig{}).state();
  s.grad_scaler = GradScaler().state();
  return s;
}

TEST(TrainState, JsonRoundTrip) {
  TrainState s = parts_state();
  s.epoch = 3;
  s.epoch_complete = false;
  s.global_step = 41;
  s.sample_offset = 96;
  s.world_size = 4;
  s.batch_size = 8;
  s.accum_steps = 2;
  s.seed = 5;
  s.optimizer = OptimizerKind::kAdamW;
  s.grad_scaler["scale"] = 1024.0;
  s.rank_progress = {{1.25, 3, 16, 0}, {0.1 + 0.2, 5, 16, 2}};  // each rank's epoch sums, exact through JSON
  const auto back = train_state_from_json(nlohmann::json::parse(to_json(s).dump()), "state.json");
  EXPECT_EQ(back.rank_progress, s.rank_progress);
  EXPECT_EQ(back.epoch, 3);
  EXPECT_FALSE(back.epoch_complete);
  EXPECT_EQ(back.global_step, 41);
  EXPECT_EQ(back.sample_offset, 96);
  EXPECT_EQ(back.world_size, 4);
  EXPECT_EQ(back.accum_steps, 2);
  EXPECT_EQ(back.optimizer, OptimizerKind::kAdamW);
  EXPECT_EQ(back.scheduler, nlohmann::json::parse(s.scheduler.dump()));  // "best": inf is written as null
  EXPECT_EQ(back.grad_scaler, s.grad_scaler);
  EXPECT_EQ(back.resume_epoch(), 3);
  EXPECT_EQ(back.resume_offset(), 96);
  s.epoch_complete = true;
  EXPECT_EQ(s.resume_epoch(), 4);
  EXPECT_EQ(s.resume_offset(), 0);
}

// A state.json that would send a resume somewhere impossible is refused naming the file and key:
// an epoch of 2^31 - 1 once resumed at "epoch -2147483648", a global step of -1 made the resumed
// run overwrite an intact ckpt-0000000001.
TEST(TrainState, ImpossiblePositionsAreRefusedNamingTheKey) {
  const std::vector<std::pair<const char*, nlohmann::json>> bad = {
      {"epoch", 2147483647}, {"epoch", -1}, {"global_step", -1}, {"sample_offset", -8},
      {"world_size", 0}, {"batch_size", 0}, {"accum_steps", -2}};
  for (const auto& [key, value] : bad) {
    auto j = to_json(parts_state());
    j[key] = value;
    try {
      train_state_from_json(j, "runs/r/checkpoints/ckpt-0000000001/state.json");
      ADD_FAILURE() << key << " = " << value.dump() << " was accepted";
    } catch (const finch::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("runs/r/checkpoints/ckpt-0000000001/state.json: key '") + key + "'"), std::string::npos)
          << e.what();
    }
  }
}

// The parts' states are checked where the file is named: `scheduler.lr = -1` once trained with
// "lr -1", `scheduler: {}` stopped with "key 'lr' not found" naming no file.
TEST(TrainState, PartStatesOutsideTheirRangesAreRefusedNamingFileAndKey) {
  const std::string file = "runs/r/checkpoints/ckpt-0000000001/state.json";
  EXPECT_NO_THROW(train_state_from_json(to_json(parts_state()), file));
  const std::vector<std::tuple<nlohmann::json::json_pointer, nlohmann::json, std::string>> bad = {
      {"/scheduler/lr"_json_pointer, -1, "key 'scheduler.lr' is -1: outside 0..10"},
      {"/scheduler"_json_pointer, nlohmann::json::object(), "no key 'scheduler.lr'"},
      {"/scheduler"_json_pointer, 3, "key 'scheduler' is not an object"},
      {"/scheduler/lr"_json_pointer, "fast", "key 'scheduler.lr' is \"fast\": expected a number"},
      {"/scheduler/bad_epochs"_json_pointer, 1.5, "key 'scheduler.bad_epochs' is 1.5: expected an integer"},
      {"/scheduler/cooldown_counter"_json_pointer, -3, "key 'scheduler.cooldown_counter' is -3"},
      {"/early_stopping/best_epoch"_json_pointer, 1e9, "key 'early_stopping.best_epoch'"},
      {"/early_stopping/best"_json_pointer, "x", "key 'early_stopping.best' is \"x\": expected a number or null"},
      {"/grad_scaler/scale"_json_pointer, 0, "key 'grad_scaler.scale' is 0"},
      {"/rank_progress"_json_pointer, nlohmann::json::array({{1.0, -1.0, 8.0, 0.0}}), "key 'rank_progress' row 0 holds -1"}};
  for (const auto& [where, value, message] : bad) {
    auto j = to_json(parts_state());
    j[where] = value;
    try {
      train_state_from_json(j, file);
      ADD_FAILURE() << where.to_string() << " = " << value.dump() << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(file + ": " + message), std::string::npos) << e.what();
    }
  }
}

TEST(TrainState, MissingKeyNamesTheFileAndKey) {
  auto j = to_json(TrainState{});
  j.erase("global_step");
  try {
    train_state_from_json(j, "runs/x/state.json");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("runs/x/state.json: no key 'global_step'"), std::string::npos) << e.what();
  }
}

TEST(TrainState, ResolvesBestElseLatest) {
  const auto run = fs::temp_directory_path() / "finch_resolve_run";
  fs::remove_all(run);
  const auto ck = run / "checkpoints";
  fs::create_directories(ck);
  io::CheckpointData d{{{"w", torch::ones({2})}}, {}, {{"global_step", 1}}};
  io::write_checkpoint(ck.string(), io::periodic_name(1), d);
  io::set_latest(ck.string(), io::periodic_name(1));
  const auto latest = (ck / io::periodic_name(1)).string();
  EXPECT_EQ(resolve_checkpoint(run.string(), CheckpointPick::kBestElseLatest), latest);  // no best yet
  io::write_checkpoint(ck.string(), "best", d);
  EXPECT_EQ(resolve_checkpoint(run.string(), CheckpointPick::kBestElseLatest), (ck / "best").string());
  EXPECT_EQ(resolve_checkpoint(run.string(), CheckpointPick::kLatest), latest);
  EXPECT_EQ(resolve_checkpoint(latest, CheckpointPick::kBestElseLatest), latest);  // a checkpoint directory itself
  fs::resize_file(ck / "best" / "model.safetensors", 3);  // a damaged best is passed over
  EXPECT_EQ(resolve_checkpoint(run.string(), CheckpointPick::kBestElseLatest), latest);
  EXPECT_THROW(resolve_checkpoint((run / "nothing").string(), CheckpointPick::kLatest), Error);
}

// Checkpoints written before GradScaler had its own state hold a bare "loss_scale": an fp16 run
// resumed from one keeps that scale; a scale of 1 (fp16 was off) leaves a new fp16 run at its start.
TEST(TrainState, ReadsTheLegacyLossScale) {
  auto j = to_json(parts_state());
  j.erase("grad_scaler");
  j["loss_scale"] = 1024.0;
  const auto s = train_state_from_json(j, "old/state.json");
  GradScalerOptions fp16;
  fp16.enabled = true;
  GradScaler resumed(fp16);
  resumed.load(s.grad_scaler);
  EXPECT_DOUBLE_EQ(resumed.scale(), 1024.0);
  j["loss_scale"] = 1.0;
  GradScaler fresh(fp16);
  fresh.load(train_state_from_json(j, "old/state.json").grad_scaler);
  EXPECT_DOUBLE_EQ(fresh.scale(), fp16.init_scale);
}
