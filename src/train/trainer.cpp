#include "finch/train/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "finch/core/atomic_file.h"
#include "finch/core/clock.h"
#include "finch/core/error.h"
#include "finch/core/metrics.h"
#include "finch/core/seed.h"
#include "finch/distributed/agree.h"
#include "finch/distributed/grad_sync.h"
#include "finch/io/checkpoint.h"
#include "finch/model/build.h"
#include "finch/model/weights.h"
#include "finch/train/bn_stats.h"
#include "finch/train/decisions.h"
#include "finch/train/evaluate.h"
#include "finch/train/fault_injection.h"
#include "finch/train/forward_loss.h"
#include "finch/train/grad_scaler.h"
#include "finch/train/optim.h"
#include "finch/train/schedule.h"
#include "finch/train/stop_signals.h"
#include "finch/train/run_inputs.h"
#include "finch/train/run_log.h"
#include "finch/train/train_data.h"
#include "finch/train/train_state.h"
#include "finch/train/train_step.h"

namespace finch::train {
namespace {

class Trainer {
 public:
  Trainer(const TrainRequest& r, distributed::RunContext& ctx)
      : c_(r.config), dir_(r.run_dir), resume_(r.resume), comm_(*ctx.comm), device_(ctx.device), rank0_(comm_.rank() == 0) {
    const bool cuda = device_.is_cuda();
    fwd_ = {device_, c_.train.channels_last && cuda, cuda ? c_.train.amp : Amp::kNone, c_.train.label_smoothing, false};
  }

  // Everything each rank does on its own (data, model, optimizer, resume): run under
  // distributed::run_agreed, so a bad dataset or checkpoint stops every rank with one message.
  void setup_local() {
    seed_everything(c_.train.seed);  // identical initial weights on every rank (and broadcast below anyway)
    // Keys left to the inputs (model.classes 0, padding auto, normalisation null) are resolved once,
    // here, before the data path and the model are built from them; c_ is the resolved config from
    // now on (config.json, checkpoints).
    auto bundle = data::open_dataset(c_.data, c_.train.seed);
    resolve_classes(c_, bundle.source->class_names().size());
    input_notes_ = resolve_from_weights(c_);
    data_ = std::make_unique<TrainData>(c_, comm_.rank(), comm_.size(), device_, std::move(bundle));
    model_ = model::build_model(c_.model);
    model_->to(device_);
    if (fwd_.channels_last)
      for (auto& p : model_->parameters())
        if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
    optimizer_ = make_optimizer(*model_, c_.optimizer);
    schedule_ = std::make_unique<LrSchedule>(c_.scheduler, c_.optimizer.lr, c_.train.epochs);
    stopper_ = std::make_unique<EarlyStopping>(c_.early_stopping);
    scaler_ = GradScaler({fwd_.amp == Amp::kFP16});
    current_lr_ = schedule_->lr_at(0);
    if (!resume_.empty()) resume();
  }

  const Config& config() const { return c_; }

  // The epochs; returns the exit code (1: stopped on a non-finite loss).
  int run() {
    setup();
    for (int epoch = start_epoch_; epoch < c_.train.epochs; ++epoch) {
      const Outcome outcome = train_epoch(epoch);
      if (outcome == Outcome::kNan) {
        finish("non-finite loss");
        return 1;
      }
      const bool stop = outcome != Outcome::kPreempted && end_epoch(epoch, outcome == Outcome::kMaxSteps);
      if (!preempted_by_.empty()) {  // no test evaluation: the job is being asked to leave
        log_->end("preempted (" + preempted_by_ + ")", global_step_, seconds_since(start_time_), dir_.root.string());
        return kExitPreempted;
      }
      if (outcome == Outcome::kMaxSteps || stop) {
        finish(outcome == Outcome::kMaxSteps ? "train.max_steps" : "early stopping");
        return 0;
      }
    }
    finish("max_epochs");
    return 0;
  }

 private:
  enum class Outcome { kDone, kMaxSteps, kNan, kPreempted };

  const data::DatasetBundle& bundle() const { return data_->bundle(); }

