// The training loop (trainer.h). What it is made of lives elsewhere: the step's parts and the step
// itself in step_parts (Note [One step assembly]), saving in the Checkpointer (Note [Checkpoint
// calls are collective]), epoch-end decisions in decisions, log lines and metrics.jsonl in RunLog,
// the data side in TrainData. Here: setup, the epochs, their steps, their ends, and the finish.
#include "finch/train/trainer.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "finch/core/atomic_file.h"
#include "finch/core/clock.h"
#include "finch/core/error.h"
#include "finch/core/metrics.h"
#include "finch/core/seed.h"
#include "finch/core/tensorboard.h"
#include "finch/core/trace.h"
#include "finch/distributed/agree.h"
#include "finch/distributed/grad_sync.h"
#include "finch/model/weights.h"
#include "finch/train/bn_stats.h"
#include "finch/train/checkpointer.h"
#include "finch/train/decisions.h"
#include "finch/train/evaluate.h"
#include "finch/train/fault_injection.h"
#include "finch/train/optim.h"
#include "finch/train/run_log.h"
#include "finch/train/schedule.h"
#include "finch/train/step_parts.h"
#include "finch/train/step_timeline.h"
#include "finch/train/stop_signals.h"
#include "finch/train/train_data.h"

namespace finch::train {
namespace {

class Trainer {
 public:
  Trainer(const TrainRequest& r, distributed::RunContext& ctx)
      : c_(r.config), dir_(r.run_dir), resume_(r.resume), force_(r.force), comm_(*ctx.comm), device_(ctx.device), rank0_(comm_.rank() == 0) {}

  // Everything each rank does on its own (data, model, optimizer, resume): run under
  // distributed::run_agreed, so a bad dataset or checkpoint stops every rank with one message.
  void setup_local() {
    // Keys left to the inputs (model.classes 0, padding auto, normalisation null) are resolved once,
    // here, before the data path and the model are built from them; c_ is the resolved config from
    // now on (config.json, checkpoints).
    data_ = open_train_data(c_, comm_.rank(), comm_.size(), device_, &input_notes_);
    parts_ = build_step_parts(c_, device_);
    schedule_ = std::make_unique<LrSchedule>(c_.scheduler, c_.optimizer.lr, c_.train.epochs);
    stopper_ = std::make_unique<EarlyStopping>(c_.early_stopping);
    checkpointer_ = std::make_unique<Checkpointer>(c_, dir_, comm_, CheckpointedParts{*parts_->model, *parts_->optimizer, *schedule_, *stopper_, parts_->scaler, parts_->ema.get()},
                                                   data_->bundle().source->class_names());
    if (!resume_.empty()) resume();
    current_lr_ = schedule_->lr_at(start_epoch_);  // every rank loaded the same schedule state
    // Test hooks read here, with everything else a rank checks alone: a bad value stops every rank
    // before the run directory exists (it once left a run behind that refused the corrected command).
    nan_fault_ = NanFault::from_env(comm_.rank());
    signal_fault_ = SignalFault::from_env(comm_.rank());
  }

  const Config& config() const { return c_; }

  // The epochs; returns the exit code (trainer.h).
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
  model::EfficientNetImpl& model() { return *parts_->model; }
  // The weights validation and the test evaluate: the EMA's with train.ema (Note [EMA weights]).
  torch::nn::Module& evaluated() { return parts_->ema ? parts_->ema->module() : static_cast<torch::nn::Module&>(model()); }
  model::EfficientNetImpl& evaluated_net() { return parts_->ema ? *parts_->ema->module().as<model::EfficientNetImpl>() : model(); }

