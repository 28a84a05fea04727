#include "finch/train/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "finch/core/build_info.h"
#include "finch/core/error.h"
#include "finch/core/metrics.h"
#include "finch/core/seed.h"
#include "finch/core/torch_compat.h"
#include "finch/data/dataset.h"
#include "finch/data/loader.h"
#include "finch/data/sampler.h"
#include "finch/dist/agree.h"
#include "finch/dist/device.h"
#include "finch/dist/grad_sync.h"
#include "finch/io/checkpoint.h"
#include "finch/model/batchnorm.h"
#include "finch/model/build.h"
#include "finch/model/param_count.h"
#include "finch/model/weights.h"
#include "finch/train/decisions.h"
#include "finch/train/evaluate.h"
#include "finch/train/optim.h"
#include "finch/train/schedule.h"

namespace finch::train {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// SyncBatchNorm's reductions over the communicator.
class CommSum final : public model::CrossReplicaSum {
 public:
  explicit CommSum(dist::Communicator& c) : comm_(c) {}
  void sum(at::Tensor& t) override { comm_.allreduce(t, dist::ReduceOp::kSum); }

 private:
  dist::Communicator& comm_;
};

io::NamedTensors clone_state(const io::NamedTensors& s) {
  io::NamedTensors out;
  for (const auto& [n, t] : s) out.emplace_back(n, t.detach().clone());
  return out;
}

class Trainer {
 public:
  Trainer(const TrainRequest& r, dist::Communicator& comm, const dist::WorldInfo& world)
      : c_(r.config), dir_(r.run_dir), resume_(r.resume), comm_(comm), world_(world), rank0_(comm.rank() == 0),
        device_(r.device) {}

  // Everything each rank does on its own (data, model, optimizer, resume): run under
  // dist::run_agreed, so a bad dataset or checkpoint stops every rank with one message.
  void setup_local() {
    seed_everything(c_.train.seed);  // identical initial weights on every rank (and broadcast below anyway)
    bundle_ = data::open_dataset(c_.data, c_.train.seed);
    if (static_cast<int>(bundle_.source->class_names().size()) != c_.model.classes)
      throw ConfigError(fmt::format("key 'model.classes' is {} but the dataset '{}' has {} classes", c_.model.classes,
                                    c_.data.root, bundle_.source->class_names().size()));
    model_ = model::build_model(c_.model);
    model_->to(device_);
    if (channels_last())
      for (auto& p : model_->parameters())
        if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
    optimizer_ = make_optimizer(*model_, c_.optimizer);
    schedule_ = std::make_unique<LrSchedule>(c_.scheduler, c_.optimizer.lr, c_.train.epochs);
    stopper_ = std::make_unique<EarlyStopping>(c_.early_stopping);
    current_lr_ = schedule_->lr_at(0);
    if (!resume_.empty()) load_resume();
    if (rank0_) metrics_ = MetricsWriter(dir_.metrics_file().string());
  }

  int run() {
    setup();
    int exit_code = 0;
    std::string stop_reason = "max_epochs";
    for (int epoch = start_epoch_; epoch < c_.train.epochs; ++epoch) {
      const auto outcome = train_epoch(epoch);
      if (outcome == Outcome::kNan) {
        stop_reason = "non-finite loss";
        exit_code = 1;
        break;
      }
      const bool stop = end_epoch(epoch, outcome == Outcome::kMaxSteps);
      if (outcome == Outcome::kMaxSteps) {
        stop_reason = "train.max_steps";
        break;
      }
      if (stop) {
        stop_reason = "early stopping";
        break;
      }
    }
    finish(stop_reason);
    return exit_code;
  }

 private:
  enum class Outcome { kDone, kMaxSteps, kNan };

