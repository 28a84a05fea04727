// finch inspect --checkpoint: what a checkpoint holds (where the run stood, who wrote it, with
// which versions), its tensor files verified against the checksums in its state.json, the run's
// metrics up to it, and its config against another (`--config`): the questions asked before a
// resume or an evaluation. Exit 1 when a file does not match its checksum.
#include <ctime>
#include <filesystem>
#include <iterator>
#include <fstream>
#include <iostream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "finch/core/bounded_json.h"
#include "finch/core/regular_file.h"
#include "commands.h"
#include "finch/core/error.h"
#include "finch/io/checkpoint.h"
#include "finch/io/safetensors.h"
#include "finch/train/run_inputs.h"
#include "finch/train/train_state.h"

namespace finch::cli {
namespace {
namespace fs = std::filesystem;

// {"train": {"epochs": 3}} -> {"train.epochs": 3}
void flatten(const nlohmann::json& j, const std::string& prefix, std::map<std::string, nlohmann::json>& out) {
  if (j.is_object() && !j.empty()) {
    for (auto it = j.begin(); it != j.end(); ++it) flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  } else {
    out[prefix] = j;
  }
}

nlohmann::json config_difference(const nlohmann::json& saved, const nlohmann::json& other) {
  std::map<std::string, nlohmann::json> a, b;
  flatten(saved, "", a);
  flatten(other, "", b);
  nlohmann::json diff = nlohmann::json::array();
  for (const auto& [key, value] : a) {
    const auto it = b.find(key);
    if (it == b.end()) diff.push_back({{"key", key}, {"checkpoint", value}, {"config", nullptr}});
    // A key the config leaves to the run's inputs (model.classes 0, padding auto, normalisation null)
    // is resolved from them again on resume: it differs only if the inputs did.
    else if (it->second != value && !train::left_to_inputs(key, it->second))
      diff.push_back({{"key", key}, {"checkpoint", value}, {"config", it->second}});
  }
  for (const auto& [key, value] : b)
    if (!a.count(key)) diff.push_back({{"key", key}, {"checkpoint", nullptr}, {"config", value}});
  return diff;
}

// The run's last epoch record the checkpoint has seen (checkpoints/<name>/../../metrics.jsonl).
nlohmann::json last_epoch_record(const fs::path& checkpoint, const train::TrainState& s) {
  const fs::path metrics = checkpoint.parent_path().parent_path() / "metrics.jsonl";
  std::ifstream in = open_regular(metrics);
  nlohmann::json last;
  const int through = s.epoch_complete ? s.epoch : s.epoch - 1;
  for (std::string line; std::getline(in, line);) {
    const auto r = parse_bounded_json(line);
    if (r.is_object() && r.value("kind", "") == "epoch" && r.value("epoch", -1) <= through) last = r;
  }
  return last;
}

// state.json's "time" as a date; "time unknown" for a value no calendar holds (gmtime fails on it:
// a hand-edited 2^63 - 1 once crashed inspect) or a missing one.
std::string when(const nlohmann::json& time) {
  if (!time.is_number_integer()) return "time unknown";
  const std::time_t tt = static_cast<std::time_t>(time.get<int64_t>());
  std::tm utc{};
  char buf[32];
  if (gmtime_r(&tt, &utc) == nullptr || std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &utc) == 0) return "time unknown";
  return buf;
}

// A metric of a metrics.jsonl record: "n/a" when the run had none (null: no validation split, a
// non-finite loss).
std::string metric(const nlohmann::json& record, const char* key, const char* format) {
  const auto it = record.find(key);
  if (it == record.end() || !it->is_number()) return "n/a";
  return fmt::format(fmt::runtime(format), it->get<double>());
}

}  // namespace