  // Collective part of the setup (every rank gets here together).
  void setup() {
    if (rank0_) {  // the run directory exists now
      metrics_ = MetricsWriter(dir_.metrics_file().string());
      std::string names;
      for (const auto& n : bundle().source->class_names()) names += n + "\n";
      write_file_atomically(dir_.classes_file(), names);
    }
    nan_fault_ = NanFault::from_env(comm_.rank());
    signal_fault_ = SignalFault::from_env(comm_.rank());
    if (c_.dist.sync_bn && comm_.size() > 1) model_->set_sync_batchnorm(std::make_shared<CommSum>(comm_));
    std::vector<at::Tensor> state;  // every replica starts from rank 0's weights and buffers
    for (const auto& [n, t] : model::model_state(*model_)) state.push_back(t);
    distributed::broadcast_tensors(comm_, state, 0);
    for (auto& p : model_->parameters())
      if (p.requires_grad()) trainable_.push_back(p);
    sync_ = std::make_unique<distributed::GradientSynchronizer>(
        comm_, trainable_, distributed::GradientSynchronizerOptions{c_.dist.bucket_mb, /*loss_prescaled=*/true});
    step_ = std::make_unique<TrainStep>(*model_, *optimizer_, *sync_, scaler_, trainable_, fwd_,
                                        TrainStepOptions{c_.train.batch_size, c_.train.accum_steps, c_.train.clip_grad_norm});
    progress_bar_ = c_.logging.progress == Progress::kOn || (c_.logging.progress == Progress::kAuto && isatty(fileno(stderr)));
    log_ = std::make_unique<RunLog>(comm_, metrics_, RunLogOptions{c_.logging.every_steps, progress_bar_});
    log_->start(c_, bundle(), *model_, sync_->num_buckets(), device_, resumed_from_, data_->sampler(start_epoch_).batches());
    if (rank0_) spdlog::info("input: {}", fmt::join(input_notes_, "; "));
    start_time_ = Clock::now();
  }

  Outcome train_epoch(int epoch) {
    const auto s = data_->sampler(epoch);
    const int64_t offset = epoch == start_epoch_ ? start_offset_ : 0;
    auto batches = data_->train_batches(s.indices(offset), epoch);
    set_lr(*optimizer_, current_lr_);  // decided at the last epoch end, identical on every rank
    model_->train();
    const int64_t steps = s.batches(offset);
    const int64_t first_step = offset / s.step_samples();  // this epoch's steps a resumed run skips
    epoch_start_ = Clock::now();
    data_wait_s_ = 0;
    epoch_sums_ = epoch == start_epoch_ ? resumed_sums_ : LocalSums{};
    log_->start_epoch(epoch, first_step + steps);  // a resumed epoch counts its steps as the whole epoch does
    for (int64_t step = 0; step < steps; ++step) {
      // Dropout and stochastic depth draw from a stream per (seed, epoch, step, rank): a run resumed
      // at any step boundary draws exactly what the uninterrupted run drew there.
      torch::manual_seed(derive_seed(c_.train.seed, {0xd0, static_cast<uint64_t>(epoch), static_cast<uint64_t>(first_step + step),
                                                     static_cast<uint64_t>(comm_.rank())}));
      const StepSums sums = step_->accumulate([&]() -> std::optional<data::Batch> {
        const auto asked = Clock::now();
        auto batch = batches.next();
        data_wait_s_ += seconds_since(asked);
        if (!batch) throw RuntimeError(fmt::format("rank {}: the loader ran out of batches at step {} of epoch {}", comm_.rank(), step, epoch));
        return batch;
      });
      double loss_sum = sums.loss_sum;
      if (nan_fault_.fires(comm_.rank(), global_step_ + 1)) loss_sum = std::nan("");
      epoch_sums_.train_correct += sums.correct;
      signal_fault_.maybe_raise(comm_.rank(), global_step_ + 1);
      // A non-finite loss anywhere is seen everywhere, and handled the same way everywhere.
      const StepAgreement agreed = agree_step(comm_, std::isfinite(loss_sum), StopSignals::received(), sums.overflow);
      bool stepped = false;  // false: every rank skipped this step (non-finite loss, fp16 overflow)
      if (!agreed.nonfinite_ranks.empty()) {
        log_->nonfinite(epoch, step, global_step_, agreed.nonfinite_ranks, c_.train.on_nan);
        if (c_.train.on_nan == OnNan::kStop) return Outcome::kNan;
        step_->skip();
      } else if (step_->apply(agreed.overflow)) {
        ++global_step_;
        stepped = true;
        epoch_sums_.train_loss_sum += loss_sum;
        epoch_sums_.train_count += sums.images;
        log_->step(first_step + step, global_step_, loss_sum, sums.images, get_lr(*optimizer_), scaler_);
      }
      const int64_t consumed = offset + (step + 1) * s.step_samples();  // skipped steps consumed samples too
      // A stop signal is honoured once this step is complete (its forward already moved the
      // BatchNorm statistics), so the checkpoint is exactly the state the next step starts from.
      // On the epoch's last step, end_epoch() honours it after validation and the epoch checkpoint.
      if (agreed.stop_signal != 0 && step + 1 < steps) {
        skipped_ += batches.skipped();
        preempt(epoch, /*complete=*/false, consumed, agreed);
        return Outcome::kPreempted;
      }
      if (!stepped) continue;
      if (c_.checkpoint.every_steps > 0 && global_step_ % c_.checkpoint.every_steps == 0 && step + 1 < steps)
        save_periodic(epoch, /*complete=*/false, consumed);
      if (c_.train.max_steps > 0 && global_step_ >= c_.train.max_steps) {
        log_->end_steps();
        skipped_ += batches.skipped();
        train_s_ = seconds_since(epoch_start_);
        stopped_at_offset_ = consumed;  // where a resume continues
        return Outcome::kMaxSteps;
      }
    }
    log_->end_steps();
    skipped_ += batches.skipped();
    train_s_ = seconds_since(epoch_start_);
    return Outcome::kDone;
  }

