#include "finch/train/schedule.h"

#include <cmath>

namespace finch::train {

LrSchedule::LrSchedule(const SchedulerConfig& config, double base_lr, int epochs)
    : c_(config), base_lr_(base_lr), epochs_(epochs), lr_(base_lr),
      best_(config.mode == MetricMode::kMin ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity()) {}

double LrSchedule::lr_at(int epoch) const {
  if (c_.name == SchedulerKind::kStep) return base_lr_ * std::pow(c_.gamma, epoch / c_.step_size);
  if (c_.name == SchedulerKind::kCosine) {
    if (epoch < c_.warmup_epochs) return base_lr_ * (epoch + 1) / static_cast<double>(c_.warmup_epochs);
    const double span = std::max(1, epochs_ - c_.warmup_epochs);
    const double t = std::min(1.0, (epoch - c_.warmup_epochs) / span);
    return c_.min_lr + (base_lr_ - c_.min_lr) * 0.5 * (1 + std::cos(M_PI * t));
  }
  return lr_;  // none: base lr; plateau: current
}

double LrSchedule::lr_at_update(int64_t t, int64_t per_epoch) const {
  // timm's Scheduler._get_lr for each kind, with its operations in its order.
  const double warmup_t = static_cast<double>(c_.warmup_epochs) * static_cast<double>(per_epoch);
  if (static_cast<double>(t) < warmup_t) {
    const double step = (base_lr_ - c_.warmup_lr) / warmup_t;
    return c_.warmup_lr + static_cast<double>(t) * step;
  }
  double tt = static_cast<double>(t);
  if (c_.warmup_prefix) tt -= warmup_t;
  if (c_.name == SchedulerKind::kStep) {
    const double decay_t = static_cast<double>(c_.step_size) * static_cast<double>(per_epoch);
    return base_lr_ * std::pow(c_.gamma, std::floor(tt / decay_t));
  }
  const double run = static_cast<double>(epochs_ - (c_.warmup_prefix ? c_.warmup_epochs : 0)) * static_cast<double>(per_epoch);
  const double t_initial = std::max(1.0, run);
  if (tt >= t_initial) return c_.min_lr;  // past the one cycle
  if (c_.name == SchedulerKind::kCosine) return c_.min_lr + 0.5 * (base_lr_ - c_.min_lr) * (1 + std::cos(M_PI * tt / t_initial));
  if (c_.name == SchedulerKind::kPoly) return c_.min_lr + (base_lr_ - c_.min_lr) * std::pow(1 - tt / t_initial, c_.power);
  return base_lr_;
}

bool LrSchedule::is_better(double a, double best) const {
  const bool rel = c_.threshold_mode == ThresholdMode::kRel;
  if (c_.mode == MetricMode::kMin) return rel ? a < best * (1 - c_.threshold) : a < best - c_.threshold;
  return rel ? a > best * (c_.threshold + 1) : a > best + c_.threshold;
}

double LrSchedule::observe(double metric) {
  if (!metric_driven()) return lr_;
  // torch.optim.lr_scheduler.ReduceLROnPlateau.step, line by line.
  if (is_better(metric, best_)) {
    best_ = metric;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    bad_epochs_ = 0;
  }
  if (bad_epochs_ > c_.patience) {
    const double new_lr = std::max(lr_ * c_.factor, c_.min_lr);
    if (lr_ - new_lr > 1e-8) lr_ = new_lr;
    cooldown_counter_ = c_.cooldown;
    bad_epochs_ = 0;
  }
  return lr_;
}

nlohmann::json LrSchedule::state() const {
  return {{"name", std::string(choice_name(c_.name))}, {"lr", lr_}, {"best", best_}, {"bad_epochs", bad_epochs_}, {"cooldown_counter", cooldown_counter_}};
}

void LrSchedule::load(const nlohmann::json& s) {
  lr_ = s.at("lr");
  best_ = s.at("best").is_null() ? best_ : s.at("best").get<double>();
  bad_epochs_ = s.at("bad_epochs");
  cooldown_counter_ = s.at("cooldown_counter");
}

EarlyStopping::EarlyStopping(const EarlyStoppingConfig& config)
    : c_(config), best_(config.mode == MetricMode::kMin ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity()) {}

bool EarlyStopping::observe(double metric, int epoch) {
  const bool better = c_.mode == MetricMode::kMin ? metric < best_ - c_.min_delta : metric > best_ + c_.min_delta;
  if (better) {
    best_ = metric;
    best_epoch_ = epoch;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  return better;
}

nlohmann::json EarlyStopping::state() const {
  return {{"best", has_best() ? nlohmann::json(best_) : nlohmann::json(nullptr)}, {"best_epoch", best_epoch_}, {"bad_epochs", bad_epochs_}};
}

void EarlyStopping::load(const nlohmann::json& s) {
  if (!s.at("best").is_null()) best_ = s.at("best");
  best_epoch_ = s.at("best_epoch");
  bad_epochs_ = s.at("bad_epochs");
}

}  // namespace finch::train