int inspect_checkpoint(const std::string& where, const std::string& config_path, bool as_json) {
  std::vector<std::string> notes;
  const std::string path = train::resolve_checkpoint(where, train::CheckpointPick::kLatest, &notes);
  for (const auto& n : notes) std::cerr << "finch: note: " << n << "\n";
  const std::string state_file = (fs::path(path) / "state.json").string();
  std::ifstream in = open_regular(state_file);
  const auto state = parse_bounded_json(std::string(std::istreambuf_iterator<char>(in), {}));
  if (state.is_discarded() || !state.is_object()) throw RuntimeError(fmt::format("'{}' is not valid JSON", state_file));
  const train::TrainState s = train::train_state_from_json(state, state_file);
  const auto checks = io::verify_checkpoint_files(path, state);
  bool intact = true;
  for (const auto& c : checks) intact = intact && c.problem.empty();

  nlohmann::ordered_json j;
  j["checkpoint"] = path;
  j["intact"] = intact;
  j["epoch"] = s.epoch;
  j["epoch_complete"] = s.epoch_complete;
  j["global_step"] = s.global_step;
  j["sample_offset"] = s.sample_offset;
  j["resumes_at"] = {{"epoch", s.resume_epoch()}, {"sample", s.resume_offset()}};
  j["world_size"] = s.world_size;
  j["batch_size"] = s.batch_size;
  j["accum_steps"] = s.accum_steps;
  j["seed"] = s.seed;
  j["optimizer"] = std::string(choice_name(s.optimizer));
  j["scheduler"] = s.scheduler;
  j["early_stopping"] = s.early_stopping;
  j["grad_scaler"] = s.grad_scaler;
  // What wrote it, as text: a hand-edited state.json may hold anything here (the fuzzer left null).
  const nlohmann::json versions = state.contains("versions") && state["versions"].is_object() ? state["versions"] : nlohmann::json::object();
  auto version = [&](const char* key) {
    return versions.contains(key) && versions[key].is_string() ? versions[key].get<std::string>() : std::string("?");
  };
  j["versions"] = {{"finch", version("finch")}, {"libtorch", version("libtorch")}};
  j["time"] = state.contains("time") ? state.at("time") : nlohmann::json();
  for (const auto& c : checks)
    j["files"].push_back({{"file", c.file}, {"bytes", c.bytes}, {"expected_bytes", c.expected_bytes}, {"fnv1a64", c.fnv1a64},
                          {"expected_fnv1a64", c.expected_fnv1a64}, {"ok", c.problem.empty()}, {"problem", c.problem}});
  if (intact) {
    const auto model = io::read_safetensors((fs::path(path) / "model.safetensors").string());
    int64_t values = 0;
    for (const auto& [name, t] : model.in_order()) values += t.numel();
    j["model"] = {{"tensors", model.in_order().size()}, {"values", values}};
  }
  j["last_epoch"] = last_epoch_record(path, s);
  if (!config_path.empty()) {
    // The checkpoint's config as this finch reads it (keys newer than the checkpoint at their
    // defaults, as a resume would have them); as written when this finch cannot read it.
    nlohmann::json saved = s.config;
    try {
      saved = config_to_json(config_from_json(s.config, state_file));
    } catch (const Error&) {
    }
    j["config_difference"] = config_difference(saved, config_to_json(load_config(config_path)));
  }

  if (as_json) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << fmt::format("checkpoint {}\n", path);
    std::cout << fmt::format("  where      epoch {} {}, global step {}; a resume starts at epoch {}{}\n", s.epoch,
                             s.epoch_complete ? "complete" : fmt::format("in progress (sample {})", s.sample_offset), s.global_step,
                             s.resume_epoch(), s.resume_offset() ? fmt::format(" sample {}", s.resume_offset()) : "");
    std::cout << fmt::format("  written by {} rank(s), batch {} x accum {}, seed {}, optimizer {}, finch {}, LibTorch {}, {}\n",
                             s.world_size, s.batch_size, s.accum_steps, s.seed, choice_name(s.optimizer),
                             version("finch"), version("libtorch"), when(j.value("time", nlohmann::json())));
    std::cout << fmt::format("  schedule   {}\n  stopping   {}\n", s.scheduler.dump(), s.early_stopping.dump());
    if (!j["last_epoch"].is_null()) {
      const auto& e = j["last_epoch"];
      std::cout << fmt::format("  metrics    epoch {}: train loss {}, val loss {}, val acc {}, lr {}\n", metric(e, "epoch", "{:.0f}"),
                               metric(e, "train_loss", "{:.4f}"), metric(e, "val_loss", "{:.4f}"), metric(e, "val_acc", "{:.4f}"),
                               metric(e, "lr", "{:g}"));
    }
    for (const auto& c : checks)
      std::cout << fmt::format("  {:<21} {:>12} bytes  fnv1a64 {}  {}\n", c.file, c.bytes, c.fnv1a64.empty() ? "-" : c.fnv1a64,
                               c.problem.empty() ? "ok" : "BAD");
    if (j.contains("model"))
      std::cout << fmt::format("  model      {} tensors, {} values\n", j["model"]["tensors"].get<int64_t>(), j["model"]["values"].get<int64_t>());
    if (j.contains("config_difference")) {
      const auto& d = j["config_difference"];
      std::cout << fmt::format("  config     {} key(s) differ from {}{}\n", d.size(), config_path, d.empty() ? "" : ":");
      for (const auto& k : d)
        std::cout << fmt::format("    {:<32} checkpoint {}  {} {}\n", k["key"].get<std::string>(), k["checkpoint"].dump(), config_path,
                                 k["config"].dump());
    }
  }
  // One error line (README): the first problem, and how many files have one (the table above lists each).
  std::vector<std::string> problems;
  for (const auto& c : checks)
    if (!c.problem.empty()) problems.push_back(c.problem);
  if (!problems.empty())
    std::cerr << "finch: error: " << one_line(problems.front())
              << (problems.size() > 1 ? fmt::format(" (and {} more damaged file{})", problems.size() - 1, problems.size() == 2 ? "" : "s") : "")
              << "\n";
  return intact ? 0 : 1;
}

}  // namespace finch::cli
