#include "finch/train/train_state.h"

#include <cmath>
#include <cstdint>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>
#include <torch/version.h>

#include "finch/core/build_info.h"
#include "finch/core/error.h"
#include "finch/io/checkpoint.h"
#include "finch/model/weights.h"
#include "finch/train/optim.h"

namespace finch::train {
namespace fs = std::filesystem;

nlohmann::json to_json(const TrainState& s) {
  return {{"epoch", s.epoch},
          {"epoch_complete", s.epoch_complete},
          {"global_step", s.global_step},
          {"sample_offset", s.sample_offset},
          {"world_size", s.world_size},
          {"batch_size", s.batch_size},
          {"accum_steps", s.accum_steps},
          {"seed", s.seed},
          {"optimizer", std::string(choice_name(s.optimizer))},
          {"scheduler", s.scheduler},
          {"early_stopping", s.early_stopping},
          {"grad_scaler", s.grad_scaler},
          {"config", s.config},
          {"rank_progress", s.rank_progress},
          {"class_names", s.class_names},
          {"versions", {{"finch", FINCH_VERSION}, {"libtorch", TORCH_VERSION}}},
          {"time", std::time(nullptr)}};
}

namespace {

// The parts' own states (schedule, early stopping, scaler, rank progress) are read by the parts;
// what they may hold is checked here, once, where the file is named: a hand-edited or damaged
// state.json must not train with "lr -1" or stop with "key 'lr' not found" naming no file.
void check_part_states(const TrainState& s, const std::string& source) {
  auto object = [&](const char* key, const nlohmann::json& v) {
    if (!v.is_object()) throw ConfigError(fmt::format("{}: key '{}' is not an object", source, key));
  };
  // A number within [lo, hi] (null allowed where `nullable`): `where` is the key's dotted path.
  auto number = [&](const nlohmann::json& obj, const std::string& where, const char* key, double lo, double hi,
                    bool nullable = false, bool integer = false) {
    const std::string name = where + "." + key;
    if (!obj.contains(key)) throw ConfigError(fmt::format("{}: no key '{}'", source, name));
    const auto& v = obj.at(key);
    if (nullable && (v.is_null() || (v.is_number_float() && std::isinf(v.get<double>())))) return;  // none yet (an inf is written as null)
    if (!v.is_number() || (integer && !v.is_number_integer()))
      throw ConfigError(fmt::format("{}: key '{}' is {}: expected {}{}", source, name, briefly(v.dump()),
                                    integer ? "an integer" : "a number", nullable ? " or null" : ""));
    const double x = v.get<double>();
    if (!std::isfinite(x) || x < lo || x > hi)
      throw ConfigError(fmt::format("{}: key '{}' is {}: outside {}..{}", source, name, v.dump(), lo, hi));
  };
  constexpr double kMaxEpochs = 100'000, kHuge = 1e300;
  object("scheduler", s.scheduler);
  number(s.scheduler, "scheduler", "lr", 0, 10);  // optimizer.lr's own range (config_schema)
  number(s.scheduler, "scheduler", "best", -kHuge, kHuge, true);
  number(s.scheduler, "scheduler", "bad_epochs", 0, kMaxEpochs, false, true);
  number(s.scheduler, "scheduler", "cooldown_counter", 0, kMaxEpochs, false, true);
  object("early_stopping", s.early_stopping);
  number(s.early_stopping, "early_stopping", "best", -kHuge, kHuge, true);
  number(s.early_stopping, "early_stopping", "best_epoch", -1, kMaxEpochs, false, true);
  number(s.early_stopping, "early_stopping", "bad_epochs", 0, kMaxEpochs, false, true);
  if (!s.grad_scaler.is_null()) {
    object("grad_scaler", s.grad_scaler);
    number(s.grad_scaler, "grad_scaler", "scale", 1e-30, 1e30);  // float32's range, with room
    if (s.grad_scaler.contains("growth_tracker"))
      number(s.grad_scaler, "grad_scaler", "growth_tracker", 0, 1e9, false, true);
  }
  for (size_t r = 0; r < s.rank_progress.size(); ++r)
    for (double x : s.rank_progress[r])
      if (!std::isfinite(x) || x < 0)
        throw ConfigError(fmt::format("{}: key 'rank_progress' row {} holds {}: expected finite counts >= 0", source, r, x));
}

}  // namespace

TrainState train_state_from_json(const nlohmann::json& j, const std::string& source) {
  auto field = [&](const char* key) -> const nlohmann::json& {
    if (!j.is_object() || !j.contains(key)) throw ConfigError(fmt::format("{}: no key '{}'", source, key));
    return j.at(key);
  };
  TrainState s;
  try {
    s.epoch = field("epoch").get<int>();
    s.epoch_complete = field("epoch_complete").get<bool>();
    s.global_step = field("global_step").get<int64_t>();
    s.sample_offset = field("sample_offset").get<int64_t>();
    s.world_size = field("world_size").get<int>();
    s.batch_size = field("batch_size").get<int>();
    s.accum_steps = field("accum_steps").get<int>();
    s.seed = field("seed").get<int>();
    s.optimizer = parse_choice<OptimizerKind>(field("optimizer").get<std::string>(), source + ": key 'optimizer'");
    s.scheduler = field("scheduler");
    s.early_stopping = field("early_stopping");
    if (j.contains("grad_scaler")) s.grad_scaler = j.at("grad_scaler");
    else if (j.contains("loss_scale")) s.grad_scaler = {{"scale", j.at("loss_scale").get<double>()}};  // finch before 0.2
    if (j.contains("config")) s.config = j.at("config");
    if (j.contains("rank_progress")) s.rank_progress = j.at("rank_progress").get<std::vector<std::vector<double>>>();
    if (j.contains("class_names")) s.class_names = j.at("class_names").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(fmt::format("{}: {}", source, e.what()));
  }
  // Where a resume would go: within what a run can reach (a hand-edited or damaged state.json could
  // otherwise send it to epoch -2^31, or to a step whose checkpoint name an intact one holds).
  auto within = [&](const char* key, int64_t value, int64_t lo, int64_t hi) {
    if (value < lo || value > hi) throw ConfigError(fmt::format("{}: key '{}' is {}: outside {}..{}", source, key, value, lo, hi));
  };
  constexpr int64_t kMaxEpochs = 100'000;  // train.epochs' own limit (config_schema)
  within("epoch", s.epoch, 0, kMaxEpochs);
  within("global_step", s.global_step, 0, 9'999'999'999);  // ckpt-<10 digits>
  within("sample_offset", s.sample_offset, 0, INT64_MAX / 2);
  within("world_size", s.world_size, 1, 1'000'000);
  within("batch_size", s.batch_size, 1, 1'000'000);
  within("accum_steps", s.accum_steps, 1, 1'000'000);
  check_part_states(s, source);
  return s;
}

void save_train_checkpoint(const std::string& checkpoints, const std::string& name, torch::nn::Module& model,
                           torch::optim::Optimizer& optimizer, const TrainState& state, const io::NamedTensors& ema) {
  io::CheckpointData d{model::model_state(model), optimizer_state(optimizer, state.optimizer), to_json(state), ema};
  io::write_checkpoint(checkpoints, name, d);
}

std::string save_periodic_checkpoint(const std::string& checkpoints, int keep_last, torch::nn::Module& model,
                                     torch::optim::Optimizer& optimizer, const TrainState& state, const io::NamedTensors& ema) {
  const auto name = io::periodic_name(state.global_step);
  save_train_checkpoint(checkpoints, name, model, optimizer, state, ema);
  io::set_latest(checkpoints, name);
  io::prune_checkpoints(checkpoints, keep_last);
  return (fs::path(checkpoints) / name).string();
}

TrainState load_train_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                                 OptimizerKind kind, io::NamedTensors* ema) {
  auto ck = io::read_checkpoint(path);
  TrainState s = train_state_from_json(ck.state, path + "/state.json");
  if (s.optimizer != kind)
    throw ConfigError(fmt::format("{}/state.json: saved with optimizer.name={}, but this run uses {}: resume with the same optimizer",
                                  path, choice_name(s.optimizer), choice_name(kind)));
  model::load_weights(model, ck.model, path + "/model.safetensors");
  load_optimizer_state(optimizer, kind, ck.optimizer, path + "/optimizer.safetensors");
  if (ema) *ema = std::move(ck.ema);
  return s;
}

std::optional<std::string> best_checkpoint(const std::string& checkpoints) {
  const auto best = fs::path(checkpoints) / "best";
  if (!fs::exists(best / "state.json")) return std::nullopt;
  try {
    io::read_checkpoint(best.string());  // sizes and checksums
  } catch (const Error&) {
    return std::nullopt;
  }
  return best.string();
}

std::string resolve_checkpoint(const std::string& path, CheckpointPick pick, std::vector<std::string>* notes) {
  const fs::path p(path);
  if (fs::exists(p / "state.json")) return path;  // a checkpoint directory
  const fs::path checkpoints = fs::exists(p / "checkpoints") ? p / "checkpoints" : p;
  if (pick == CheckpointPick::kBestElseLatest)
    if (auto best = best_checkpoint(checkpoints.string())) return *best;
  if (fs::is_directory(checkpoints)) {
    const auto latest = io::find_latest_checkpoint(checkpoints.string(), notes);
    if (!latest.empty()) return latest;
  }
  if (!fs::exists(p)) throw ConfigError(fmt::format("'{}' does not exist", path));
  throw RuntimeError(fmt::format("no intact checkpoint in '{}' (not a checkpoint directory: no state.json; no intact checkpoint under "
                                 "checkpoints/)", path));
}

}  // namespace finch::train
