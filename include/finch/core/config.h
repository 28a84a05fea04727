// The run configuration: typed sections filled from a JSON file plus `--set a.b=c` overrides.
//
// The schema (every key, its type, default, allowed range or values and its documentation) lives in
// one place, src/core/config_schema.cpp; parsing, defaults, the resolved config.json and the README
// table (`finch config --schema`) are all generated from it. Validation is strict: an unknown key, a
// wrong type or an out-of-range value is a ConfigError naming the key, before any work starts.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace finch {

// Every choice a config key offers is an enum, parsed once when the config is loaded; the names
// below are the ones the JSON and `--set` use (and the only place they are spelled).
enum class Activation { kReLU, kLeakyReLU, kSiLU };
enum class DataFormat { kAuto, kRaw, kPacked, kImageFolder, kCsv };
enum class ModelPadding { kAuto, kSymmetric, kTfSame };
enum class OnBadImage { kFail, kSkip };
enum class Amp { kNone, kBF16, kFP16 };
enum class Tta { kNone, kHflip };
enum class EmaValidate { kEma, kBoth };
enum class MixupMode { kBatch, kPair, kElem };
enum class ErasingMode { kConst, kRand, kPixel };
enum class AutoAugmentPolicy { kNone, kTrivialAugmentWide, kRandAugment, kAutoAugmentImagenet };
enum class OnNan { kStop, kSkipStep };
enum class OnCheckpointError { kFail, kWarn };
enum class DeviceRequest { kAuto, kCpu, kCuda };
enum class OptimizerKind { kAdam, kAdamW, kSgd };
enum class SchedulerKind { kNone, kStep, kPlateau, kCosine, kPoly };
enum class Metric { kValAcc, kValLoss, kTrainLoss };
enum class MetricMode { kMax, kMin };
enum class ThresholdMode { kRel, kAbs };
enum class LogLevel { kDebug, kInfo, kWarn };
enum class Progress { kAuto, kOn, kOff };
enum class Backend { kAuto, kNccl, kMpi };
enum class ChannelsLast { kAuto, kTrue, kFalse };

// ChoiceNames<E>::kAll: each value of E with its config name.
template <class E>
struct ChoiceNames;
#define FINCH_CHOICES(E, ...)                                                        \
  template <>                                                                        \
  struct ChoiceNames<E> {                                                            \
    static constexpr std::pair<E, std::string_view> kAll[] = {__VA_ARGS__};          \
  }
FINCH_CHOICES(Activation, {Activation::kReLU, "relu"}, {Activation::kLeakyReLU, "leaky_relu"}, {Activation::kSiLU, "silu"});
FINCH_CHOICES(DataFormat, {DataFormat::kAuto, "auto"}, {DataFormat::kRaw, "raw"}, {DataFormat::kPacked, "packed"},
              {DataFormat::kImageFolder, "imagefolder"}, {DataFormat::kCsv, "csv"});
FINCH_CHOICES(ModelPadding, {ModelPadding::kAuto, "auto"}, {ModelPadding::kSymmetric, "symmetric"}, {ModelPadding::kTfSame, "tf_same"});
FINCH_CHOICES(OnBadImage, {OnBadImage::kFail, "fail"}, {OnBadImage::kSkip, "skip"});
FINCH_CHOICES(Amp, {Amp::kNone, "none"}, {Amp::kBF16, "bf16"}, {Amp::kFP16, "fp16"});
FINCH_CHOICES(Tta, {Tta::kNone, "none"}, {Tta::kHflip, "hflip"});
FINCH_CHOICES(EmaValidate, {EmaValidate::kEma, "ema"}, {EmaValidate::kBoth, "both"});
FINCH_CHOICES(MixupMode, {MixupMode::kBatch, "batch"}, {MixupMode::kPair, "pair"}, {MixupMode::kElem, "elem"});
FINCH_CHOICES(ErasingMode, {ErasingMode::kConst, "const"}, {ErasingMode::kRand, "rand"}, {ErasingMode::kPixel, "pixel"});
FINCH_CHOICES(AutoAugmentPolicy, {AutoAugmentPolicy::kNone, "none"}, {AutoAugmentPolicy::kTrivialAugmentWide, "trivialaugment_wide"},
              {AutoAugmentPolicy::kRandAugment, "randaugment"}, {AutoAugmentPolicy::kAutoAugmentImagenet, "autoaugment_imagenet"});