  // Collective: every rank's BatchNorm running statistics averaged, unless dist.broadcast_buffers is off.
  void average_bn_buffers() {
    if (c_.dist.broadcast_buffers) average_buffers(*model_, comm_);
  }

  // BatchNorm statistics ready for validation and checkpoints (bn_stats.h).
  void settle_bn_stats(int epoch) {
    if (c_.train.precise_bn_batches > 0) {
      auto s = data_->sampler(epoch + 100003);  // its own order, independent of the training one
      auto positions = s.indices();
      positions.resize(std::min<size_t>(positions.size(), static_cast<size_t>(c_.train.precise_bn_batches) * c_.train.batch_size));
      auto batches = data_->train_batches(positions, epoch);
      // Train-mode forwards draw dropout and stochastic-depth masks: their own stream, so the
      // statistics do not depend on where the run was resumed.
      torch::manual_seed(derive_seed(c_.train.seed, {0xb7, static_cast<uint64_t>(epoch), static_cast<uint64_t>(comm_.rank())}));
      precise_bn(*model_, [&]() -> std::optional<at::Tensor> {
        auto b = batches.next();
        return b ? std::optional<at::Tensor>(model_input(b->images, fwd_)) : std::nullopt;
      }, comm_);
    } else {
      average_bn_buffers();
    }
  }

  // Validation and test batches, with a progress bar where training draws one.
  EvalOptions eval_options(bool per_class, const std::string& label) const {
    EvalOptions o = data_->eval_options(per_class, fwd_.channels_last);
    if (progress_bar_) o.progress = label;
    return o;
  }

