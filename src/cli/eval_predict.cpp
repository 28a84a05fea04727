// finch eval | predict: a trained checkpoint on a split (multi-rank) or on image files.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "commands.h"
#include "finch/core/atomic_file.h"
#include "finch/core/regular_file.h"
#include "finch/core/error.h"
#include "finch/data/dataset.h"
#include "finch/data/file_input.h"
#include "finch/data/image_ops.h"
#include "finch/data/transforms.h"
#include "finch/distributed/agree.h"
#include "finch/distributed/communicator.h"
#include "finch/distributed/device.h"
#include "finch/distributed/run_context.h"
#include "finch/train/checkpoint_model.h"
#include "finch/train/evaluate.h"
#include "finch/train/forward_loss.h"
#include "finch/train/memory_format.h"
#include "finch/train/run_inputs.h"
#include "finch/io/safetensors.h"
#include "finch/io/weight_metadata.h"
#include "finch/model/build.h"
#include "finch/model/weights.h"
#include "finch/report/eval_tables.h"

namespace finch::cli {
namespace fs = std::filesystem;

namespace {

// --tta none|hflip: overrides the checkpoint's eval.tta.
void add_tta_option(CLI::App* app, std::string& tta) {
  app->add_option("--tta", tta, "Test-time augmentation: none, or hflip (average with the mirrored image); default: the checkpoint's eval.tta")
      ->check(CLI::IsMember({"none", "hflip"}));
}

// --no-ema: a train.ema checkpoint's model weights instead of its EMA weights (Note [EMA weights]).
void add_no_ema_option(CLI::App* app, bool& no_ema) {
  app->add_flag("--no-ema", no_ema, "Use the checkpoint's model weights, not its EMA weights (default for a train.ema run: the EMA's)");
}

std::string_view weights_name(const train::LoadedCheckpoint& ck) { return ck.ema ? "ema" : "model"; }

}  // namespace

Command add_eval(CLI::App& parent) {
  auto* app = parent.add_subcommand("eval", "Evaluate a checkpoint: top-1/top-5, per-class accuracy, confusion matrix");
  struct Opts {
    std::string checkpoint, split = "test", root, out, tta;
    DeviceRequest device = DeviceRequest::kAuto;
    bool json = false, no_ema = false;
    int batch = 64, workers = 2;
  };
  auto o = std::make_shared<Opts>();
  app->add_option("--checkpoint", o->checkpoint, "Checkpoint directory, or a run directory (its best checkpoint)")->required();
  app->add_option("--split", o->split, "test (the official test split) or val")->check(CLI::IsMember({"test", "val"}))->capture_default_str();
  app->add_option("--root", o->root, "Dataset (default: the checkpoint's data.root)");
  app->add_option("--out", o->out, "Folder for per_class.csv, confusion.csv, eval.json (default: next to the run's report)");
  app->add_option("--batch-size", o->batch, "Batch size per rank")->check(CLI::Range(1, 65536))->capture_default_str();
  app->add_option("--workers", o->workers, "Loader threads per rank")->check(CLI::Range(0, 256))->capture_default_str();
  add_device_option(app, o->device);
  add_tta_option(app, o->tta);
  add_no_ema_option(app, o->no_ema);
  app->add_flag("--json", o->json, "Print the result as JSON");
  return {app, [o]() {
            auto comm = distributed::make_mpi_communicator();
            train::LoadedCheckpoint ck;
            data::DatasetBundle bundle;
            distributed::run_agreed(*comm, [&] { ck = train::load_checkpoint_model(o->checkpoint, !o->no_ema); });
            auto ctx = distributed::make_run_context(*comm, {o->device, ck.config.dist.share_gpus, ck.config.dist.backend,
                                                              static_cast<double>(ck.config.dist.timeout_s)});
            const torch::Device device = ctx.device;
            distributed::run_agreed(*comm, [&] {
              if (!o->root.empty()) ck.config.data.root = o->root;
              bundle = data::open_dataset(ck.config.data, ck.config.train.seed);
              if (static_cast<int>(bundle.source->class_names().size()) != ck.config.model.classes)
                throw ConfigError(fmt::format("the dataset has {} classes, the checkpoint {}", bundle.source->class_names().size(),
                                              ck.config.model.classes));
              if ((o->split == "test" ? bundle.split.test : bundle.split.val).empty())
                throw ConfigError(fmt::format("{} has no {} split{}", bundle.source->describe(), o->split,
                                              o->split == "test" ? " (an ImageFolder tree without test/, or a manifest without test rows)" : ""));
            });
            train::EvalOptions eo;
            eo.batch_size = o->batch;
            eo.workers = o->workers;
            eo.device = device;
            ck.model->to(device);  // evaluate() moves batches, not the model
            const auto format = train::choose_memory_format(ck.config.train.channels_last, device);  // Note [Memory format]
            train::to_memory_format(*ck.model, format.channels_last);
            eo.channels_last = format.channels_last;
            eo.transform = data::eval_transform(ck.config.data);
            eo.hflip_tta = (o->tta.empty() ? ck.config.eval.tta : parse_choice<Tta>(o->tta, "--tta")) == Tta::kHflip;
            eo.per_class = true;
            eo.classes = ck.config.model.classes;
            const auto& split = o->split == "test" ? bundle.split.test : bundle.split.val;
            const auto t = train::evaluate(*ck.model, bundle.source, split, *ctx.comm, eo);
            if (comm->rank() != 0) return 0;
            const std::string out = o->out.empty() ? (fs::path(ck.path).parent_path().parent_path() / "report" / ("eval_" + o->split)).string() : o->out;
            fs::create_directories(out);
            const auto& names = bundle.source->class_names();  // the data set evaluated on (its count equals the model's)
            const auto conf = t.confusion.to(torch::kDouble).contiguous();
            const std::vector<double> confusion(conf.data_ptr<double>(), conf.data_ptr<double>() + conf.numel());
            nlohmann::ordered_json j = {{"checkpoint", ck.path}, {"weights", weights_name(ck)}, {"split", o->split}, {"images", static_cast<int64_t>(t.count)}, {"loss", t.loss()},
                                        {"top1", t.acc()}, {"top5", t.top5()}, {"mean_per_class", t.mean_class_acc()},
                                        {"images_per_s", t.count / std::max(1e-9, t.seconds)}, {"ranks", comm->size()},
                                        {"device", distributed::describe_device(device)},
                                        {"channels_last", format.channels_last},
                                        {"synthetic", bundle.synthetic}};
            write_file_atomically(fs::path(out) / "per_class.csv", report::per_class_csv(names, t.class_count, t.class_correct));
            write_file_atomically(fs::path(out) / "confusion.csv", report::confusion_csv(names, confusion));
            write_file_atomically(fs::path(out) / "eval.json", j.dump(2) + "\n");
            if (o->json) {
              std::cout << j.dump(2) << "\n";
            } else {
              std::cout << fmt::format("{} split of {}{}: {} images{}\n  top-1 {:.2f}%  top-5 {:.2f}%  mean per-class {:.2f}%  loss {:.4f}  "
                                       "({:.0f} images/s on {} rank(s), {})\n  wrote {}/{{per_class.csv, confusion.csv, eval.json}}\n",
                                       o->split, ck.config.data.root, bundle.synthetic ? " (SYNTHETIC, not CUB)" : "", t.count,
                                       ck.ema ? ", the checkpoint's EMA weights (--no-ema: its model weights)" : "", 100 * t.acc(),
                                       100 * t.top5(), 100 * t.mean_class_acc(), t.loss(), t.count / std::max(1e-9, t.seconds), comm->size(),
                                       distributed::describe_device(device) + ", " + format.why, out);
            }
            return 0;
          }};
}

namespace {

// Class names, one a line (blank lines at the end ignored): ImageNet's 1,000 for raw ImageNet
// weights, or your own. ConfigError naming the file when the count is not the model's.
std::vector<std::string> read_labels(const std::string& path, int64_t classes) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))  // a usage error, as a missing file is
    throw ConfigError("--labels: " + not_a_regular_file(path));
  std::ifstream in = open_regular(path);  // Note [Only regular files are opened]
  if (!in) throw ConfigError(fmt::format("--labels: cannot read '{}'", path));
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    names.push_back(line);
  }
  while (!names.empty() && names.back().empty()) names.pop_back();
  if (static_cast<int64_t>(names.size()) != classes)
    throw ConfigError(fmt::format("--labels: '{}' has {} names, the model {} classes", path, names.size(), classes));
  return names;
}