  // Collective part of the setup (every rank gets here together; the run directory exists now).
  void setup() {
    if (rank0_) {
      metrics_ = MetricsWriter(dir_.metrics_file().string());
      open_tensorboard();
      std::string names;
      for (const auto& n : bundle().source->class_names()) names += n + "\n";
      write_file_atomically(dir_.classes_file(), names);
    }
    connect_step_parts(*parts_, c_, comm_);
    progress_bar_ = c_.logging.progress == Progress::kOn || (c_.logging.progress == Progress::kAuto && isatty(fileno(stderr)));
    log_ = std::make_unique<RunLog>(comm_, metrics_, RunLogOptions{c_.logging.every_steps, progress_bar_});
    timeline_ = std::make_unique<StepTimeline>(c_.logging.trace_steps, dir_.root, comm_);
    log_->start(c_, bundle(), model(), parts_->sync->num_buckets(), device_, resumed_from_, data_->sampler(start_epoch_).batches(),
                global_step_ + 1);
    if (rank0_) spdlog::info("input: {} | memory format: {}", fmt::join(input_notes_, "; "), parts_->memory_format);
    start_time_ = Clock::now();
  }

  // logging.tensorboard (rank 0): the event file mirrors metrics.jsonl from here on; a resumed run's
  // starts at its first new step (Note [TensorBoard across a resume]). The resolved config is its text.
  void open_tensorboard() {
    if (!c_.logging.tensorboard) return;
    if (!TensorBoardWriter::available()) {
      spdlog::warn("logging.tensorboard: {}", TensorBoardWriter::unavailable_message());
      return;
    }
    try {  // an aid, not the record (metrics.jsonl is): a folder that cannot be made warns, the run goes on
      auto tb = std::make_shared<TensorBoardWriter>(dir_.tensorboard(), resumed_from_.empty() ? -1 : global_step_ + 1);
      tb->text("config", "```json\n" + config_to_json(c_).dump(2) + "\n```", global_step_);
      metrics_.mirror_to(std::move(tb));
    } catch (const Error& e) {
      spdlog::warn("logging.tensorboard: {}; no TensorBoard events this run (metrics.jsonl has every scalar)", e.what());
    }
  }

  Outcome train_epoch(int epoch) {
    const auto s = data_->sampler(epoch);
    const int64_t offset = epoch == start_epoch_ ? start_offset_ : 0;
    auto batches = data_->train_batches(s.indices(offset), epoch, parts_->forward.channels_last);
    model().train();
    const int64_t steps = s.batches(offset);
    const int64_t first_step = offset / s.step_samples();  // this epoch's steps a resumed run skips
    epoch_start_ = Clock::now();
    data_wait_s_ = 0;
    if (epoch != start_epoch_ || offset == 0) progress_ = progress_.next_epoch();  // else: the resumed epoch's sums go on
    log_->start_epoch(epoch, first_step + steps);  // a resumed epoch counts its steps as the whole epoch does
    auto leave = [&](Outcome o) {
      log_->end_steps();
      progress_.skipped += batches.skipped();
      train_s_ = seconds_since(epoch_start_);
      return o;
    };
    const int64_t per_epoch = updates_per_epoch_ = s.batches(0);  // optimizer updates in a whole epoch
    for (int64_t step = 0; step < steps; ++step) {
      // current_lr_: decided at the last epoch end, identical on every rank; or the step's own.
      set_step_lr(*parts_, *schedule_, current_lr_, epoch, first_step + step, per_epoch);
      timeline_->before_step(global_step_ + 1);
      const TakenStep t = take_step(*parts_, comm_, c_.train.seed, {epoch, first_step + step, global_step_}, [&]() -> std::optional<data::Batch> {
        const auto asked = Clock::now();
        auto batch = batches.next();
        data_wait_s_ += seconds_since(asked);
        if (!batch) throw RuntimeError(fmt::format("rank {}: the loader ran out of batches at step {} of epoch {}", comm_.rank(), step, epoch));
        return batch;
      }, [&](StepSums& sums) {  // fault injection (tests): a poisoned loss, a real signal
        if (nan_fault_.fires(comm_.rank(), global_step_ + 1)) sums.loss_sum = std::nan("");
        signal_fault_.maybe_raise(comm_.rank(), global_step_ + 1);
      });
      progress_.correct += t.sums.correct;
      if (!t.agreed.nonfinite_ranks.empty()) {
        log_->nonfinite(epoch, step, global_step_, t.agreed.nonfinite_ranks, c_.train.on_nan);
        if (c_.train.on_nan == OnNan::kStop) return Outcome::kNan;
      } else if (t.applied) {
        ++global_step_;
        progress_.loss_sum += t.sums.loss_sum;
        progress_.images += t.sums.images;
        log_->step(first_step + step, global_step_, t.sums.loss_sum, t.sums.images, get_lr(*parts_->optimizer, parts_->lr_scales), parts_->scaler);
      }
      const TrainPosition here{epoch, false, global_step_, offset + (step + 1) * s.step_samples()};  // skipped steps consumed samples too
      const bool epoch_ends = step + 1 == steps;
      // A stop signal is honoured once this step is complete (its forward already moved the
      // BatchNorm statistics), so the checkpoint is exactly the state the next step starts from.
      // On the epoch's last step, end_epoch() honours it after validation and the epoch checkpoint.
      if (t.agreed.stop_signal != 0 && !epoch_ends) {
        leave(Outcome::kPreempted);
        preempt(here, t.agreed);
        return Outcome::kPreempted;
      }
      if (!t.applied) continue;
      checkpointer_->step_end_collective(here, progress_, epoch_ends);
      timeline_->after_step(global_step_);
      if (c_.train.max_steps > 0 && global_step_ >= c_.train.max_steps) {
        stopped_at_offset_ = here.sample_offset;  // where a resume continues
        return leave(Outcome::kMaxSteps);
      }
    }
    return leave(Outcome::kDone);
  }

