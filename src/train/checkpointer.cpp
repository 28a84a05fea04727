#include "finch/train/checkpointer.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "finch/core/trace.h"
#include "finch/core/error.h"
#include "finch/distributed/agree.h"
#include "finch/distributed/communicator.h"
#include "finch/io/checkpoint.h"
#include "finch/model/weights.h"
#include "finch/train/bn_stats.h"
#include "finch/train/grad_scaler.h"
#include "finch/train/model_ema.h"
#include "finch/train/schedule.h"

namespace finch::train {
namespace fs = std::filesystem;

std::vector<double> RankProgress::to_values() const { return {loss_sum, correct, images, static_cast<double>(skipped)}; }

RankProgress RankProgress::from_values(const std::vector<double>& row) {
  std::vector<double> v = row;
  v.resize(4, 0.0);  // rows of older checkpoints may be shorter
  return {v[0], v[1], v[2], static_cast<int64_t>(v[3])};
}

RankProgress RankProgress::for_rank(const std::vector<std::vector<double>>& rows, int rank, int world) {
  if (rows.empty()) return {};
  if (static_cast<int>(rows.size()) == world) return from_values(rows[static_cast<size_t>(rank)]);
  if (rank != 0) return {};
  RankProgress total;
  for (const auto& row : rows) {
    const RankProgress r = from_values(row);
    total.loss_sum += r.loss_sum, total.correct += r.correct, total.images += r.images, total.skipped += r.skipped;
  }
  return total;
}

Checkpointer::Checkpointer(const Config& config, RunDir dir, distributed::Communicator& comm, CheckpointedParts parts,
                           std::vector<std::string> class_names)
    : c_(config), dir_(std::move(dir)), comm_(comm), parts_(parts), class_names_(std::move(class_names)) {}

Restored Checkpointer::restore(const std::string& resume, bool force) {
  std::vector<std::string> notes;
  Restored r;
  r.path = resolve_checkpoint(resume, CheckpointPick::kLatest, &notes);
  for (const auto& n : notes) spdlog::warn("{}", n);
  io::NamedTensors ema;
  const TrainState s = load_train_checkpoint(r.path, parts_.model, parts_.optimizer, c_.optimizer.name, &ema);
  if (parts_.ema && !ema.empty()) {
    parts_.ema->load(ema, r.path + "/" + io::kEmaFile);
  } else if (parts_.ema) {
    parts_.ema->reset_to_model();
    if (comm_.rank() == 0) spdlog::warn("{} holds no EMA weights (train.ema was off): the EMA starts from its model weights", r.path);
  }
  const bool best_set_aside = guard_later_checkpoints(resume, r.path, s.global_step, force);
  parts_.schedule.load(s.scheduler);
  parts_.stopper.load(s.early_stopping);
  parts_.scaler.load(s.grad_scaler);
  r.start_epoch = s.resume_epoch();
  r.start_offset = s.resume_offset();
  r.global_step = s.global_step;
  r.saved_by_world = s.world_size;
  r.mine = RankProgress::for_rank(s.rank_progress, comm_.rank(), comm_.size());
  if (s.epoch_complete) r.mine = r.mine.next_epoch();  // the sums were the finished epoch's
  if (parts_.stopper.has_best() && !best_set_aside)
    if (const auto best = best_checkpoint(dir_.checkpoints().string())) {
      auto ck = io::read_checkpoint(*best);
      best_ = parts_.ema && !ck.ema.empty() ? std::move(ck.ema) : std::move(ck.model);
    }
  return r;
}

// Note [A resume never replaces a newer checkpoint]. Returns true when `best` is (being) set aside:
// its weights are not the resumed run's best.
bool Checkpointer::guard_later_checkpoints(const std::string& resume, const std::string& path, int64_t step, bool force) {
  const std::string checkpoints = dir_.checkpoints().string();
  if (!fs::is_directory(checkpoints)) return false;
  const auto later = io::checkpoints_after(checkpoints, step);
  if (later.empty()) return false;
  // Named explicitly (a checkpoint directory, not a run's latest): intact later ones are a history
  // the user may still want.
  const bool explicit_checkpoint = fs::exists(fs::path(resume) / "state.json");
  std::vector<std::string> intact, names;
  std::string listed;
  for (const auto& c : later) {
    if (c.problem.empty()) intact.push_back(c.name);
    names.push_back(c.name);
    listed += fmt::format("{}{} (step {}{})", listed.empty() ? "" : ", ", c.name, c.step,
                          c.problem.empty() ? "" : ", damaged: " + c.problem);
  }
  if (explicit_checkpoint && !intact.empty() && !force)
    throw ConfigError(fmt::format("'{}' is step {}, but this run's {} holds newer checkpoints: {}; training on from step {} would "
                                  "replace them. Resume the newest with --resume auto, continue from this one in a run of its own with "
                                  "--resume-into-new-run NAME, or add --force to move them to {}/set-aside-<time>/ first",
                                  path, step, checkpoints, listed, step, checkpoints));
  if (comm_.rank() == 0) {
    const std::string aside = io::set_aside(checkpoints, names);
    if (fs::path(path).parent_path() == fs::path(checkpoints)) io::set_latest(checkpoints, fs::path(path).filename().string());
    spdlog::warn("set aside {} into {}: newer than the resume point (step {}){}; nothing was deleted", listed, aside, step,
                 force ? " (--force)" : "");
  }
  return std::any_of(later.begin(), later.end(), [](const io::LaterCheckpoint& c) { return c.name == "best"; });
}

void Checkpointer::step_end_collective(const TrainPosition& at, const RankProgress& mine, bool epoch_ends) {
  if (epoch_ends || c_.checkpoint.every_steps <= 0 || at.global_step % c_.checkpoint.every_steps != 0) return;
  save_periodic(at, mine);
}

bool Checkpointer::epoch_end_collective(const TrainPosition& at, const RankProgress& mine, bool improved, bool last) {
  if (improved) {
    best_ = model::clone_state(parts_.ema ? parts_.ema->state() : model::model_state(parts_.model));
    // `best` is resumed from never (only evaluated): its state says epoch complete, no progress rows.
    const TrainPosition best_at{at.epoch, true, at.global_step, 0};
    if (c_.checkpoint.keep_best)
      write_agreed([&] {
        save_train_checkpoint(dir_.checkpoints().string(), "best", parts_.model, parts_.optimizer, state(best_at), ema_state());
        return (dir_.checkpoints() / "best").string();
      }, fmt::format("best, epoch {}", at.epoch));
  }
  const bool due = c_.checkpoint.every_epochs > 0 && (at.epoch + 1) % c_.checkpoint.every_epochs == 0;
  if (!due && !last) return false;
  save_periodic(at, mine);
  return true;
}

void Checkpointer::save_now_collective(const TrainPosition& at, const RankProgress& mine) { save_periodic(at, mine); }

io::NamedTensors Checkpointer::ema_state() const { return parts_.ema ? parts_.ema->state() : io::NamedTensors{}; }

TrainState Checkpointer::state(const TrainPosition& at) const {
  TrainState s;
  s.epoch = at.epoch;
  s.epoch_complete = at.epoch_complete;
  s.global_step = at.global_step;
  s.sample_offset = at.sample_offset;
  s.world_size = comm_.size();
  s.batch_size = c_.train.batch_size;
  s.accum_steps = c_.train.accum_steps;
  s.seed = c_.train.seed;
  s.optimizer = c_.optimizer.name;
  s.scheduler = parts_.schedule.state();
  s.early_stopping = parts_.stopper.state();
  s.grad_scaler = parts_.scaler.state();
  s.config = config_to_json(c_);
  s.class_names = class_names_;
  return s;
}

void Checkpointer::save_periodic(const TrainPosition& at, const RankProgress& mine) {
  // Mid-epoch, every replica's BatchNorm statistics are averaged first, as at an epoch end (the
  // trainer's settle step), unless dist.broadcast_buffers is off.
  if (!at.epoch_complete && c_.dist.broadcast_buffers) {
    average_buffers(parts_.model, comm_);
    if (parts_.ema) average_buffers(parts_.ema->module(), comm_);
  }
  TrainState s = state(at);
  s.rank_progress = gather_progress(mine);
  write_agreed([&] { return save_periodic_checkpoint(dir_.checkpoints().string(), c_.checkpoint.keep_last, parts_.model, parts_.optimizer, s, ema_state()); },
               fmt::format("epoch {}{}, step {}", at.epoch, at.epoch_complete ? " complete" : "", at.global_step));
}

// Every rank's row on every rank, exactly: each fills its own row of a zeroed matrix, and a sum
// with zeros is exact.
std::vector<std::vector<double>> Checkpointer::gather_progress(const RankProgress& mine) {
  const std::vector<double> row = mine.to_values();
  const size_t width = row.size();
  std::vector<double> all(static_cast<size_t>(comm_.size()) * width, 0.0);
  std::copy(row.begin(), row.end(), all.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(comm_.rank()) * width));
  all = comm_.allreduce_values(all, distributed::ReduceOp::kSum);
  std::vector<std::vector<double>> rows;
  for (size_t r = 0; r < static_cast<size_t>(comm_.size()); ++r)
    rows.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(r * width), all.begin() + static_cast<std::ptrdiff_t>((r + 1) * width));
  return rows;
}