  // Returns true when the run should stop.
  bool end_epoch(int epoch, bool partial) {
    settle_bn_stats(epoch);
    EpochReport r;
    r.epoch = epoch;
    r.partial = partial;
    r.has_val = !bundle().split.val.empty();
    if (r.has_val) r.val = evaluate(*model_, bundle().source, bundle().split.val, comm_, eval_options(false, fmt::format("val {}", epoch)));
    // evaluate() already reduced the validation sums; only rank 0 passes them on, so that the
    // reduction below counts them once.
    LocalSums local = epoch_sums_;
    if (rank0_ && r.has_val) local.val_loss_sum = r.val.loss_sum, local.val_correct = r.val.correct1, local.val_count = r.val.count;
    r.metrics = reduce_epoch_metrics(comm_, local);
    r.skipped = comm_.allreduce_value(static_cast<double>(skipped_), distributed::ReduceOp::kSum);
    // The rank that waited most for its loader says how far the input pipeline holds the job back.
    r.data_wait = comm_.allreduce_value(data_wait_s_ / std::max(1e-9, train_s_), distributed::ReduceOp::kMax);
    r.lr_used = current_lr_;
    const Decision d = decide(comm_, r.metrics, *schedule_, *stopper_, c_.scheduler, c_.early_stopping, epoch);
    current_lr_ = r.next_lr = d.next_lr;
    r.improved = d.improved;
    if (d.improved) best_state_ = model::clone_state(model::model_state(*model_));
    r.global_step = global_step_;
    r.has_best = stopper_->has_best(), r.best = stopper_->best(), r.best_epoch = stopper_->best_epoch();
    r.seconds = seconds_since(epoch_start_);
    log_->epoch(r);

    if (d.improved && c_.checkpoint.keep_best)
      write_agreed([&] {
        save_train_checkpoint(dir_.checkpoints().string(), "best", *model_, *optimizer_, state(epoch, true, 0));
        return (dir_.checkpoints() / "best").string();
      }, fmt::format("best, epoch {}", epoch));
    const bool periodic = c_.checkpoint.every_epochs > 0 && (epoch + 1) % c_.checkpoint.every_epochs == 0;
    const bool saved = periodic || d.stop || partial || epoch + 1 == c_.train.epochs;
    if (saved) save_periodic(epoch, !partial, partial ? stopped_at_offset_ : 0);
    // A stop signal during validation or the checkpoint write is honoured here, not an epoch later.
    if (const StepAgreement a = agree_step(comm_, true, StopSignals::received()); a.stop_signal != 0) {
      preempt(epoch, !partial, partial ? stopped_at_offset_ : 0, a, /*write=*/!saved);
      return true;
    }
    if (d.stop)
      spdlog::info("early stopping: {} has not improved for {} epochs (best {:.4f} at epoch {})", choice_name(c_.early_stopping.monitor),
                   c_.early_stopping.patience, stopper_->best(), stopper_->best_epoch());
    return d.stop;
  }

  // A stop signal reached some rank: a checkpoint of where the run stands (unless one was just
  // written), then every rank leaves together with kExitPreempted.
  void preempt(int epoch, bool complete, int64_t offset, const StepAgreement& a, bool write = true) {
    preempted_by_ = fmt::format("{} on rank {}", signal_name(a.stop_signal), a.stop_rank);
    if (rank0_)
      spdlog::warn("{}: stopping at epoch {} step {} with a checkpoint; exit {}, continue with --resume auto", preempted_by_, epoch,
                   global_step_, kExitPreempted);
    if (write) save_periodic(epoch, complete, offset);
    comm_.barrier();  // the checkpoint is on disk before any rank exits (a launcher kills the rest when one does)
  }

  TrainState state(int epoch, bool complete, int64_t offset) const {
    return {epoch, complete, global_step_, offset, comm_.size(), c_.train.batch_size, c_.train.accum_steps, c_.train.seed,
            c_.optimizer.name, schedule_->state(), stopper_->state(), scaler_.state(), config_to_json(c_), {},
            bundle().source->class_names()};
  }

  // Collective: every rank's {training loss sum, hits, images of this epoch so far, images skipped}
  // on rank 0, exactly (each rank fills its own row of a zeroed matrix; a sum with zeros is exact).
  std::vector<std::vector<double>> gather_rank_progress() {
    constexpr size_t kFields = 4;
    std::vector<double> all(static_cast<size_t>(comm_.size()) * kFields, 0.0);
    const double mine[kFields] = {epoch_sums_.train_loss_sum, epoch_sums_.train_correct, epoch_sums_.train_count,
                                  static_cast<double>(skipped_)};
    std::copy(mine, mine + kFields, all.begin() + static_cast<std::ptrdiff_t>(comm_.rank() * kFields));
    all = comm_.allreduce_values(all, distributed::ReduceOp::kSum);
    std::vector<std::vector<double>> rows;
    for (int r = 0; r < comm_.size(); ++r) rows.emplace_back(all.begin() + r * kFields, all.begin() + (r + 1) * kFields);
    return rows;
  }