FINCH_CHOICES(OnNan, {OnNan::kStop, "stop"}, {OnNan::kSkipStep, "skip_step"});
FINCH_CHOICES(OnCheckpointError, {OnCheckpointError::kFail, "fail"}, {OnCheckpointError::kWarn, "warn"});
FINCH_CHOICES(DeviceRequest, {DeviceRequest::kAuto, "auto"}, {DeviceRequest::kCpu, "cpu"}, {DeviceRequest::kCuda, "cuda"});
FINCH_CHOICES(OptimizerKind, {OptimizerKind::kAdam, "adam"}, {OptimizerKind::kAdamW, "adamw"}, {OptimizerKind::kSgd, "sgd"});
FINCH_CHOICES(SchedulerKind, {SchedulerKind::kNone, "none"}, {SchedulerKind::kStep, "step"}, {SchedulerKind::kPlateau, "plateau"},
              {SchedulerKind::kCosine, "cosine"}, {SchedulerKind::kPoly, "poly"});
FINCH_CHOICES(Metric, {Metric::kValAcc, "val_acc"}, {Metric::kValLoss, "val_loss"}, {Metric::kTrainLoss, "train_loss"});
FINCH_CHOICES(MetricMode, {MetricMode::kMax, "max"}, {MetricMode::kMin, "min"});
FINCH_CHOICES(ThresholdMode, {ThresholdMode::kRel, "rel"}, {ThresholdMode::kAbs, "abs"});
FINCH_CHOICES(LogLevel, {LogLevel::kDebug, "debug"}, {LogLevel::kInfo, "info"}, {LogLevel::kWarn, "warn"});
FINCH_CHOICES(Progress, {Progress::kAuto, "auto"}, {Progress::kOn, "on"}, {Progress::kOff, "off"});
FINCH_CHOICES(Backend, {Backend::kAuto, "auto"}, {Backend::kNccl, "nccl"}, {Backend::kMpi, "mpi"});
// Written as the JSON booleans true and false in configs (Note [Memory format]).
FINCH_CHOICES(ChannelsLast, {ChannelsLast::kAuto, "auto"}, {ChannelsLast::kTrue, "true"}, {ChannelsLast::kFalse, "false"});
#undef FINCH_CHOICES

// The config name of a choice ("fp16"), for logs, metrics and state.json.
template <class E>
std::string_view choice_name(E value) {
  for (const auto& [v, n] : ChoiceNames<E>::kAll)
    if (v == value) return n;
  return "?";
}

// The choice named `name`; nullopt when E has no such name.
template <class E>
std::optional<E> choice_from_name(std::string_view name) {
  for (const auto& [v, n] : ChoiceNames<E>::kAll)
    if (n == name) return v;
  return std::nullopt;
}

// The choice named `name`, or a ConfigError: "<what>: expected one of "a", "b", got "c"".
[[noreturn]] void throw_unknown_choice(const std::string& what, std::string_view got, const std::vector<std::string>& names);

template <class E>
E parse_choice(std::string_view name, const std::string& what) {
  if (auto v = choice_from_name<E>(name)) return *v;
  std::vector<std::string> names;
  for (const auto& [v, n] : ChoiceNames<E>::kAll) names.emplace_back(n);
  throw_unknown_choice(what, name, names);
}

struct HeadConfig {
  int hidden = 0;                    // 0: dropout + Linear; >0: dropout + Linear(hidden) + act + Linear
  Activation activation = Activation::kReLU;
  double negative_slope = 0.01;      // for leaky_relu
};

struct ModelConfig {
  std::string arch = "efficientnet_b0";
  int classes = 0;                   // 0: the data set's number of classes (resolved before training)
  std::string pretrained;            // finch safetensors from `finch import-weights`; "" = random init
  std::optional<double> dropout;     // head dropout; unset = the variant's torchvision default
  double stochastic_depth = 0.2;     // torchvision's stochastic_depth_prob
  HeadConfig head;
  std::string freeze = "none";       // none | head | last_blocks:K, optional "+bn"
  bool bn_eval = false;              // keep frozen BatchNorm layers in eval mode (running stats fixed)
  ModelPadding padding = ModelPadding::kAuto;  // auto: what model.pretrained records, else symmetric
  std::optional<double> bn_eps;      // unset: what model.pretrained records, else the variant's
};

