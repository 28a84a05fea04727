// finch transform: the tensors the model sees for image files, written to a safetensors file — to
// look at a pipeline's output, or to compare it with another (tests/reference/eval_fidelity.py holds
// it against torchvision's PIL pipeline).
#include <iostream>

#include <fmt/format.h>

#include "commands.h"
#include "finch/core/error.h"
#include "finch/data/dataset.h"
#include "finch/data/file_input.h"
#include "finch/io/safetensors.h"
#include "finch/train/run_inputs.h"

#include <fmt/ranges.h>

namespace finch::cli {

Command add_transform(CLI::App& parent) {
  auto* app = parent.add_subcommand("transform", "Write the input tensors the model sees for image files (eval or train transform)");
  struct Opts {
    std::vector<std::string> images;
    std::string config, weights, out;
    int size = 0, resize = 0;
    bool train = false;
    uint64_t seed = 0;
  };
  auto o = std::make_shared<Opts>();
  app->add_option("--image", o->images, "Image files (JPEG, PNG, ...)")->required();
  app->add_option("--out", o->out, "safetensors file: input.0, input.1, ... (3 x size x size, normalised float32)")->required();
  app->add_option("--config", o->config, "Take data.image_size, data.resize and the augmentation from this config");
  app->add_option("--weights", o->weights,
                  "Normalise as these converted weights record (their data.mean/std; default: the config's model.pretrained)");
  app->add_option("--size", o->size, "Crop size (default: data.image_size)")->check(CLI::Range(8, 4096));
  app->add_option("--resize", o->resize, "Eval: shorter side before the centre crop (default: data.resize)")->check(CLI::Range(8, 65535));
  app->add_flag("--train", o->train, "The train transform (RandomResizedCrop, flip, ...) instead of the eval one");
  app->add_option("--seed", o->seed, "Train transform: the sample seed of the random draws")->capture_default_str();
  return {app, [o]() {
            Config c = o->config.empty() ? Config{} : load_config(o->config);
            if (!o->weights.empty()) c.model.pretrained = o->weights;
            train::resolve_normalisation(c);  // data.mean/std as the config or the weights say (else ImageNet's)
            DataConfig dc = c.data;
            if (o->size > 0) dc.image_size = o->size;
            if (o->resize > 0) dc.resize = o->resize;
            else if (o->size > 0 && o->config.empty()) dc.resize = static_cast<int>(o->size * 256 / 224);  // torchvision's ratio
            if (dc.image_size < 1 || dc.resize < dc.image_size)
              throw ConfigError(fmt::format("transform: need 1 <= --size <= --resize (got {} and {})", dc.image_size, dc.resize));
            const auto tf = o->train ? data::train_transform(dc) : data::eval_transform(dc);
            std::vector<std::pair<std::string, at::Tensor>> tensors;
            std::map<std::string, std::string> meta = {{"transform", o->train ? "train" : "eval"},
                                                       {"mean", fmt::format("{}", fmt::join(tf.normalize.mean, ","))},
                                                       {"std", fmt::format("{}", fmt::join(tf.normalize.std, ","))},
                                                       {"size", std::to_string(tf.size)},
                                                       {"resize", std::to_string(tf.resize)}};
            for (size_t k = 0; k < o->images.size(); ++k) {
              data::Plan plan;
              tensors.emplace_back(fmt::format("input.{}", k), data::input_from_file(o->images[k], tf, o->seed + k, &plan));
              meta[fmt::format("image.{}", k)] = o->images[k];
              // The train draw, so that another pipeline can apply the same crop and flip
              // (tests/reference/train_fidelity.py: torchvision's resized_crop with this box).
              if (o->train)
                meta[fmt::format("plan.{}", k)] = fmt::format("top={} left={} height={} width={} flip={}", plan.box.y, plan.box.x,
                                                              plan.box.h, plan.box.w, plan.flip ? 1 : 0);
            }
            io::write_safetensors(o->out, tensors, meta);
            std::cout << fmt::format("{} input(s) of 3x{}x{} ({} transform, resize {}) -> {}\n", tensors.size(), tf.size, tf.size,
                                     meta["transform"], tf.resize, o->out);
            return 0;
          }};
}

}  // namespace finch::cli