  // Collective part of the setup (every rank gets here together).
  void setup() {
    // Fault injection for tests: FINCH_FAULT_NAN=RANK:STEP makes that rank's loss NaN at that
    // global step (1-based), to check that every rank takes the same decision.
    if (const char* f = std::getenv("FINCH_FAULT_NAN")) {
      if (std::sscanf(f, "%d:%lld", &fault_nan_rank_, &fault_nan_step_) != 2)
        throw ConfigError(fmt::format("FINCH_FAULT_NAN='{}': expected RANK:STEP", f));
      if (rank0_) spdlog::warn("fault injection: rank {} will see a NaN loss at step {} (FINCH_FAULT_NAN)", fault_nan_rank_, fault_nan_step_);
    }
    if (c_.dist.sync_bn && comm_.size() > 1) model_->set_sync_batchnorm(std::make_shared<CommSum>(comm_));
    // Every replica starts from rank 0's weights and buffers.
    std::vector<at::Tensor> all;
    for (const auto& [n, t] : model::model_state(*model_)) all.push_back(t);
    dist::broadcast_tensors(comm_, all, 0);
    std::vector<at::Tensor> trainable;
    for (auto& p : model_->parameters())
      if (p.requires_grad()) trainable.push_back(p);
    sync_ = std::make_unique<dist::GradientSynchronizer>(comm_, trainable, c_.dist.bucket_mb);

    const auto counts = model::count_parameters(*model_);
    const int64_t global_batch = static_cast<int64_t>(comm_.size()) * c_.train.batch_size * c_.train.accum_steps;
    if (bundle_.synthetic && rank0_)
      spdlog::warn("data.root '{}' is a SYNTHETIC dataset generated by finch synth: these results are NOT CUB-200-2011 results",
                   c_.data.root);
    spdlog::info("finch {} | LibTorch {} | {} rank(s), backend {} | device {} | {} intra-op thread(s) per rank", FINCH_VERSION,
                 TORCH_VERSION, comm_.size(), comm_.backend(), dist::describe_device(device_), torch::get_num_threads());
    spdlog::info("data: {} | train {} / val {} / test {} images", bundle_.source->describe(), bundle_.split.train.size(),
                 bundle_.split.val.size(), bundle_.split.test.size());
    spdlog::info("model: {} ({} classes, freeze {}) | parameters: {} total, {} trainable | {} gradient bucket(s)",
                 model_->options().arch, c_.model.classes, c_.model.freeze, counts.total, counts.trainable, sync_->num_buckets());
    spdlog::info("batch: {} per rank x {} rank(s) x {} accumulation = {} global | optimizer {} lr {} | schedule {}",
                 c_.train.batch_size, comm_.size(), c_.train.accum_steps, global_batch, c_.optimizer.name, c_.optimizer.lr,
                 c_.scheduler.name);
    if (!device_.is_cuda() && c_.train.amp != "none") spdlog::warn("train.amp={} is ignored on CPU", c_.train.amp);
    if (amp() && c_.train.amp == "fp16" && !resumed_scale_) loss_scale_ = 65536.0;  // torch.cuda.amp.GradScaler's start
    metrics_.write({{"kind", "start"}, {"time", std::time(nullptr)}, {"world_size", comm_.size()}, {"arch", model_->options().arch},
                    {"params_total", counts.total}, {"params_trainable", counts.trainable}, {"freeze", c_.model.freeze},
                    {"train_images", bundle_.split.train.size()}, {"val_images", bundle_.split.val.size()},
                    {"test_images", bundle_.split.test.size()}, {"global_batch", global_batch}, {"synthetic", bundle_.synthetic},
                    {"resumed_from", resumed_from_}, {"device", device_.str()}});
    start_time_ = Clock::now();
  }

  bool channels_last() const { return c_.train.channels_last && device_.is_cuda(); }
  bool amp() const { return c_.train.amp != "none" && device_.is_cuda(); }

  // Training-transform batches of epoch `epoch` (the augmentation draws depend on it).
  data::LoaderOptions train_loader_options(int epoch) const {
    data::LoaderOptions lo;
    lo.batch_size = c_.train.batch_size;
    lo.workers = c_.data.workers;
    lo.prefetch = c_.data.prefetch;
    lo.transform = data::train_transform(c_.data);
    lo.skip_errors = c_.data.on_error == "skip";
    lo.seed = c_.train.seed;
    lo.epoch = epoch;
    lo.pin_memory = device_.is_cuda();
    return lo;
  }

  data::DistributedSampler sampler() const {
    data::SamplerOptions so;
    so.size = static_cast<int64_t>(bundle_.split.train.size());
    so.world = comm_.size();
    so.rank = comm_.rank();
    so.batch_size = c_.train.batch_size * c_.train.accum_steps;  // samples per rank per optimizer step
    so.drop_last = c_.data.drop_last;
    so.seed = c_.train.seed;
    return data::DistributedSampler(so);
  }