// Mixup and CutMix with timm's Mixup semantics (data/mixup.h); on when an alpha is > 0 or
// cutmix_minmax is set.
struct MixupConfig {
  double mixup_alpha = 0.0;
  double cutmix_alpha = 0.0;
  std::optional<std::vector<double>> cutmix_minmax;  // [min, max]; forces cutmix_alpha 1 (timm)
  double prob = 1.0;
  double switch_prob = 0.5;
  MixupMode mode = MixupMode::kBatch;
  bool correct_lam = true;
};

// Random erasing with timm's RandomErasing semantics (data/random_erasing.h); on when prob > 0.
struct RandomErasingConfig {
  double prob = 0.0;
  ErasingMode mode = ErasingMode::kPixel;             // timm train.py's --remode default
  std::vector<double> scale = {0.02, 1.0 / 3.0};     // erased area as a share of the image
  std::vector<double> ratio = {0.3, 1.0 / 0.3};      // aspect range (log-uniform)
  int max_count = 1;                                  // timm's re_count
};

// torchvision's RandAugment parameters (data.auto_augment=randaugment; the bins also TrivialAugmentWide's).
struct RandAugmentConfig {
  int num_ops = 2;
  int magnitude = 9;
  int num_magnitude_bins = 31;
};

struct DataConfig {
  std::string root;                  // CUB_200_2011 folder, ImageFolder tree, CSV manifest or packed file
  DataFormat format = DataFormat::kAuto;
  int image_size = 224;              // train crop and eval crop
  int resize = 256;                  // eval: shorter side before the center crop
  int eval_image_size = 0;           // eval crop when it differs from training's (0: image_size)
  int eval_resize = 0;               // its shorter side before the crop (0: keeps resize / image_size)
  double val_fraction = 0.1;         // stratified slice of the *train* split
  int workers = 4;                   // loader threads per rank
  int prefetch = 4;                  // batches queued ahead per rank
  OnBadImage on_error = OnBadImage::kFail;  // corrupt/missing images at train time
  bool crop_to_bbox = false;
  double bbox_margin = 0.1;
  std::vector<double> scale = {0.08, 1.0};        // RandomResizedCrop
  std::vector<double> ratio = {3.0 / 4.0, 4.0 / 3.0};
  double hflip = 0.5;
  double color_jitter = 0.0;
  bool reduced_decode = true;        // train on raw JPEGs: decode at 1/2-1/8 where the crop keeps its pixels
  bool drop_last = false;            // sampler: drop the tail instead of padding to equal batches
  // Input normalisation (per RGB channel, on [0, 1] pixels). Unset: what model.pretrained records
  // (import-weights writes the statistics the weights were trained with), else ImageNet's.
  std::optional<std::vector<double>> mean, std;
  AutoAugmentPolicy auto_augment = AutoAugmentPolicy::kNone;  // data/auto_augment.h
  RandAugmentConfig randaugment;
  MixupConfig mixup;
  RandomErasingConfig random_erasing;
};

// An exponential moving average of the weights, as timm's ModelEmaV3 (train/model_ema.h).
struct EmaConfig {
  bool enabled = false;
  double decay = 0.9998;             // timm train.py's --model-ema-decay default
  bool warmup = false;               // timm's use_warmup: decay = min(decay, 1 - (1 + t)^(-2/3))
  int every_steps = 1;               // update after every N-th optimizer step
  EmaValidate validate = EmaValidate::kEma;  // both: the raw model is validated too (logged only)
};

struct TrainConfig {
  int epochs = 30;
  int batch_size = 32;               // per rank
  int accum_steps = 1;
  double clip_grad_norm = 0.0;       // 0 = off
  Amp amp = Amp::kNone;
  ChannelsLast channels_last = ChannelsLast::kAuto;  // Note [Memory format] (train/memory_format.h)
  int seed = 42;
  double label_smoothing = 0.0;
  OnNan on_nan = OnNan::kStop;
  DeviceRequest device = DeviceRequest::kAuto;
  int max_steps = 0;                 // 0 = no limit (debugging, smoke tests)
  int precise_bn_batches = 0;        // recompute BN statistics from N train batches before validation
  EmaConfig ema;
};

