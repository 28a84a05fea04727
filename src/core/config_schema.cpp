// The one place where finch's config keys are declared. Add a key here and it is parsed, validated,
// defaulted, written to config.json and documented (`finch config --schema`).
#include "config_schema.h"

#include <algorithm>

#include "finch/core/error.h"
#include "finch/core/freeze_policy.h"
#include "finch/core/trace.h"

namespace finch::config_detail {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

Field b(std::string path, bool* v, const char* doc) { return Field{std::move(path), v, *v, doc}; }

Field i(std::string path, int* v, double lo, double hi, const char* doc) {
  Field f{std::move(path), v, *v, doc};
  f.lo = lo;
  f.hi = hi;
  return f;
}

Field n(std::string path, double* v, double lo, double hi, const char* doc, bool lo_open = false) {
  Field f{std::move(path), v, *v, doc};
  f.lo = lo;
  f.hi = hi;
  f.lo_open = lo_open;
  return f;
}

Field s(std::string path, std::string* v, const char* doc) { return Field{std::move(path), v, *v, doc}; }

Field e(std::string path, std::string* v, std::vector<std::string> choices, const char* doc) {
  Field f{std::move(path), v, *v, doc};
  f.choices = std::move(choices);
  return f;
}

// A key whose values are the names of enum E (config.h), or the subset `allowed`.
template <class E>
Field e(std::string path, E* v, const char* doc, std::vector<E> allowed = {}) {
  ChoiceSlot slot{[v] { return std::string(choice_name(*v)); }, [v](const std::string& name) { *v = *choice_from_name<E>(name); }};
  Field f{std::move(path), std::move(slot), std::string(choice_name(*v)), doc};
  for (const auto& [value, name] : ChoiceNames<E>::kAll)
    if (allowed.empty() || std::find(allowed.begin(), allowed.end(), value) != allowed.end()) f.choices.emplace_back(name);
  return f;
}

Field on(std::string path, std::optional<double>* v, double lo, double hi, const char* doc) {
  Field f{std::move(path), v, nullptr, doc};
  f.lo = lo;
  f.hi = hi;
  return f;
}

// A [low, high] pair's bounds and its order (range2, orange2).
Field ordered_pair(Field f, double lo, double hi) {
  f.lo = lo;
  f.hi = hi;
  f.list_size = 2;
  f.check = [](const nlohmann::json& j) -> std::string {
    return j[0].get<double>() <= j[1].get<double>() ? "" : "an ordered pair [low, high] with low <= high";
  };
  return f;
}

// An ordered [low, high] pair, as torchvision's RandomResizedCrop takes them.
Field range2(std::string path, std::vector<double>* v, double lo, double hi, const char* doc) {
  return ordered_pair(Field{std::move(path), v, *v, doc}, lo, hi);
}

// Per-channel statistics (data.mean, data.std): null, or one number per RGB channel.
Field rgb(std::string path, std::optional<std::vector<double>>* v, double lo, double hi, bool lo_open, const char* doc) {
  Field f{std::move(path), v, nullptr, doc};
  f.lo = lo;
  f.hi = hi;
  f.lo_open = lo_open;
  f.list_size = 3;
  return f;
}

// An optional ordered pair (data.mixup.cutmix_minmax): null, or [low, high] with low <= high.
Field orange2(std::string path, std::optional<std::vector<double>>* v, double lo, double hi, const char* doc) {
  return ordered_pair(Field{std::move(path), v, nullptr, doc}, lo, hi);
}

std::string check_freeze(const nlohmann::json& j) {
  try {
    FreezePolicy::parse(j.get<std::string>());
    return "";
  } catch (const ConfigError&) {
    return "one of none, head, last_blocks:K (K >= 1), optionally followed by +bn";
  }
}

}  // namespace

