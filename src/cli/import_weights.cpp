// finch import-weights: torchvision .pth or timm/HF safetensors -> finch safetensors with
// torchvision names, every name and shape checked against the architecture.
#include <iostream>

#include <fmt/format.h>

#include "commands.h"
#include "finch/core/error.h"
#include "finch/io/safetensors.h"
#include "finch/io/weight_import.h"
#include "finch/model/build.h"
#include "finch/model/efficientnet.h"
#include "finch/model/weights.h"

namespace finch::cli {
namespace {

io::NamedTensors read_source(const std::string& from, const std::string& path, int num_stages) {
  if (from == "torchvision") {
    // torchvision checkpoints are .pth; a torchvision-named safetensors file is accepted too.
    if (path.size() > 12 && path.substr(path.size() - 12) == ".safetensors") {
      const auto f = io::read_safetensors(path);
      return f.in_order();
    }
    return io::read_torch_state_dict(path);
  }
  const auto f = io::read_safetensors(path);
  io::NamedTensors out;
  for (const auto& n : f.names) out.emplace_back(io::timm_to_torchvision(n, num_stages), f.tensors.at(n));
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
                                    "Convert torchvision .pth / timm safetensors ImageNet weights to finch safetensors");
  struct Opts {
    std::string from, arch, input, output;
    int64_t classes = 0;
  };
  auto o = std::make_shared<Opts>();
  app->add_option("--from", o->from, "Source naming: torchvision (.pth state dict) or timm (efficientnet_bN safetensors)")
      ->required()->check(CLI::IsMember({"torchvision", "timm"}));
  app->add_option("--arch", o->arch, "efficientnet_b0 ... efficientnet_b7 (or b0 ... b7)")->required();
  app->add_option("--input,-i", o->input, "Source file")->required();
  app->add_option("--output,-o", o->output, "finch safetensors to write")->required();
  app->add_option("--classes", o->classes,
                  "Classes of your task: a source head of another size is dropped (the model re-initialises it). "
                  "Default: keep the source's head");
  return {app, [o]() {
            model::canonical_arch(o->arch);  // a wrong --arch is a usage error, before any file is read
            const auto weights = read_source(o->from, o->input, 7);
            const int64_t src_classes = source_classes(weights);
            const int64_t classes = o->classes > 0 ? o->classes : (src_classes > 0 ? src_classes : 1000);
            ModelConfig mc;
            mc.arch = o->arch;
            mc.classes = static_cast<int>(classes);
            model::EfficientNet net(model::options_from_config(mc));
            // Checks every name and shape (the head may differ when --classes asks for another size).
            const auto report = model::load_weights(*net, weights, o->input, {/*allow_head_mismatch=*/true});
            io::NamedTensors out;
            for (const auto& [name, t] : model::model_state(*net))
              if (report.kept_fresh.empty() || name.rfind("classifier.", 0) != 0) out.emplace_back(name, t);
            const bool head_kept = report.kept_fresh.empty();
            io::write_safetensors(o->output, out,
                                  {{"format", "finch"}, {"arch", net->options().arch}, {"source", o->from},
                                   {"source_file", o->input}, {"head", head_kept ? fmt::format("{} classes", classes) : "dropped"}});
            std::cout << fmt::format("wrote {}: {} {} tensors from {} ({}){}\n", o->output, net->options().arch, out.size(),
                                     o->input, o->from,
                                     head_kept ? ""
                                               : fmt::format("; the {}-class source head was dropped, a {}-class head will be "
                                                             "initialised at training time",
                                                             src_classes, classes));
            return 0;
          }};
}

}  // namespace finch::cli