  // What this rank carries on with from a checkpoint's rank_progress: its own row when the world
  // size is the one that wrote it; otherwise rank 0 takes the totals (the epoch's sums stay right,
  // their rounding may differ).
  void restore_rank_progress(const TrainState& s) {
    const auto& rows = s.rank_progress;
    if (rows.empty()) return;
    std::vector<double> mine(4, 0.0);
    if (static_cast<int>(rows.size()) == comm_.size()) {
      mine = rows[comm_.rank()];
    } else if (rank0_) {
      for (const auto& row : rows)
        for (size_t k = 0; k < mine.size() && k < row.size(); ++k) mine[k] += row[k];
    }
    mine.resize(4, 0.0);
    if (!s.epoch_complete) resumed_sums_.train_loss_sum = mine[0], resumed_sums_.train_correct = mine[1], resumed_sums_.train_count = mine[2];
    skipped_ = static_cast<int64_t>(mine[3]);
  }

  void save_periodic(int epoch, bool complete, int64_t offset) {
    if (!complete) average_bn_buffers();  // collective: every rank is at this step
    TrainState s = state(epoch, complete, offset);
    s.rank_progress = gather_rank_progress();  // collective
    write_agreed([&] { return save_periodic_checkpoint(dir_.checkpoints().string(), c_.checkpoint.keep_last, *model_, *optimizer_, s); },
                 fmt::format("epoch {}{}, step {}", epoch, complete ? " complete" : "", global_step_));
  }

  // Collective: rank 0 runs `write` (a checkpoint save returning its path) and every rank learns
  // whether it worked, in one broadcast. A failure (a full disk, a quota) leaves the earlier
  // checkpoints and `latest` as they were (io::write_checkpoint removes its temporary files); then
  // checkpoint.on_error=fail stops every rank with one message and exit 1, warn logs it and the run
  // goes on, trying again at the next checkpoint.
  void write_agreed(const std::function<std::string()>& write, const std::string& what) {
    std::string path, error;
    if (rank0_) {
      try {
        path = write();
      } catch (const Error& e) {
        error = e.what();
      }
    }
    if (comm_.broadcast_value(error.empty() ? 0 : 1, 0) == 0) {
      if (rank0_) spdlog::info("checkpoint {} ({})", path, what);
      return;
    }
    if (c_.checkpoint.on_error == OnCheckpointError::kWarn) {
      if (rank0_) spdlog::warn("checkpoint not written: {}; training goes on (checkpoint.on_error=warn), the next checkpoint tries again", error);
      return;
    }
    throw distributed::AgreedExit(rank0_ ? fmt::format("checkpoint not written: {} (earlier checkpoints are intact; "
                                                       "checkpoint.on_error=warn trains on instead)", error)
                                         : "",
                                  1);
  }

  void resume() {
    std::vector<std::string> notes;
    const std::string path = resolve_checkpoint(resume_, CheckpointPick::kLatest, &notes);
    for (const auto& n : notes) spdlog::warn("{}", n);
    const TrainState s = load_train_checkpoint(path, *model_, *optimizer_, c_.optimizer.name);
    schedule_->load(s.scheduler);
    stopper_->load(s.early_stopping);
    scaler_.load(s.grad_scaler);
    global_step_ = s.global_step;
    start_epoch_ = s.resume_epoch();
    start_offset_ = s.resume_offset();
    current_lr_ = schedule_->lr_at(start_epoch_);  // every rank loaded the same schedule state
    restore_rank_progress(s);
    if (stopper_->has_best())
      if (const auto best = best_checkpoint(dir_.checkpoints().string())) best_state_ = io::read_checkpoint(*best).model;
    resumed_from_ = path;
    spdlog::info("resumed from {}: epoch {}{}, global step {}, saved by {} rank(s), now {}", path, start_epoch_,
                 start_offset_ ? fmt::format(" at sample {}", start_offset_) : "", global_step_, s.world_size, comm_.size());
  }