std::vector<Field> schema(Config& c) {
  // model/efficientnet.cpp's variant table (core cannot include model; test_efficientnet checks they agree).
  const std::vector<std::string> archs = {"efficientnet_b0",    "efficientnet_b1",    "efficientnet_b2",    "efficientnet_b3",
                                          "efficientnet_b4",    "efficientnet_b5",    "efficientnet_b6",    "efficientnet_b7",
                                          "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "efficientnet_lite3",
                                          "efficientnet_lite4"};
  std::vector<Field> f = {
      s("name", &c.name, "Run name: the run directory is `output_dir/name`. Empty: the config file's stem."),
      s("output_dir", &c.output_dir, "Folder holding run directories."),

      e("model.arch", &c.model.arch, archs,
        "Backbone: torchvision's EfficientNet B0-B7, or EfficientNet-Lite0-4 (ReLU6, no squeeze-and-excitation; README 'Models and ImageNet weights')."),
      i("model.classes", &c.model.classes, 0, 1e6,
        "Classes of the head. 0: the data set's number of classes (CUB: 200); another number must match it."),
      s("model.pretrained", &c.model.pretrained,
        "ImageNet weights converted by `finch import-weights` (.safetensors). Empty: random init."),
      on("model.dropout", &c.model.dropout, 0, 0.999, "Head dropout. null: the variant's torchvision default (B0 0.2 ... B7 0.5)."),
      n("model.stochastic_depth", &c.model.stochastic_depth, 0, 0.999, "Stochastic depth probability at the last block (torchvision: 0.2)."),
      i("model.head.hidden", &c.model.head.hidden, 0, 1e6, "Hidden units of an extra head layer; 0: a single Linear."),
      e("model.head.activation", &c.model.head.activation, "Activation after the hidden head layer."),
      n("model.head.negative_slope", &c.model.head.negative_slope, 0, 1, "LeakyReLU slope."),
      s("model.freeze", &c.model.freeze,
        "What trains: none (everything), head, last_blocks:K (last K MBConv blocks + head); add +bn to also train every BatchNorm affine parameter."),
      b("model.bn_eval", &c.model.bn_eval, "Keep frozen BatchNorm layers in eval mode (running statistics fixed)."),
      e("model.padding", &c.model.padding,
        "Convolution padding: symmetric (PyTorch, torchvision) or tf_same (TensorFlow's 'same', asymmetric on stride 2, from the input "
        "size; what TF-trained weights need). auto: what model.pretrained records, else symmetric."),
      on("model.bn_eps", &c.model.bn_eps, 0, 1,
         "BatchNorm epsilon. null: what model.pretrained records (TF-trained weights: 1e-3), else the variant's (B0-B4 1e-5, B5-B7 and Lite 1e-3)."),

      s("data.root", &c.data.root,
        "The data set: a CUB_200_2011 folder (images.txt, images/...), an ImageFolder tree (train/<class>/..., optional val/ and test/), "
        "a CSV manifest (path,label[,split]) or a file written by `finch pack`."),
      e("data.format", &c.data.format,
        "Input kind; auto: a folder with images.txt is raw CUB, a folder with train/ is imagefolder, a .csv file is csv, another file is packed."),
      i("data.image_size", &c.data.image_size, 32, 2048, "Square crop fed to the network."),
      i("data.resize", &c.data.resize, 32, 4096, "Eval: shorter side is resized to this before the center crop."),
      i("data.eval_image_size", &c.data.eval_image_size, 0, 2048,
        "Eval crop (validation, test, eval, predict) when it differs from training's, e.g. a larger test resolution; 0: data.image_size."),
      i("data.eval_resize", &c.data.eval_resize, 0, 4096,
        "Eval: shorter side before that crop; 0: data.eval_image_size x data.resize / data.image_size (the same crop fraction)."),
      n("data.val_fraction", &c.data.val_fraction, 0, 0.5,
        "Stratified validation slice carved from the train split (never the test split), unless the data set has its own (ImageFolder val/, "
        "a CSV split column). 0: no validation."),
      i("data.workers", &c.data.workers, 0, 256, "Loader threads per rank (0: load in the training thread)."),
      i("data.prefetch", &c.data.prefetch, 1, 64, "Batches prepared ahead per rank (at least data.workers: one in flight per worker)."),
      e("data.on_error", &c.data.on_error, "A corrupt or missing image at train time: stop with its path, or skip it and count."),
      b("data.crop_to_bbox", &c.data.crop_to_bbox, "Crop each image to its bounding box (bounding_boxes.txt) before the transforms."),
      n("data.bbox_margin", &c.data.bbox_margin, 0, 2, "Margin around the box, as a fraction of its size."),
      range2("data.scale", &c.data.scale, 0.01, 1, "RandomResizedCrop area range [low, high]."),
      range2("data.ratio", &c.data.ratio, 0.1, 10, "RandomResizedCrop aspect ratio range [low, high]."),
      n("data.hflip", &c.data.hflip, 0, 1, "Probability of a horizontal flip."),
      n("data.color_jitter", &c.data.color_jitter, 0, 1, "Brightness/contrast/saturation jitter strength (0: off)."),
      b("data.reduced_decode", &c.data.reduced_decode,
        "Training from raw JPEGs: decode at 1/2, 1/4 or 1/8 size where the crop keeps at least twice data.image_size pixels "
        "(faster; within ~1/255 of torchvision's input on average, README 'Transforms'). false: decode in full, bit for bit torchvision's."),
      b("data.drop_last", &c.data.drop_last, "Drop the epoch's tail instead of padding it so every rank gets equal full batches."),
      rgb("data.mean", &c.data.mean, 0, 1, false,
          "Input normalisation mean per RGB channel (pixels in [0, 1]). null: what model.pretrained records, else ImageNet's [0.485, 0.456, 0.406]."),
      rgb("data.std", &c.data.std, 0, 10, true,
          "Input normalisation std per RGB channel. null: what model.pretrained records, else ImageNet's [0.229, 0.224, 0.225]."),
      n("data.mixup.mixup_alpha", &c.data.mixup.mixup_alpha, 0, 100,
        "Mixup: λ ~ Beta(alpha, alpha), images and targets mixed with the batch's flip (timm's mixup_alpha; 0: off, recipes use 0.2-0.8)."),
      n("data.mixup.cutmix_alpha", &c.data.mixup.cutmix_alpha, 0, 100,
        "CutMix: λ ~ Beta(alpha, alpha), a box of area 1-λ pasted from the flipped batch (timm's cutmix_alpha; 0: off, recipes use 1.0)."),
      orange2("data.mixup.cutmix_minmax", &c.data.mixup.cutmix_minmax, 0, 1,
              "CutMix box side as a share of the image's, drawn from [min, max] instead of from λ (timm's cutmix_minmax; forces cutmix_alpha 1). null: from λ."),
      n("data.mixup.prob", &c.data.mixup.prob, 0, 1, "Probability that a batch (or pair, or image, by mode) is mixed at all."),
      n("data.mixup.switch_prob", &c.data.mixup.switch_prob, 0, 1, "With both alphas > 0: probability of CutMix rather than Mixup."),
      e("data.mixup.mode", &c.data.mixup.mode, "One λ per batch, per pair (i, N-1-i) or per image (timm's mode)."),
      b("data.mixup.correct_lam", &c.data.mixup.correct_lam, "CutMix: λ becomes the image's share outside the box after clipping at the border (timm's correct_lam)."),
      e("data.auto_augment", &c.data.auto_augment,
        "Automatic augmentation of each training image after the crop and flip, as torchvision's TrivialAugmentWide, RandAugment or "
        "AutoAugment(IMAGENET) with nearest interpolation and no fill (README 'Recipe')."),
      i("data.randaugment.num_ops", &c.data.randaugment.num_ops, 1, 16, "randaugment: ops applied to each image (torchvision's num_ops)."),
      i("data.randaugment.magnitude", &c.data.randaugment.magnitude, 0, 100,
        "randaugment: the magnitude bin every op takes, below num_magnitude_bins (torchvision's magnitude)."),
      i("data.randaugment.num_magnitude_bins", &c.data.randaugment.num_magnitude_bins, 2, 1000,
        "randaugment and trivialaugment_wide: bins of each op's magnitude range (torchvision's num_magnitude_bins)."),
      n("data.random_erasing.prob", &c.data.random_erasing.prob, 0, 1,
        "Random erasing (timm's RandomErasing, --reprob): probability that a training image, after Normalize, has boxes erased (0: off; recipes use 0.25)."),
      e("data.random_erasing.mode", &c.data.random_erasing.mode,
        "Fill of an erased box: const 0 (the mean colour), rand one N(0,1) colour per channel, pixel N(0,1) per pixel (timm train.py's default)."),
      range2("data.random_erasing.scale", &c.data.random_erasing.scale, 0.0001, 1, "Erased area as a share of the image, [min, max] (timm's min_area, max_area)."),
      range2("data.random_erasing.ratio", &c.data.random_erasing.ratio, 0.01, 100, "Aspect ratio range of an erased box, drawn log-uniformly (timm's min_aspect, 1/min_aspect)."),
      i("data.random_erasing.max_count", &c.data.random_erasing.max_count, 1, 100,
        "Boxes per erased image: drawn from 1..max_count, each with the area share divided by the count (timm's re_count)."),

      i("train.epochs", &c.train.epochs, 1, 100000, "Maximum epochs (early stopping may end sooner)."),
      i("train.batch_size", &c.train.batch_size, 1, 65536, "Batch size per rank; the global batch is world_size x batch_size x accum_steps."),
      i("train.accum_steps", &c.train.accum_steps, 1, 1024, "Micro-batches per optimizer step (gradients are synchronised on the last one only)."),
      n("train.clip_grad_norm", &c.train.clip_grad_norm, 0, kInf, "Clip the global gradient norm to this value (0: off)."),
      e("train.amp", &c.train.amp, "Autocast on CUDA (fp16 uses a dynamic loss scaler). Ignored on CPU."),
      e("train.channels_last", &c.train.channels_last,
        "NHWC (channels_last) memory format for weights and inputs: auto (where it is faster: a CPU with oneDNN, a GPU "
        "with cuDNN), true or false. Training, evaluation, predict, Precise BN and SyncBN follow it."),
      i("train.seed", &c.train.seed, 0, 2147483647, "Seed of everything: init, split, sampler, augmentation."),
      n("train.label_smoothing", &c.train.label_smoothing, 0, 0.999, "Cross-entropy label smoothing."),
      e("train.on_nan", &c.train.on_nan, "A non-finite loss on any rank: stop the run, or skip that optimizer step on every rank."),
      e("train.device", &c.train.device, "auto: CUDA when available (rank r uses its node-local GPU), else CPU."),
      i("train.max_steps", &c.train.max_steps, 0, 1e12, "Stop after this many optimizer steps (0: no limit)."),
      i("train.precise_bn_batches", &c.train.precise_bn_batches, 0, 100000,
        "Precise BN: before each validation, recompute BatchNorm running statistics as the average over this many training batches per rank (then over ranks). For from-scratch and short runs, whose momentum-averaged statistics lag the weights. 0: off."),
      b("train.ema.enabled", &c.train.ema.enabled,
        "Keep an exponential moving average of the weights (timm's ModelEmaV3): validation, the best checkpoint, early stopping, "
        "ReduceLROnPlateau and the test use the EMA weights; checkpoints hold them (ema.safetensors) and eval/predict use them by default."),
      n("train.ema.decay", &c.train.ema.decay, 0, 1, "EMA decay per update (timm train.py's default 0.9998; shorter runs want less, e.g. 0.999)."),
      b("train.ema.warmup", &c.train.ema.warmup,
        "timm's EMA warmup (use_warmup): the decay at update t is min(decay, 1 - (1 + t)^(-2/3)), so the average forgets the first steps' weights."),
      i("train.ema.every_steps", &c.train.ema.every_steps, 1, 1e9,
        "Update the EMA after every N-th optimizer step (the decay is applied as given, not adjusted for N)."),
      e("train.ema.validate", &c.train.ema.validate,
        "ema: validate the EMA weights only; both: the raw weights too (logged beside, the decisions follow the EMA)."),

      e("optimizer.name", &c.optimizer.name, "Optimizer."),
      n("optimizer.lr", &c.optimizer.lr, 0, 10, "Learning rate (for the global batch; finch does not rescale it by world size).", true),
      n("optimizer.weight_decay", &c.optimizer.weight_decay, 0, 1, "Weight decay (L2 for adam and sgd, decoupled for adamw)."),
      b("optimizer.no_decay_bn_bias", &c.optimizer.no_decay_bn_bias, "Exempt BatchNorm parameters and biases from weight decay."),
      n("optimizer.momentum", &c.optimizer.momentum, 0, 0.999, "SGD momentum."),
      b("optimizer.nesterov", &c.optimizer.nesterov, "SGD Nesterov momentum."),
      range2("optimizer.betas", &c.optimizer.betas, 0, 0.99999, "Adam/AdamW betas [beta1, beta2]."),
      n("optimizer.eps", &c.optimizer.eps, 0, 1, "Adam/AdamW epsilon.", true),
      n("optimizer.backbone_lr_scale", &c.optimizer.backbone_lr_scale, 0, 10,
        "The pretrained backbone (all but the classifier) learns at optimizer.lr x this; the new head at optimizer.lr."),
      n("optimizer.layer_decay", &c.optimizer.layer_decay, 0, 1,
        "Layer-wise LR decay as timm's param_groups_layer_decay for EfficientNet (stem, each block, head conv, classifier); 0: off."),

      e("scheduler.name", &c.scheduler.name, "LR schedule: once per epoch, or per optimizer step with scheduler.per_step (poly: per step only)."),
      i("scheduler.step_size", &c.scheduler.step_size, 1, 100000, "step: epochs between decays."),
      n("scheduler.gamma", &c.scheduler.gamma, 0, 1, "step: decay factor.", true),
      e("scheduler.monitor", &c.scheduler.monitor, "plateau: metric watched (reduced over all ranks)."),
      e("scheduler.mode", &c.scheduler.mode, "plateau: whether the metric should go up or down."),
      n("scheduler.factor", &c.scheduler.factor, 0, 1, "plateau: LR multiplier on a plateau.", true),
      i("scheduler.patience", &c.scheduler.patience, 0, 100000, "plateau: epochs without improvement before reducing."),
      n("scheduler.threshold", &c.scheduler.threshold, 0, kInf, "plateau: minimum change that counts as an improvement."),
      e("scheduler.threshold_mode", &c.scheduler.threshold_mode, "plateau: threshold relative to the best value, or absolute."),
      i("scheduler.cooldown", &c.scheduler.cooldown, 0, 100000, "plateau: epochs to wait after a reduction."),
      n("scheduler.min_lr", &c.scheduler.min_lr, 0, 10, "plateau, cosine: lower bound of the LR."),
      i("scheduler.warmup_epochs", &c.scheduler.warmup_epochs, 0, 100000, "cosine (and step, poly per step): linear warmup epochs."),
      b("scheduler.per_step", &c.scheduler.per_step,
        "Update the LR every optimizer step, as timm's schedulers with sched_on_updates (step, cosine, poly; plateau stays per epoch)."),
      n("scheduler.warmup_lr", &c.scheduler.warmup_lr, 0, 10, "per_step: the LR the warmup starts from (timm's warmup_lr_init)."),
      b("scheduler.warmup_prefix", &c.scheduler.warmup_prefix,
        "per_step: the decay starts after the warmup (timm's warmup_prefix); false: it starts at step 0 as timm's default."),
      n("scheduler.power", &c.scheduler.power, 0, 100, "poly: exponent of the polynomial decay (timm's PolyLRScheduler power)."),

      b("early_stopping.enabled", &c.early_stopping.enabled, "Stop when the monitored metric stops improving (needs data.val_fraction > 0)."),
      e("early_stopping.monitor", &c.early_stopping.monitor, "Metric watched (reduced over all ranks).", {Metric::kValAcc, Metric::kValLoss}),
      e("early_stopping.mode", &c.early_stopping.mode, "Whether the metric should go up or down."),
      i("early_stopping.patience", &c.early_stopping.patience, 1, 100000, "Epochs without improvement before stopping."),
      n("early_stopping.min_delta", &c.early_stopping.min_delta, 0, kInf, "Minimum change that counts as an improvement."),
      b("early_stopping.restore_best", &c.early_stopping.restore_best, "Evaluate the test split with the best weights, not the last."),

      i("checkpoint.every_epochs", &c.checkpoint.every_epochs, 0, 100000, "Save every N epochs (0: only at the end)."),
      i("checkpoint.every_steps", &c.checkpoint.every_steps, 0, 1e12, "Also save every N optimizer steps (0: off)."),
      i("checkpoint.keep_last", &c.checkpoint.keep_last, 1, 1000, "Periodic checkpoints kept on disk."),
      b("checkpoint.keep_best", &c.checkpoint.keep_best, "Keep the best checkpoint (by early_stopping.monitor) as checkpoints/best."),
      e("checkpoint.on_error", &c.checkpoint.on_error,
        "A checkpoint that cannot be written (full disk, quota): fail stops every rank with an error naming the path; warn logs it and "
        "trains on, trying again at the next checkpoint. Earlier checkpoints are untouched either way."),

      e("eval.tta", &c.eval.tta, "Test-time augmentation in validation, test, eval and predict: hflip averages the logits of each image and its mirror."),

      i("logging.every_steps", &c.logging.every_steps, 1, 1e9, "Log loss, LR and images/s every N optimizer steps."),
      e("logging.level", &c.logging.level, "Log level of rank 0."),
      b("logging.all_ranks", &c.logging.all_ranks, "Non-zero ranks log at info level too (default: warnings and errors only)."),
      b("logging.tensorboard", &c.logging.tensorboard, "Rank 0 mirrors every scalar of metrics.jsonl into TensorBoard event files in <run>/tensorboard."),
      s("logging.trace_steps", &c.logging.trace_steps,
        "A:B: every rank writes a timeline of global steps A to B (Chrome trace-event JSON, <run>/trace-rank<r>.json; Perfetto). Empty: none."),
      e("logging.progress", &c.logging.progress, "Progress bar; auto: on a terminal, periodic lines otherwise."),

      e("dist.backend", &c.dist.backend, "Collectives: auto is NCCL for CUDA tensors, MPI for CPU."),
      n("dist.bucket_mb", &c.dist.bucket_mb, 0, 4096, "Gradient bucket size in MB (DDP's bucket_cap_mb).", true),
      b("dist.sync_bn", &c.dist.sync_bn, "SyncBatchNorm: normalise over the global batch in training."),
      b("dist.broadcast_buffers", &c.dist.broadcast_buffers, "Average BatchNorm running statistics across ranks before validation and checkpoints."),
      i("dist.timeout_s", &c.dist.timeout_s, 10, 86400, "A collective taking longer than this aborts the job."),
      b("dist.share_gpus", &c.dist.share_gpus, "Allow more ranks than GPUs on a node (rank r on GPU r mod GPUs; use dist.backend=mpi: NCCL refuses two ranks on one GPU)."),
  };
  for (auto& fld : f) {
    if (fld.path == "model.freeze") fld.check = [](const nlohmann::json& j) { return check_freeze(j); };
    if (fld.path == "logging.trace_steps")
      fld.check = [](const nlohmann::json& j) -> std::string {
        try {
          trace::parse_steps(j.get<std::string>());
          return "";
        } catch (const ConfigError&) {
          return "empty, or A:B with 1 <= A <= B (global steps)";
        }
      };
    if (fld.path == "model.classes")
      fld.check = [](const nlohmann::json& j) -> std::string { return j.get<double>() == 1 ? "0 (the data set's) or at least 2" : ""; };
  }
  return f;
}

}  // namespace finch::config_detail
