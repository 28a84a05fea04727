// The Checkpointer: every saving decision of a run and its policy, in one object with its own state
// (as torchtitan's Checkpointer decides for itself when to save, and timm's CheckpointSaver keeps
// the best). The loop asks it once per optimizer step and once per epoch end; it knows
// checkpoint.every_steps / every_epochs / keep_last / keep_best / on_error, keeps the best epoch's
// weights for early_stopping.restore_best, and assembles each checkpoint's TrainState from the
// parts' own state() (schedule, early stopping, gradient scaler), the position in the run and every
// rank's RankProgress. restore() puts a checkpoint back into the same parts.
//
// Note [Checkpoint calls are collective]
// Saving a checkpoint is not a file write on rank 0: mid-epoch the BatchNorm statistics (the EMA's too) are first
// averaged over ranks, every rank's progress is gathered, rank 0 writes, and one broadcast tells
// every rank whether that worked, so that checkpoint.on_error=fail stops every rank together. The
// calls that may save (their names end in _collective) must therefore be made on every rank at the
// same point of the run, with the same arguments apart from each rank's own RankProgress; called
// on rank 0 alone they hang. They save on every rank or on none, as their decisions use only what
// every rank agrees on (global step, epoch, the broadcast decisions).
//
// Note [A resume never replaces a newer checkpoint]
// A resumed run writes ckpt-<step> and best again from its resume point on, so whatever this run's
// checkpoints/ holds beyond that point would be replaced, silently, by a different history. restore()
// looks first (io::checkpoints_after). Intact ones stop the start with a ConfigError (exit 2, before
// anything is written) when the user named an older checkpoint; --force moves them aside instead.
// Damaged ones (the latest lookup passed them over) and, when the run's own latest was asked for
// (--resume auto, a run directory), a newer `best`, are moved aside with a warning. Aside means
// checkpoints/set-aside-<UTC time>/, whole, by rank 0: nothing is deleted, and `latest` then names
// the resumed checkpoint.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "finch/core/config.h"
#include "finch/core/run_dir.h"
#include "finch/io/named_tensors.h"
#include "finch/train/train_state.h"

namespace torch::optim {
class Optimizer;
}
namespace finch::distributed {
class Communicator;
}

namespace finch::train {

class LrSchedule;
class EarlyStopping;
class GradScaler;
class ModelEma;

// Where the run stands when a checkpoint is taken: TrainState's position fields.
struct TrainPosition {
  int epoch = 0;
  bool epoch_complete = false;  // false: mid-epoch, `sample_offset` global samples of it consumed
  int64_t global_step = 0;
  int64_t sample_offset = 0;
};

// One rank's running sums, checkpointed per rank (TrainState::rank_progress) so that a run resumed
// on the same world size gives every rank its own back and the epoch's record is the one the
// uninterrupted run writes.
struct RankProgress {
  double loss_sum = 0;   // this epoch's training loss, summed over images
  double correct = 0;    // this epoch's top-1 hits
  double images = 0;     // this epoch's images
  int64_t skipped = 0;   // images left out for data.on_error=skip, the whole run

  // state.json's row: [loss_sum, correct, images, skipped].
  std::vector<double> to_values() const;
  static RankProgress from_values(const std::vector<double>& row);
  // What `rank` of `world` carries on with from a checkpoint's rows: its own row when `world` is the
  // world size that wrote them; otherwise rank 0 takes the totals and the others nothing (the
  // epoch's sums stay right; their rounding may differ).
  static RankProgress for_rank(const std::vector<std::vector<double>>& rows, int rank, int world);
  // The same rank at a new epoch: the sums start again, `skipped` runs on.
  RankProgress next_epoch() const { return {0, 0, 0, skipped}; }
};

// What a checkpoint holds besides the position, by reference: the parts outlive the Checkpointer.
struct CheckpointedParts {
  torch::nn::Module& model;
  torch::optim::Optimizer& optimizer;
  LrSchedule& schedule;
  EarlyStopping& stopper;
  GradScaler& scaler;
  ModelEma* ema = nullptr;  // train.ema.enabled (Note [EMA weights]): saved, restored, and the best weights are its
};

// What restore() found: where the run continues and with which progress of this rank.
struct Restored {
  std::string path;          // the checkpoint directory loaded
  int start_epoch = 0;       // the epoch to train next (TrainState::resume_epoch)
  int64_t start_offset = 0;  // global samples of it already consumed (TrainState::resume_offset)
  int64_t global_step = 0;
  int saved_by_world = 1;    // the world size that wrote it
  RankProgress mine;         // this rank's, for start_epoch (RankProgress::for_rank)
};

class Checkpointer {
 public:
  // `config` is the run's resolved config (saved in every state.json); `class_names` the data set's.
  Checkpointer(const Config& config, RunDir dir, distributed::Communicator& comm, CheckpointedParts parts,
               std::vector<std::string> class_names);

  // Local (every rank reads the files itself; no collective): loads the checkpoint `resume` means (a
  // checkpoint directory, or a run directory's latest intact one) into the parts (an EMA that the
  // checkpoint lacks starts from its model weights, with a warning), and the best epoch's weights
  // when early stopping has a best. Throws naming the file for what does not fit.
  // This run's checkpoints beyond the resume point are never replaced (Note [A resume never
  // replaces a newer checkpoint]): a ConfigError when intact ones are there, unless `force`.
  Restored restore(const std::string& resume, bool force = false);

  // Collective (Note [Checkpoint calls are collective]), after every optimizer step taken: a
  // mid-epoch checkpoint when checkpoint.every_steps says so. The epoch's last step is left to
  // epoch_end_collective (`epoch_ends`).
  void step_end_collective(const TrainPosition& at, const RankProgress& mine, bool epoch_ends);

  // Collective, at an epoch's end once the decisions are taken: when the epoch `improved` the
  // monitored metric, its weights (the EMA's, with one) are kept (restore_best) and written as `best` (keep_best); a
  // periodic checkpoint when checkpoint.every_epochs says so or the run stops here (`last`: the
  // final epoch, early stopping, train.max_steps). Returns true when a periodic one was attempted.
  bool epoch_end_collective(const TrainPosition& at, const RankProgress& mine, bool improved, bool last);

  // Collective: a periodic checkpoint of where the run stands (a stop signal was agreed on).
  void save_now_collective(const TrainPosition& at, const RankProgress& mine);

  // The best epoch's weights, the EMA's when the run has one (empty before the first improvement).
  const io::NamedTensors& best_weights() const { return best_; }

 private:
  bool guard_later_checkpoints(const std::string& resume, const std::string& path, int64_t step, bool force);
  TrainState state(const TrainPosition& at) const;
  io::NamedTensors ema_state() const;  // empty without an EMA
  void save_periodic(const TrainPosition& at, const RankProgress& mine);
  std::vector<std::vector<double>> gather_progress(const RankProgress& mine);
  void write_agreed(const std::function<std::string()>& write, const std::string& what);

  Config c_;
  RunDir dir_;
  distributed::Communicator& comm_;
  CheckpointedParts parts_;
  std::vector<std::string> class_names_;
  io::NamedTensors best_;
};

}  // namespace finch::train