  void finish(const std::string& reason) {
    average_bn_buffers();
    int weights_epoch = -1;
    if (c_.early_stopping.restore_best && !best_state_.empty()) {
      model::load_weights(*model_, best_state_, "best weights");
      weights_epoch = stopper_->best_epoch();
    }
    if (!bundle().split.test.empty())
      log_->test(evaluate(*model_, bundle().source, bundle().split.test, comm_, eval_options(true, "test")), weights_epoch,
                 bundle().synthetic);
    else if (rank0_)  // no test record at all in metrics.jsonl: a missing split is not an accuracy of 0
      spdlog::info("no test split in {}: nothing evaluated", bundle().source->describe());
    log_->end(reason, global_step_, seconds_since(start_time_), dir_.root.string());
  }

  // What the run is: config, run directory, where it resumes from, and its place in the job.
  Config c_;
  RunDir dir_;
  std::string resume_;  // "" (a fresh run), a checkpoint directory, or a run directory (its latest)
  distributed::Communicator& comm_;
  torch::Device device_;
  bool rank0_;          // rank 0 logs, writes metrics and checkpoints
  ForwardOptions fwd_;  // device, channels-last and autocast as this device allows

  // The pieces of the training step, built by setup_local() and setup().
  std::unique_ptr<TrainData> data_;  // dataset, split, samplers, loaders
  model::EfficientNet model_{nullptr};
  std::vector<at::Tensor> trainable_;  // the parameters the optimizer and the synchronizer see
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<LrSchedule> schedule_;
  std::unique_ptr<EarlyStopping> stopper_;
  GradScaler scaler_;
  std::unique_ptr<distributed::GradientSynchronizer> sync_;
  std::unique_ptr<TrainStep> step_;  // one optimizer step's compute (shared with `finch bench step`)
  MetricsWriter metrics_;  // rank 0's metrics.jsonl (disabled elsewhere)
  std::unique_ptr<RunLog> log_;  // log lines and metrics.jsonl records

  // Progress, saved in checkpoints (TrainState) or reported at epoch ends.
  int start_epoch_ = 0;
  int64_t start_offset_ = 0;        // global samples of start_epoch_ a resumed run skips
  int64_t global_step_ = 0;         // optimizer steps taken (skipped NaN/overflow steps excluded)
  int64_t stopped_at_offset_ = 0;   // global samples of the epoch consumed when max_steps stopped it
  int64_t skipped_ = 0;             // images left out for data.on_error=skip, this rank
  bool progress_bar_ = false;       // logging.progress: bars instead of step lines (rank 0)
  double data_wait_s_ = 0;          // this epoch: time this rank waited for its loader's next batch
  double train_s_ = 0;              // this epoch: time of the training steps (no validation)
  LocalSums epoch_sums_;            // this rank's training loss, hits and images of the current epoch
  LocalSums resumed_sums_;          // ... of start_epoch_'s steps before a mid-epoch checkpoint
  double current_lr_ = 0;           // decided at the last epoch end, identical on every rank
  io::NamedTensors best_state_;     // weights of the best epoch (early_stopping.restore_best)
  std::string resumed_from_;
  std::vector<std::string> input_notes_;  // where the keys resolved from weights and data came from
  NanFault nan_fault_;              // FINCH_FAULT_NAN (tests)
  SignalFault signal_fault_;        // FINCH_FAULT_SIGNAL (tests)
  std::string preempted_by_;        // "SIGTERM on rank 1" once the ranks agreed to stop on a signal
  Clock::time_point start_time_, epoch_start_;
};

}  // namespace

int run_training(const TrainRequest& request, distributed::RunContext& context) {
  StopSignals stop_signals;  // from here on a stop signal ends the run resumably
  Trainer trainer(request, context);
  distributed::run_agreed(*context.comm, [&] { trainer.setup_local(); });
  if (request.open_run_dir) request.open_run_dir(trainer.config());
  return trainer.run();
}

}  // namespace finch::train