// A model straight from converted weights (`finch import-weights`): the architecture, padding,
// BatchNorm epsilon and normalisation their metadata records, the head they hold.
train::LoadedCheckpoint load_weights_file(const std::string& path, const std::string& arch_option) {
  const auto file = io::read_safetensors(path);
  const auto md = io::weight_metadata(file.metadata, path);
  const std::string arch = !arch_option.empty() ? arch_option : md.arch;
  if (arch.empty()) throw ConfigError(fmt::format("'{}' does not record its architecture: give --arch", path));
  if (!file.tensors.count("classifier.1.weight"))
    throw ConfigError(fmt::format("'{}' has no classifier (imported with its head dropped): predict needs a checkpoint", path));
  train::LoadedCheckpoint out;
  out.path = path;
  out.config.model.arch = model::canonical_arch(arch);
  out.config.model.classes = static_cast<int>(file.at("classifier.1.weight").size(0));
  out.config.model.pretrained = path;
  train::resolve_from_weights(out.config);  // padding, eps, mean, std as recorded
  const int res = model::variant_spec(arch).resolution;
  out.config.data.image_size = res;
  out.config.data.resize = res + 32;  // TF's eval crop_padding; torchvision's 256 at 224
  out.model = model::EfficientNet(model::options_from_config(out.config.model));
  model::load_weights(*out.model, file.in_order(), path);
  out.model->eval();
  return out;
}

}  // namespace