  // Collective: every rank's BatchNorm running statistics averaged, unless dist.broadcast_buffers is off.
  void average_bn_buffers() {
    if (c_.dist.broadcast_buffers) average_buffers(model(), comm_);
  }
  // The EMA's (each rank's average of its own statistics), where the model's are averaged.
  void average_ema_buffers() {
    if (parts_->ema && c_.dist.broadcast_buffers) average_buffers(parts_->ema->module(), comm_);
  }

  // BatchNorm statistics ready for validation and checkpoints (bn_stats.h): averaged over ranks, or
  // with Precise BN recomputed for the weights validated, the model's and the EMA's (its statistics
  // then match its own weights, not the average of the model's; Note [EMA weights]).
  void settle_bn_stats(int epoch) {
    if (c_.train.precise_bn_batches <= 0) {
      average_bn_buffers();
      average_ema_buffers();
      return;
    }
    precise_bn_stats(model(), epoch);
    if (parts_->ema) precise_bn_stats(evaluated_net(), epoch);
  }

  void precise_bn_stats(model::EfficientNetImpl& net, int epoch) {
    auto positions = data_->precise_bn_sampler(epoch).indices();
    positions.resize(std::min<size_t>(positions.size(), static_cast<size_t>(c_.train.precise_bn_batches) * c_.train.batch_size));
    auto batches = data_->train_batches(positions, epoch, parts_->forward.channels_last);
    // Train-mode forwards draw dropout and stochastic-depth masks: their own stream, so the
    // statistics do not depend on where the run was resumed.
    torch::manual_seed(derive_seed(c_.train.seed, {seed_stream::kPreciseBnDropout, static_cast<uint64_t>(epoch), static_cast<uint64_t>(comm_.rank())}));
    precise_bn(net, [&]() -> std::optional<at::Tensor> {
      auto b = batches.next();
      return b ? std::optional<at::Tensor>(model_input(b->images, parts_->forward)) : std::nullopt;
    }, comm_);
  }