// Rank 0 runs `write` (a save returning its path) and every rank learns whether it worked, in one
// broadcast. A failure (a full disk, a quota) leaves the earlier checkpoints and `latest` as they
// were (io::write_checkpoint removes its temporary files); then checkpoint.on_error=fail stops
// every rank with one message and exit 1, warn logs it and the run goes on, trying again at the
// next checkpoint.
void Checkpointer::write_agreed(const std::function<std::string()>& write, const std::string& what) {
  trace::Span span("checkpoint write", "io");
  const bool rank0 = comm_.rank() == 0;
  std::string path, error;
  if (rank0) {
    try {
      path = write();
    } catch (const Error& e) {
      error = e.what();
    }
  }
  if (comm_.broadcast_value(error.empty() ? 0 : 1, 0) == 0) {
    if (rank0) spdlog::info("checkpoint {} ({})", path, what);
    return;
  }
  if (c_.checkpoint.on_error == OnCheckpointError::kWarn) {
    if (rank0) spdlog::warn("checkpoint not written: {}; training goes on (checkpoint.on_error=warn), the next checkpoint tries again", error);
    return;
  }
  throw distributed::AgreedExit(rank0 ? fmt::format("checkpoint not written: {} (earlier checkpoints are intact; "
                                                    "checkpoint.on_error=warn trains on instead)", error)
                                      : "",
                                1);
}

}  // namespace finch::train