Command add_predict(CLI::App& parent) {
  auto* app = parent.add_subcommand("predict", "Top-k classes with probabilities for image files");
  struct Opts {
    std::string checkpoint, weights, arch, labels, tta;
    DeviceRequest device = DeviceRequest::kAuto;
    std::vector<std::string> images;
    int topk = 5, size = 0;
    bool json = false, no_ema = false;
  };
  auto o = std::make_shared<Opts>();
  auto* ck_opt = app->add_option("--checkpoint", o->checkpoint, "Checkpoint directory, or a run directory (its best checkpoint)");
  auto* w_opt = app->add_option("--weights", o->weights,
                                "Or converted weights with their head (`finch import-weights`, e.g. ImageNet's 1,000 classes)");
  ck_opt->excludes(w_opt);
  app->add_option("--arch", o->arch, "With --weights that do not record it: the architecture");
  app->add_option("--labels", o->labels, "Class names, one a line in label order (default: those the checkpoint records)");
  app->add_option("--image", o->images, "Image files (JPEG, PNG, ...)")->required();
  app->add_option("--topk", o->topk, "Classes to show per image")->check(CLI::Range(1, 1000000))->capture_default_str();
  app->add_option("--size", o->size, "Crop size (default: the checkpoint's data.image_size; with --weights the variant's resolution)")->check(CLI::Range(8, 4096));
  add_device_option(app, o->device);
  add_tta_option(app, o->tta);
  add_no_ema_option(app, o->no_ema);
  app->add_flag("--json", o->json, "Machine-readable output");
  return {app, [o]() {
            if (o->checkpoint.empty() == o->weights.empty()) throw ConfigError("predict: give --checkpoint DIR or --weights FILE");
            auto ck = o->weights.empty() ? train::load_checkpoint_model(o->checkpoint, !o->no_ema) : load_weights_file(o->weights, o->arch);
            if (ck.ema) std::cerr << fmt::format("predict: the EMA weights of {} (--no-ema: its model weights)\n", ck.path);
            auto control = distributed::make_mpi_communicator();  // predict runs as one process
            const torch::Device device = distributed::make_run_context(*control, {o->device, true, Backend::kMpi}).device;
            ck.model->to(device);
            const auto format = train::choose_memory_format(ck.config.train.channels_last, device);  // Note [Memory format]
            train::to_memory_format(*ck.model, format.channels_last);
            if (!o->json) std::cerr << "predict: memory format " << format.why << "\n";
            train::ForwardOptions input;  // fp32, the device and memory format above (train::model_input)
            input.device = device;
            input.channels_last = format.channels_last;
            const auto model_input = [&](const at::Tensor& x) { return train::model_input(x, input); };
            const int64_t classes = ck.model->options().classes;
            // Names: --labels, else what the checkpoint records, else the dataset it was trained on
            // when it is still there (checkpoints of earlier versions), else "class N".
            std::vector<std::string> names = !o->labels.empty() ? read_labels(o->labels, classes) : ck.class_names;
            if (names.empty() && o->weights.empty()) {
              try {
                names = data::open_source(ck.config.data)->class_names();
              } catch (const std::exception&) {
              }
            }
            if (o->size > 0) {
              ck.config.data.resize = std::max<int>(ck.config.data.resize * o->size / ck.config.data.image_size, o->size);
              ck.config.data.image_size = o->size;
              ck.config.data.eval_image_size = ck.config.data.eval_resize = 0;  // --size is the eval crop
            }
            const bool hflip = (o->tta.empty() ? ck.config.eval.tta : parse_choice<Tta>(o->tta, "--tta")) == Tta::kHflip;
            const auto tf = data::eval_transform(ck.config.data);
            nlohmann::ordered_json all = nlohmann::ordered_json::array();
            torch::NoGradGuard no_grad;
            for (const auto& path : o->images) {
              const auto x = data::input_from_file(path, tf).unsqueeze(0);  // RuntimeError naming the file
              auto logits = ck.model->forward(model_input(x));
              if (hflip) logits = (logits + ck.model->forward(model_input(x).flip({3}))) / 2;  // eval.tta=hflip, as evaluate()
              const auto probs = torch::softmax(logits, 1)[0].cpu();
              const auto top = probs.topk(std::min<int64_t>(o->topk, probs.size(0)));
              nlohmann::ordered_json r = {{"image", path}, {"weights", weights_name(ck)}, {"top", nlohmann::json::array()}};
              if (!o->json) std::cout << path << "\n";
              for (int64_t k = 0; k < std::get<0>(top).size(0); ++k) {
                const auto c = std::get<1>(top)[k].item<int64_t>();
                const double p = std::get<0>(top)[k].item<double>();
                const std::string name = c < static_cast<int64_t>(names.size()) ? names[c] : fmt::format("class {}", c);
                r["top"].push_back({{"class", c}, {"name", name}, {"probability", p}});
                if (!o->json) std::cout << fmt::format("  {:6.2f}%  {}\n", 100 * p, name);
              }
              all.push_back(r);
            }
            if (o->json) std::cout << all.dump(2) << "\n";
            return 0;
          }};
}

}  // namespace finch::cli