  // Validation and test batches, with a progress bar where training draws one.
  EvalOptions eval_options(bool per_class, const std::string& label) const {
    EvalOptions o = data_->eval_options(per_class, parts_->forward.channels_last);
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
    r.val_is_ema = parts_->ema != nullptr;
    std::optional<trace::Span> validation;
    validation.emplace("validation");
    if (r.has_val) r.val = evaluate(evaluated_net(), bundle().source, bundle().split.val, comm_, eval_options(false, fmt::format("val {}", epoch)));
    if (r.has_val && r.val_is_ema && c_.train.ema.validate == EmaValidate::kBoth)
      r.model_val = evaluate(model(), bundle().source, bundle().split.val, comm_, eval_options(false, fmt::format("val {} (model)", epoch)));
    validation.reset();
    // evaluate() already reduced the validation sums; only rank 0 passes them on, so that the
    // reduction below counts them once.
    LocalSums local{progress_.loss_sum, progress_.correct, progress_.images};
    if (rank0_ && r.has_val) local.val_loss_sum = r.val.loss_sum, local.val_correct = r.val.correct1, local.val_count = r.val.count;
    r.metrics = reduce_epoch_metrics(comm_, local);
    r.skipped = comm_.allreduce_value(static_cast<double>(progress_.skipped), distributed::ReduceOp::kSum);
    // The rank that waited most for its loader says how far the input pipeline holds the job back.
    r.data_wait = comm_.allreduce_value(data_wait_s_ / std::max(1e-9, train_s_), distributed::ReduceOp::kMax);
    r.lr_used = schedule_->per_step() ? get_lr(*parts_->optimizer, parts_->lr_scales) : current_lr_;  // per step: the epoch's last
    const Decision d = decide(comm_, r.metrics, *schedule_, *stopper_, c_.scheduler, c_.early_stopping, epoch);
    current_lr_ = r.next_lr = d.next_lr;
    if (schedule_->per_step()) r.next_lr = schedule_->lr_at_update((epoch + 1) * updates_per_epoch_, updates_per_epoch_);  // the next epoch's first
    r.improved = d.improved;
    r.global_step = global_step_;
    r.has_best = stopper_->has_best(), r.best = stopper_->best(), r.best_epoch = stopper_->best_epoch();
    r.seconds = seconds_since(epoch_start_);
    log_->epoch(r);

    const TrainPosition here{epoch, !partial, global_step_, partial ? stopped_at_offset_ : 0};
    const bool saved = checkpointer_->epoch_end_collective(here, progress_, d.improved, d.stop || partial || epoch + 1 == c_.train.epochs);
    // A stop signal during validation or the checkpoint write is honoured here, not an epoch later.
    if (const StepAgreement a = agree_step(comm_, true, StopSignals::received()); a.stop_signal != 0) {
      preempt(here, a, /*write=*/!saved);
      return true;
    }
    if (d.stop)
      spdlog::info("early stopping: {} has not improved for {} epochs (best {:.4f} at epoch {})", choice_name(c_.early_stopping.monitor),
                   c_.early_stopping.patience, stopper_->best(), stopper_->best_epoch());
    return d.stop;
  }

  // Collective. A stop signal reached some rank: a checkpoint of where the run stands (unless one
  // was just written), then every rank leaves together with kExitPreempted.
  void preempt(const TrainPosition& here, const StepAgreement& a, bool write = true) {
    preempted_by_ = fmt::format("{} on rank {}", signal_name(a.stop_signal), a.stop_rank);
    if (rank0_)
      spdlog::warn("{}: stopping at epoch {} step {} with a checkpoint; exit {}, continue with --resume auto", preempted_by_, here.epoch,
                   global_step_, kExitPreempted);
    if (write) checkpointer_->save_now_collective(here, progress_);
    comm_.barrier();  // the checkpoint is on disk before any rank exits (a launcher kills the rest when one does)
  }

  void resume() {
    const Restored r = checkpointer_->restore(resume_, force_);
    global_step_ = r.global_step;
    start_epoch_ = r.start_epoch;
    start_offset_ = r.start_offset;
    progress_ = r.mine;
    resumed_from_ = r.path;
    spdlog::info("resumed from {}: epoch {}{}, global step {}, saved by {} rank(s), now {}", r.path, start_epoch_,
                 start_offset_ ? fmt::format(" at sample {}", start_offset_) : "", global_step_, r.saved_by_world, comm_.size());
  }

