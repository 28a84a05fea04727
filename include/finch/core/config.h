// The run configuration: typed sections filled from a JSON file plus `--set a.b=c` overrides.
//
// The schema (every key, its type, default, allowed range or values and its documentation) lives in
// one place, src/core/config_schema.cpp; parsing, defaults, the resolved config.json and the README
// table (`finch config --schema`) are all generated from it. Validation is strict: an unknown key, a
// wrong type or an out-of-range value is a ConfigError naming the key, before any work starts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace finch {

struct HeadConfig {
  int hidden = 0;                    // 0: dropout + Linear; >0: dropout + Linear(hidden) + act + Linear
  std::string activation = "relu";   // relu | leaky_relu | silu
  double negative_slope = 0.01;      // for leaky_relu
};

struct ModelConfig {
  std::string arch = "efficientnet_b0";
  int classes = 200;
  std::string pretrained;            // finch safetensors from `finch import-weights`; "" = random init
  std::optional<double> dropout;     // head dropout; unset = the variant's torchvision default
  double stochastic_depth = 0.2;     // torchvision's stochastic_depth_prob
  HeadConfig head;
  std::string freeze = "none";       // none | head | last_blocks:K, optional "+bn"
  bool bn_eval = false;              // keep frozen BatchNorm layers in eval mode (running stats fixed)
};

struct DataConfig {
  std::string root;                  // CUB_200_2011 folder or a packed file
  std::string format = "auto";       // auto | raw | packed
  int image_size = 224;              // train crop and eval crop
  int resize = 256;                  // eval: shorter side before the center crop
  double val_fraction = 0.1;         // stratified slice of the *train* split
  int workers = 4;                   // loader threads per rank
  int prefetch = 4;                  // batches queued ahead per rank
  std::string on_error = "fail";     // fail | skip (corrupt/missing images at train time)
  bool crop_to_bbox = false;
  double bbox_margin = 0.1;
  std::vector<double> scale = {0.08, 1.0};        // RandomResizedCrop
  std::vector<double> ratio = {3.0 / 4.0, 4.0 / 3.0};
  double hflip = 0.5;
  double color_jitter = 0.0;
  bool drop_last = false;            // sampler: drop the tail instead of padding to equal batches
};

struct TrainConfig {
  int epochs = 30;
  int batch_size = 32;               // per rank
  int accum_steps = 1;
  double clip_grad_norm = 0.0;       // 0 = off
  std::string amp = "none";          // none | bf16 | fp16
  bool channels_last = false;
  int seed = 42;
  double label_smoothing = 0.0;
  std::string on_nan = "stop";       // stop | skip_step
  std::string device = "auto";       // auto | cpu | cuda
  int max_steps = 0;                 // 0 = no limit (debugging, smoke tests)
  int precise_bn_batches = 0;        // recompute BN statistics from N train batches before validation
};

struct OptimizerConfig {
  std::string name = "adam";         // adam | adamw | sgd
  double lr = 1e-3;
  double weight_decay = 0.0;
  bool no_decay_bn_bias = true;
  double momentum = 0.9;
  bool nesterov = false;
  std::vector<double> betas = {0.9, 0.999};
  double eps = 1e-8;
};

struct SchedulerConfig {
  std::string name = "none";         // none | step | plateau | cosine
  int step_size = 1;
  double gamma = 0.9;
  std::string monitor = "val_acc";   // val_acc | val_loss (plateau)
  std::string mode = "max";
  double factor = 0.1;
  int patience = 10;
  double threshold = 1e-4;
  std::string threshold_mode = "rel";
  int cooldown = 0;
  double min_lr = 0.0;
  int warmup_epochs = 0;             // cosine
};

struct EarlyStoppingConfig {
  bool enabled = true;
  std::string monitor = "val_acc";
  std::string mode = "max";
  int patience = 3;
  double min_delta = 0.0;
  bool restore_best = true;
};

struct CheckpointConfig {
  int every_epochs = 1;
  int every_steps = 0;
  int keep_last = 2;
  bool keep_best = true;
};

struct LoggingConfig {
  int every_steps = 10;
  std::string level = "info";        // debug | info | warn
  bool all_ranks = false;            // non-zero ranks log info too (debugging)
  std::string progress = "auto";     // auto | on | off
};

struct DistConfig {
  std::string backend = "auto";      // auto | nccl | mpi
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