struct OptimizerConfig {
  OptimizerKind name = OptimizerKind::kAdam;
  double lr = 1e-3;
  double weight_decay = 0.0;
  bool no_decay_bn_bias = true;
  double momentum = 0.9;
  bool nesterov = false;
  std::vector<double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double backbone_lr_scale = 1.0;  // everything but the classifier at lr x this (param_groups.h)
  double layer_decay = 0.0;        // timm's layer-wise LR decay; 0: off
};

struct SchedulerConfig {
  SchedulerKind name = SchedulerKind::kNone;
  int step_size = 1;
  double gamma = 0.9;
  Metric monitor = Metric::kValAcc;   // plateau
  MetricMode mode = MetricMode::kMax;
  double factor = 0.1;
  int patience = 10;
  double threshold = 1e-4;
  ThresholdMode threshold_mode = ThresholdMode::kRel;
  int cooldown = 0;
  double min_lr = 0.0;
  int warmup_epochs = 0;             // cosine; with per_step: step and poly too
  // Per optimizer step, as timm's schedulers with sched_on_updates (t_in_epochs=False): warmup from
  // warmup_lr, then the decay; warmup_prefix: the decay starts after the warmup (timm's flag).
  bool per_step = false;
  double warmup_lr = 0.0;
  bool warmup_prefix = false;
  double power = 0.5;                // poly: timm's PolyLRScheduler power
};

struct EarlyStoppingConfig {
  bool enabled = true;
  Metric monitor = Metric::kValAcc;  // val_acc | val_loss
  MetricMode mode = MetricMode::kMax;
  int patience = 3;
  double min_delta = 0.0;
  bool restore_best = true;
};

struct CheckpointConfig {
  int every_epochs = 1;
  int every_steps = 0;
  int keep_last = 2;
  bool keep_best = true;
  OnCheckpointError on_error = OnCheckpointError::kFail;
};

struct EvalConfig {
  Tta tta = Tta::kNone;              // hflip: logits averaged over the image and its mirror
};

struct LoggingConfig {
  int every_steps = 10;
  LogLevel level = LogLevel::kInfo;
  bool all_ranks = false;            // non-zero ranks log info too (debugging)
  Progress progress = Progress::kAuto;
  bool tensorboard = true;           // <run>/tensorboard event files (rank 0)
  std::string trace_steps;           // "A:B": a per-rank timeline of those global steps (core/trace.h)
};

struct DistConfig {
  Backend backend = Backend::kAuto;
  double bucket_mb = 25.0;
  bool sync_bn = false;
  bool broadcast_buffers = true;
  int timeout_s = 600;               // a collective that takes longer aborts the job
  bool share_gpus = false;           // allow more ranks than GPUs on a node (several ranks per GPU)
};

struct Config {
  std::string name;                  // run name; "" = the config file's stem
  std::string output_dir = "runs";
  ModelConfig model;
  DataConfig data;
  TrainConfig train;
  OptimizerConfig optimizer;
  SchedulerConfig scheduler;
  EarlyStoppingConfig early_stopping;
  CheckpointConfig checkpoint;
  EvalConfig eval;
  LoggingConfig logging;
  DistConfig dist;
};

// Reads `path` (JSON; // comments allowed), applies `overrides` ("a.b.c=value"), validates.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// Validates and converts a JSON document; `source` names it in error messages.
Config config_from_json(const nlohmann::json& doc, const std::string& source);

// The fully resolved config (every key, defaults filled in, in schema order), as written to
// runs/<name>/config.json and stored in checkpoints.
nlohmann::ordered_json config_to_json(const Config& config);

// Applies one "a.b.c=value" override to a JSON document, typed by the schema.
void apply_override(nlohmann::json& doc, const std::string& assignment);

// Markdown table of every key: type, default, allowed values, meaning.
std::string config_schema_markdown();

}  // namespace finch