  void finish(const std::string& reason) {
    timeline_->close();  // the range went past the run's end: what was recorded
    average_bn_buffers();
    average_ema_buffers();
    int weights_epoch = -1;
    if (c_.early_stopping.restore_best && !checkpointer_->best_weights().empty()) {
      model::load_weights(evaluated(), checkpointer_->best_weights(), "best weights");
      weights_epoch = stopper_->best_epoch();
    }
    if (!bundle().split.test.empty())
      log_->test(evaluate(evaluated_net(), bundle().source, bundle().split.test, comm_, eval_options(true, "test")), weights_epoch,
                 bundle().synthetic, parts_->ema != nullptr);
    else if (rank0_)  // no test record at all in metrics.jsonl: a missing split is not an accuracy of 0
      spdlog::info("no test split in {}: nothing evaluated", bundle().source->describe());
    log_->end(reason, global_step_, seconds_since(start_time_), dir_.root.string());
  }

  // What the run is: config, run directory, where it resumes from, and its place in the job.
  Config c_;
  RunDir dir_;
  std::string resume_;  // "" (a fresh run), a checkpoint directory, or a run directory (its latest)
  bool force_;          // --force: newer checkpoints set aside rather than refused (checkpointer.h)
  distributed::Communicator& comm_;
  torch::Device device_;
  bool rank0_;  // rank 0 logs, writes metrics and checkpoints

  // Built by setup_local() and setup().
  std::unique_ptr<TrainData> data_;    // dataset, split, samplers, loaders
  std::unique_ptr<StepParts> parts_;   // model, optimizer, scaler, synchronizer, TrainStep
  std::unique_ptr<LrSchedule> schedule_;
  std::unique_ptr<EarlyStopping> stopper_;
  std::unique_ptr<Checkpointer> checkpointer_;
  MetricsWriter metrics_;              // rank 0's metrics.jsonl (disabled elsewhere)
  std::unique_ptr<StepTimeline> timeline_;  // logging.trace_steps
  std::unique_ptr<RunLog> log_;        // log lines and metrics.jsonl records

  // Progress, saved in checkpoints or reported at epoch ends.
  int start_epoch_ = 0;
  int64_t start_offset_ = 0;        // global samples of start_epoch_ a resumed run skips
  int64_t global_step_ = 0;         // optimizer steps taken (skipped NaN/overflow steps excluded)
  int64_t stopped_at_offset_ = 0;   // global samples of the epoch consumed when max_steps stopped it
  RankProgress progress_;           // this rank's sums of the current epoch, images skipped
  bool progress_bar_ = false;       // logging.progress: bars instead of step lines (rank 0)
  double data_wait_s_ = 0;          // this epoch: time this rank waited for its loader's next batch
  double train_s_ = 0;              // this epoch: time of the training steps (no validation)
  double current_lr_ = 0;           // decided at the last epoch end, identical on every rank
  int64_t updates_per_epoch_ = 1;   // optimizer steps in a whole epoch (scheduler.per_step)
  std::string resumed_from_;
  std::vector<std::string> input_notes_;  // where the keys resolved from weights and data came from
  NanFault nan_fault_;              // FINCH_FAULT_NAN (tests)
  SignalFault signal_fault_;        // FINCH_FAULT_SIGNAL (tests)
  std::string preempted_by_;        // "SIGTERM on rank 1" once the ranks agreed to stop on a signal
  Clock::time_point start_time_, epoch_start_;
};

}  // namespace

int run_training(const TrainRequest& request, distributed::RunContext& context) {
  // The stop-signal handlers were installed by the train command before MPI started
  // (cli::Command::stop_signals): a signal that came during the start is honoured here, before
  // the run directory exists (nothing to save yet), or at the first step boundary.
  Trainer trainer(request, context);
  distributed::run_agreed(*context.comm, [&] { trainer.setup_local(); });
  if (const int early = static_cast<int>(context.comm->allreduce_value(StopSignals::received(), distributed::ReduceOp::kMax)); early != 0) {
    if (context.comm->rank() == 0)
      spdlog::warn("{} before training began: stopping with nothing to save and no run directory created (exit {}; run the same "
                   "command again, or with --resume auto)", signal_name(early), kExitPreempted);
    return kExitPreempted;
  }
  if (request.open_run_dir) request.open_run_dir(trainer.config());
  return trainer.run();
}

}  // namespace finch::train