  Outcome train_epoch(int epoch) {
    auto s = sampler();
    s.set_epoch(epoch);
    const int64_t offset = epoch == start_epoch_ ? start_offset_ : 0;
    std::vector<int64_t> order;
    for (int64_t k : s.indices(offset)) order.push_back(bundle_.split.train[k]);
    data::BatchLoader loader(bundle_.source, order, train_loader_options(epoch));

    set_lr(*optimizer_, current_lr_);  // decided at the last epoch end, identical on every rank
    model_->train();
    // Dropout and stochastic depth: a stream per (seed, epoch, rank), so a resumed epoch repeats.
    torch::manual_seed(derive_seed(c_.train.seed, {0xd0, static_cast<uint64_t>(epoch), static_cast<uint64_t>(comm_.rank())}));

    const int64_t steps = s.batches(offset);
    epoch_start_ = Clock::now();
    epoch_loss_ = epoch_correct_ = epoch_count_ = 0;
    double interval_loss = 0, interval_count = 0;
    auto interval_start = Clock::now();
    const bool bar = rank0_ && (c_.logging.progress == "on" || (c_.logging.progress == "auto" && isatty(fileno(stderr))));
    const int accum = c_.train.accum_steps;
    for (int64_t step = 0; step < steps; ++step) {
      // Loss and hits accumulate on the device; one host read per optimizer step (not per micro-step).
      at::Tensor step_sums = torch::zeros({2}, torch::TensorOptions().dtype(torch::kDouble).device(device_));
      double step_count = 0;
      for (int micro = 0; micro < accum; ++micro) {
        auto batch = loader.next();
        if (!batch) throw RuntimeError(fmt::format("rank {}: the loader ran out of batches at step {} of epoch {}", comm_.rank(), step, epoch));
        auto x = batch->images.to(device_, /*non_blocking=*/true);
        if (channels_last()) x = x.contiguous(at::MemoryFormat::ChannelsLast);
        const auto y = batch->labels.to(device_, /*non_blocking=*/true);
        sync_->set_sync(micro == accum - 1);
        sync_->prepare();
        torch::Tensor loss, logits;
        {
          compat::CudaAutocast autocast(amp(), c_.train.amp == "fp16" ? at::kHalf : at::kBFloat16);
          logits = model_->forward(x);
          loss = torch::nn::functional::cross_entropy(
              logits.to(torch::kFloat), y, torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(c_.train.label_smoothing));
        }
        const double n = static_cast<double>(y.size(0));
        // The mean over the rank's micro-batch, scaled so accumulated gradients average over the step.
        (loss * (n / (static_cast<double>(c_.train.batch_size) * accum)) * loss_scale_).backward();
        sync_->finish();
        step_sums += torch::stack({loss.detach().to(torch::kDouble) * n, logits.detach().argmax(1).eq(y).sum().to(torch::kDouble)});
        step_count += n;
      }
      const auto host = step_sums.cpu();
      double step_loss = host[0].item<double>();
      if (fault_nan_rank_ == comm_.rank() && fault_nan_step_ == global_step_ + 1) {
        step_loss = std::nan("");
        fault_nan_rank_ = -1;  // once
      }
      const bool finite = std::isfinite(step_loss);
      epoch_correct_ += host[1].item<double>();
      // A non-finite loss anywhere is seen everywhere, and handled the same way everywhere.
      if (!all_finite(finite, epoch, step)) {
        if (c_.train.on_nan == "stop") return Outcome::kNan;
        optimizer_->zero_grad();
        continue;
      }
      if (loss_scale_ != 1.0 && !scaled_grads_finite()) {
        // fp16 overflow somewhere: every rank skips the step and halves the scale (GradScaler).
        loss_scale_ /= 2;
        good_steps_ = 0;
        ++overflows_;
        optimizer_->zero_grad();
        spdlog::debug("fp16 gradient overflow at step {}: loss scale now {}", global_step_, loss_scale_);
        continue;
      }
      if (loss_scale_ != 1.0) {
        for (auto& p : model_->parameters())
          if (p.grad().defined()) p.mutable_grad().div_(loss_scale_);
        if (++good_steps_ % 2000 == 0) loss_scale_ *= 2;
      }
      if (c_.train.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(model_->parameters(), c_.train.clip_grad_norm);
      optimizer_->step();
      optimizer_->zero_grad();
      ++global_step_;
      epoch_loss_ += step_loss;
      epoch_count_ += step_count;
      interval_loss += step_loss;
      interval_count += step_count;
      if (global_step_ % c_.logging.every_steps == 0 || step + 1 == steps) {
        const auto v = comm_.allreduce_values({interval_loss, interval_count}, dist::ReduceOp::kSum);
        const double ips = v[1] / std::max(1e-9, seconds_since(interval_start));
        nlohmann::ordered_json rec = {{"kind", "step"},         {"epoch", epoch},         {"step", global_step_},
                                      {"loss", v[0] / std::max(1.0, v[1])}, {"lr", get_lr(*optimizer_)}, {"images_per_s", ips},
                                      {"time", std::time(nullptr)}};
        if (loss_scale_ != 1.0) {  // fp16: the scaler's state, as GradScaler users watch it
          rec["loss_scale"] = loss_scale_;
          rec["overflows"] = overflows_;  // steps skipped for inf/NaN gradients since this process started
        }
        metrics_.write(rec);
        if (bar) {
          const int width = 30, done = static_cast<int>(width * (step + 1) / std::max<int64_t>(1, steps));
          std::fprintf(stderr, "\repoch %d [%s%s] %lld/%lld loss %.4f %.0f img/s  ", epoch, std::string(done, '#').c_str(),
                       std::string(width - done, '.').c_str(), static_cast<long long>(step + 1), static_cast<long long>(steps),
                       v[0] / std::max(1.0, v[1]), ips);
          std::fflush(stderr);
        } else {
          spdlog::info("epoch {} step {}/{} (global {}) loss {:.4f} lr {:.3g} {:.1f} img/s", epoch, step + 1, steps, global_step_,
                       v[0] / std::max(1.0, v[1]), get_lr(*optimizer_), ips);
        }
        interval_loss = interval_count = 0;
        interval_start = Clock::now();
      }
      if (c_.checkpoint.every_steps > 0 && global_step_ % c_.checkpoint.every_steps == 0 && step + 1 < steps)
        save_periodic(epoch, /*complete=*/false, offset + (step + 1) * s.step_samples());  // skipped steps consumed samples too
      if (c_.train.max_steps > 0 && global_step_ >= c_.train.max_steps) {
        if (bar) std::fprintf(stderr, "\n");
        skipped_ += loader.skipped();
        stopped_at_offset_ = offset + (step + 1) * s.step_samples();  // where a resume continues
        return Outcome::kMaxSteps;
      }
    }
    if (bar) std::fprintf(stderr, "\n");
    skipped_ += loader.skipped();
    return Outcome::kDone;
  }

  // One host sync for all gradients, then agreement over ranks.
  bool scaled_grads_finite() {
    std::vector<at::Tensor> sums;
    for (auto& p : model_->parameters())
      if (p.grad().defined()) sums.push_back(p.grad().abs().sum().to(torch::kFloat));
    const bool local = sums.empty() || torch::stack(sums).sum().isfinite().item<bool>();
    return comm_.allreduce_value(local ? 0.0 : 1.0, dist::ReduceOp::kMax) == 0.0;
  }

  bool all_finite(bool finite, int epoch, int64_t step) {
    const double bad = comm_.allreduce_value(finite ? 0.0 : 1.0, dist::ReduceOp::kSum);
    if (bad == 0) return true;
    std::vector<double> who(comm_.size(), 0.0);
    who[comm_.rank()] = finite ? 0 : 1;
    who = comm_.allreduce_values(who, dist::ReduceOp::kSum);
    std::string ranks;
    for (int r = 0; r < comm_.size(); ++r)
      if (who[r] > 0) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
    const bool stop = c_.train.on_nan == "stop";
    if (rank0_) {
      spdlog::error("non-finite loss at epoch {} step {} on rank(s) {}: {}", epoch, step, ranks,
                    stop ? "stopping (train.on_nan=stop)" : "skipping this step on every rank (train.on_nan=skip_step)");
      metrics_.write({{"kind", "nan"}, {"epoch", epoch}, {"step", global_step_}, {"ranks", ranks}, {"action", c_.train.on_nan}});
    }
    return false;
  }

  // BatchNorm running statistics differ per rank without SyncBN: average them before they are used
  // for validation or saved.
  void average_buffers() {
    if (comm_.size() == 1 || !c_.dist.broadcast_buffers) return;
    std::vector<at::Tensor> stats;
    for (const auto& b : model_->named_buffers())
      if (at::isFloatingType(b.value().scalar_type())) stats.push_back(b.value());
    comm_.allreduce(stats, dist::ReduceOp::kAvg);
  }

  // Precise BN (Wu & Johnson, "Rethinking Batch in BatchNorm", 2021; fvcore's PreciseBN): replace
  // the momentum-averaged running statistics with the plain average over N training batches of the
  // current weights (momentum 1/k for the k-th batch), then average over ranks.
  void precise_bn(int epoch) {
    const int n = c_.train.precise_bn_batches;
    if (n <= 0) return;
    std::vector<model::BatchNorm2dImpl*> bns;
    for (auto& m : model_->modules(/*include_self=*/false))
      if (auto* b = m->as<model::BatchNorm2dImpl>()) bns.push_back(b);
    auto s = sampler();
    s.set_epoch(epoch + 100003);  // its own order, independent of the training one
    std::vector<int64_t> order;
    for (int64_t k : s.indices()) order.push_back(bundle_.split.train[k]);
    order.resize(std::min<size_t>(order.size(), static_cast<size_t>(n) * c_.train.batch_size));
    data::BatchLoader loader(bundle_.source, order, train_loader_options(epoch));
    std::vector<double> momentum;
    std::vector<at::Tensor> tracked;
    for (auto* b : bns) {
      momentum.push_back(b->momentum);
      tracked.push_back(b->num_batches_tracked.clone());
    }
    const bool was_training = model_->is_training();
    model_->train();  // eval-kept (bn_eval) layers stay in eval: their statistics are not touched
    torch::NoGradGuard no_grad;
    int k = 0;
    while (auto batch = loader.next()) {
      ++k;
      for (auto* b : bns) b->momentum = 1.0 / k;
      auto x = batch->images.to(device_);
      if (channels_last()) x = x.contiguous(at::MemoryFormat::ChannelsLast);
      model_->forward(x);
    }
    for (size_t i = 0; i < bns.size(); ++i) {
      bns[i]->momentum = momentum[i];
      bns[i]->num_batches_tracked.copy_(tracked[i]);
    }
    model_->train(was_training);
    if (comm_.size() > 1) {  // every rank's average counts (a collective even when sync_bn is on)
      std::vector<at::Tensor> stats;
      for (auto* b : bns) stats.insert(stats.end(), {b->running_mean, b->running_var});
      comm_.allreduce(stats, dist::ReduceOp::kAvg);
    }
  }

  // Returns true when the run should stop.
  bool end_epoch(int epoch, bool partial) {
    if (c_.train.precise_bn_batches > 0) precise_bn(epoch);
    else average_buffers();
    EvalTotals val;
    const bool has_val = !bundle_.split.val.empty();
    if (has_val) val = evaluate(*model_, bundle_.source, bundle_.split.val, comm_, eval_options(false));
    // evaluate() already reduced the validation sums; only rank 0 passes them on, so that the
    // reduction below counts them once.
    LocalSums local{epoch_loss_, epoch_correct_, epoch_count_, 0, 0, 0};
    if (rank0_ && has_val) local.val_loss_sum = val.loss_sum, local.val_correct = val.correct1, local.val_count = val.count;
    const EpochMetrics m = reduce_epoch_metrics(comm_, local);
    const double skipped = comm_.allreduce_value(static_cast<double>(skipped_), dist::ReduceOp::kSum);
    const double lr_used = current_lr_;
    const Decision d = decide(comm_, m, *schedule_, *stopper_, c_.scheduler, c_.early_stopping, epoch);
    current_lr_ = d.next_lr;
    const double next_lr = d.next_lr;
    const bool stop = d.stop, improved = d.improved;
    if (improved) best_state_ = clone_state(model::model_state(*model_));

    const double epoch_s = seconds_since(epoch_start_);
    spdlog::info("epoch {} done in {:.1f}s: train loss {:.4f} acc {:.4f} | val loss {:.4f} acc {:.4f} top5 {:.4f} | lr {:.3g} -> {:.3g}{}{}",
                 epoch, epoch_s, m.train_loss, m.train_acc, val.loss(), val.acc(), val.top5(),
                 lr_used, next_lr, improved ? " | new best" : "", skipped > 0 ? fmt::format(" | {} image(s) skipped", skipped) : "");
    metrics_.write({{"kind", "epoch"}, {"epoch", epoch}, {"step", global_step_}, {"train_loss", m.train_loss},
                    {"train_acc", m.train_acc}, {"val_loss", has_val ? nlohmann::json(val.loss()) : nlohmann::json()},
                    {"val_acc", has_val ? nlohmann::json(val.acc()) : nlohmann::json()},
                    {"val_top5", has_val ? nlohmann::json(val.top5()) : nlohmann::json()}, {"lr", lr_used},
                    {"epoch_time_s", epoch_s}, {"images_per_s", m.train_count / std::max(1e-9, epoch_s)},
                    {"best_metric", stopper_->has_best() ? nlohmann::json(stopper_->best()) : nlohmann::json()},
                    {"best_epoch", stopper_->best_epoch()}, {"skipped", skipped}, {"partial", partial}, {"time", std::time(nullptr)}});
    if (improved && c_.checkpoint.keep_best) save("best", epoch, true, 0);
    const bool periodic = c_.checkpoint.every_epochs > 0 && (epoch + 1) % c_.checkpoint.every_epochs == 0;
    const bool last = stop || partial || epoch + 1 == c_.train.epochs;
    if (periodic || last) save_periodic(epoch, !partial, partial ? stopped_at_offset_ : 0);
    if (stop)
      spdlog::info("early stopping: {} has not improved for {} epochs (best {:.4f} at epoch {})", c_.early_stopping.monitor,
                   c_.early_stopping.patience, stopper_->best(), stopper_->best_epoch());
    return stop;
  }

  EvalOptions eval_options(bool per_class) const {
    EvalOptions o;
    o.batch_size = c_.train.batch_size;
    o.workers = c_.data.workers;
    o.prefetch = c_.data.prefetch;
    o.transform = data::eval_transform(c_.data);
    o.device = device_;
    o.channels_last = channels_last();
    o.per_class = per_class;
    o.classes = c_.model.classes;
    return o;
  }

  nlohmann::json state_json(int epoch, bool complete, int64_t offset) const {
    return {{"epoch", epoch}, {"epoch_complete", complete}, {"global_step", global_step_}, {"sample_offset", offset},
            {"world_size", comm_.size()}, {"batch_size", c_.train.batch_size}, {"accum_steps", c_.train.accum_steps},
            {"seed", c_.train.seed}, {"optimizer", c_.optimizer.name}, {"scheduler", schedule_->state()}, {"loss_scale", loss_scale_},
            {"early_stopping", stopper_->state()}, {"config", config_to_json(c_)},
            {"versions", {{"finch", FINCH_VERSION}, {"libtorch", TORCH_VERSION}}}, {"time", std::time(nullptr)}};
  }

  void save(const std::string& name, int epoch, bool complete, int64_t offset) {
    if (!rank0_) return;
    io::CheckpointData d{model::model_state(*model_), optimizer_state(*optimizer_, c_.optimizer.name), state_json(epoch, complete, offset)};
    io::write_checkpoint(dir_.checkpoints().string(), name, d);
  }

  void save_periodic(int epoch, bool complete, int64_t offset) {
    if (!complete) average_buffers();  // collective: every rank is here at the same step
    if (!rank0_) return;
    const auto name = io::periodic_name(global_step_);
    save(name, epoch, complete, offset);
    io::set_latest(dir_.checkpoints().string(), name);
    io::prune_checkpoints(dir_.checkpoints().string(), c_.checkpoint.keep_last);
    spdlog::info("checkpoint {} (epoch {}{}, step {})", (dir_.checkpoints() / name).string(), epoch, complete ? " complete" : "",
                 global_step_);
  }

  void load_resume() {
    std::string path = resume_;
    if (resume_ == "auto") {
      std::vector<std::string> notes;
      path = io::find_latest_checkpoint(dir_.checkpoints().string(), &notes);
      for (const auto& n : notes) spdlog::warn("{}", n);
      if (path.empty()) throw RuntimeError(fmt::format("--resume auto: no intact checkpoint in {}", dir_.checkpoints().string()));
    }
    const auto ck = io::read_checkpoint(path);
    model::load_weights(*model_, ck.model, path + "/model.safetensors");
    load_optimizer_state(*optimizer_, c_.optimizer.name, ck.optimizer);
    const auto& s = ck.state;
    schedule_->load(s.at("scheduler"));
    stopper_->load(s.at("early_stopping"));
    global_step_ = s.at("global_step");
    if (s.contains("loss_scale") && amp() && c_.train.amp == "fp16") loss_scale_ = s["loss_scale"], resumed_scale_ = true;
    const int epoch = s.at("epoch");
    const bool complete = s.at("epoch_complete");
    start_epoch_ = complete ? epoch + 1 : epoch;
    start_offset_ = complete ? 0 : s.at("sample_offset").get<int64_t>();
    current_lr_ = schedule_->lr_at(start_epoch_);  // every rank loaded the same schedule state
    const auto best_dir = dir_.checkpoints() / "best";
    if (stopper_->has_best() && std::filesystem::exists(best_dir / "state.json")) best_state_ = io::read_checkpoint(best_dir.string()).model;
    resumed_from_ = path;
    spdlog::info("resumed from {}: epoch {}{}, global step {}, saved by {} rank(s), now {}", path, start_epoch_,
                 start_offset_ ? fmt::format(" at sample {}", start_offset_) : "", global_step_, s.at("world_size").get<int>(),
                 comm_.size());
  }

  void finish(const std::string& reason) {
    average_buffers();
    int weights_epoch = -1;
    if (c_.early_stopping.restore_best && !best_state_.empty()) {
      model::load_weights(*model_, best_state_, "best weights");
      weights_epoch = stopper_->best_epoch();
    }
    if (!bundle_.split.test.empty()) {
      const auto t = evaluate(*model_, bundle_.source, bundle_.split.test, comm_, eval_options(true));
      spdlog::info("test ({} weights{}): loss {:.4f} top-1 {:.4f} top-5 {:.4f} mean per-class {:.4f} on {} images",
                   weights_epoch >= 0 ? "best" : "last", weights_epoch >= 0 ? fmt::format(", epoch {}", weights_epoch) : "", t.loss(),
                   t.acc(), t.top5(), t.mean_class_acc(), static_cast<int64_t>(t.count));
      metrics_.write({{"kind", "test"}, {"weights", weights_epoch >= 0 ? "best" : "last"}, {"weights_epoch", weights_epoch},
                      {"test_loss", t.loss()}, {"test_acc", t.acc()}, {"test_top5", t.top5()},
                      {"test_mean_class_acc", t.mean_class_acc()}, {"test_images", t.count}, {"synthetic", bundle_.synthetic}});
    }
    const double wall = seconds_since(start_time_);
    spdlog::info("done ({}): {} steps in {:.1f}s | run directory {}", reason, global_step_, wall, dir_.root.string());
    metrics_.write({{"kind", "end"}, {"reason", reason}, {"steps", global_step_}, {"wall_s", wall}, {"time", std::time(nullptr)}});
  }

  Config c_;
  RunDir dir_;
  std::string resume_;
  dist::Communicator& comm_;
  dist::WorldInfo world_;
  bool rank0_;
  torch::Device device_;
  data::DatasetBundle bundle_;
  model::EfficientNet model_{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<LrSchedule> schedule_;
  std::unique_ptr<EarlyStopping> stopper_;
  std::unique_ptr<dist::GradientSynchronizer> sync_;
  MetricsWriter metrics_;
  io::NamedTensors best_state_;
  std::string resumed_from_;
  int start_epoch_ = 0;
  int64_t start_offset_ = 0, global_step_ = 0, skipped_ = 0;
  int64_t stopped_at_offset_ = 0;
  int fault_nan_rank_ = -1;
  long long fault_nan_step_ = -1;  // global samples of the epoch consumed when max_steps stopped it
  double epoch_loss_ = 0, epoch_correct_ = 0, epoch_count_ = 0;
  double loss_scale_ = 1.0;  // fp16 dynamic loss scale (1: no scaling)
  int64_t good_steps_ = 0;
  int64_t overflows_ = 0;  // fp16 steps skipped for non-finite gradients (reported in metrics)
  bool resumed_scale_ = false;
  double current_lr_ = 0;
  Clock::time_point start_time_, epoch_start_;
};

}  // namespace

int run_training(const TrainRequest& request, dist::Communicator& comm, const dist::WorldInfo& world) {
  Trainer trainer(request, comm, world);
  dist::run_agreed(comm, [&] { trainer.setup_local(); });
  return trainer.run();
}

}  // namespace finch::train
