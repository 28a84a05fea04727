// Where a run is, as a checkpoint's state.json records it, and the checkpoint files of a run:
// writing them, loading them (every rank, any world size), and finding the checkpoint a user means.
// These are the file operations; when and how a run saves (a collective: Note [Checkpoint calls
// are collective]) is train/checkpointer.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/optim/optimizer.h>

#include "finch/core/config.h"
#include "finch/model/efficientnet.h"
#include "finch/io/named_tensors.h"

namespace finch::train {

struct TrainState {
  int epoch = 0;                // the epoch the checkpoint was taken in
  bool epoch_complete = false;  // true: at its end; false: mid-epoch, `sample_offset` says where
  int64_t global_step = 0;      // optimizer steps taken so far
  int64_t sample_offset = 0;    // global samples of `epoch` already consumed (mid-epoch)
  int world_size = 1;           // ranks that wrote it (a resume may use another number)
  int batch_size = 1, accum_steps = 1, seed = 0;
  OptimizerKind optimizer = OptimizerKind::kAdam;
  nlohmann::json scheduler = nlohmann::json::object();       // LrSchedule::state()
  nlohmann::json early_stopping = nlohmann::json::object();  // EarlyStopping::state()
  nlohmann::json grad_scaler = nlohmann::json::object();     // GradScaler::state()
  nlohmann::json config = nlohmann::json::object();          // the run's resolved config
  // Each rank's running sums of the epoch so far, one row per rank as RankProgress::to_values
  // (train/checkpointer.h) writes it (empty in checkpoints of earlier versions and in `best`): a resume on the same world size gives every rank its own
  // back, so the epoch's record is the one the uninterrupted run writes.
  std::vector<std::vector<double>> rank_progress;
  // The data set's class names, label order (empty in checkpoints of earlier versions): predict
  // and eval print names without the data set at hand.
  std::vector<std::string> class_names;

  // Where a run resumed from this state continues.
  int resume_epoch() const { return epoch_complete ? epoch + 1 : epoch; }
  int64_t resume_offset() const { return epoch_complete ? 0 : sample_offset; }
};

// state.json's fields, plus the finch and LibTorch versions and the time.
nlohmann::json to_json(const TrainState& state);
// ConfigError naming `source` and the key for a missing or mistyped field. Reads checkpoints of
// earlier finch versions too (a bare "loss_scale" instead of "grad_scaler").
TrainState train_state_from_json(const nlohmann::json& json, const std::string& source);

// Writes checkpoints/name (model, optimizer, state, and `ema`'s weights when given: Note [EMA
// weights]) atomically. A file write: the Checkpointer calls it on rank 0 inside its collective save.
void save_train_checkpoint(const std::string& checkpoints, const std::string& name, torch::nn::Module& model,
                           torch::optim::Optimizer& optimizer, const TrainState& state, const io::NamedTensors& ema = {});
// A periodic checkpoint, checkpoints/ckpt-<global step>: written, made `latest`, and the periodic
// ones beyond the newest `keep_last` deleted (best is kept). Returns its path. A file write, as above.
std::string save_periodic_checkpoint(const std::string& checkpoints, int keep_last, torch::nn::Module& model,
                                     torch::optim::Optimizer& optimizer, const TrainState& state, const io::NamedTensors& ema = {});
// Loads the weights and optimizer state of the checkpoint directory `path` into `model` and
// `optimizer` (RuntimeError naming what does not fit) and returns its state; `ema`, when given,
// receives the checkpoint's EMA weights (empty when it has none).
TrainState load_train_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                                 OptimizerKind kind, io::NamedTensors* ema = nullptr);

enum class CheckpointPick {
  kLatest,          // resuming: the newest intact periodic checkpoint
  kBestElseLatest,  // evaluating: checkpoints/best when intact, else the latest
};
// The checkpoint directory that `path` means: a checkpoint directory itself, or a run directory
// (its checkpoints/ folder, picked as asked). `notes` receives why newer checkpoints were passed
// over. RuntimeError naming `path` when nothing intact is there.
std::string resolve_checkpoint(const std::string& path, CheckpointPick pick, std::vector<std::string>* notes = nullptr);
// checkpoints/best of a checkpoints folder when it is intact.
std::optional<std::string> best_checkpoint(const std::string& checkpoints);

}  // namespace finch::train
