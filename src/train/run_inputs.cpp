#include "finch/train/run_inputs.h"

#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/data/transforms.h"
#include "finch/io/safetensors.h"
#include "finch/io/weight_metadata.h"
#include "finch/model/efficientnet.h"

namespace finch::train {
namespace {

std::string rgb_text(const std::vector<double>& v) { return fmt::format("[{:.6g}, {:.6g}, {:.6g}]", v[0], v[1], v[2]); }

// model.pretrained's metadata (nothing without weights) and how the notes name it.
struct Recorded {
  io::WeightMetadata md;
  std::string from;
};
Recorded read_recorded(const Config& c) {
  if (c.model.pretrained.empty()) return {};
  Recorded r{io::weight_metadata(io::read_safetensors(c.model.pretrained).metadata, c.model.pretrained), ""};
  r.from = c.model.pretrained + (r.md.source.empty() ? "" : " (" + r.md.source + ")");
  return r;
}

void note(std::vector<std::string>& notes, const std::string& key, const std::string& value, const std::string& from) {
  notes.push_back(fmt::format("{} {} ({})", key, value, from.empty() ? "the config" : "recorded in " + from));
}

// data.mean and data.std: the config's, else the weights', else ImageNet's.
void resolve_stats(Config& c, const Recorded& r, std::vector<std::string>& notes) {
  auto stats = [&](std::optional<std::vector<double>>& key, const std::optional<std::array<double, 3>>& recorded,
                   const std::array<double, 3>& imagenet, const char* name) {
    if (key) return note(notes, name, rgb_text(*key), "");
    if (recorded) {
      key = std::vector<double>(recorded->begin(), recorded->end());
      return note(notes, name, rgb_text(*key), r.from);
    }
    key = std::vector<double>{imagenet[0], imagenet[1], imagenet[2]};
    notes.push_back(fmt::format("{} {} (ImageNet's: {})", name, rgb_text(*key),
                                c.model.pretrained.empty() ? "no pretrained weights" : "the weights record none"));
  };
  stats(c.data.mean, r.md.mean, data::kImageNetMean, "data.mean");
  stats(c.data.std, r.md.std, data::kImageNetStd, "data.std");
}

}  // namespace

std::vector<std::string> resolve_normalisation(Config& c) {
  std::vector<std::string> notes;
  resolve_stats(c, read_recorded(c), notes);
  return notes;
}

std::vector<std::string> resolve_from_weights(Config& c) {
  const Recorded r = read_recorded(c);
  const io::WeightMetadata& md = r.md;
  if (!md.arch.empty() && md.arch != model::canonical_arch(c.model.arch))
    throw ConfigError(fmt::format("key 'model.pretrained': '{}' holds {} weights, but model.arch is {}", c.model.pretrained, md.arch,
                                  model::canonical_arch(c.model.arch)));
  std::vector<std::string> notes;
  if (c.model.padding == ModelPadding::kAuto) {
    c.model.padding = md.padding == std::optional<std::string>("tf_same") ? ModelPadding::kTfSame : ModelPadding::kSymmetric;
    notes.push_back(fmt::format("model.padding {} ({})", choice_name(c.model.padding),
                                md.padding ? "recorded in " + r.from : "no weights record one: PyTorch's default"));
  } else {
    note(notes, "model.padding", std::string(choice_name(c.model.padding)), "");
  }
  if (!c.model.bn_eps && md.bn_eps) {
    c.model.bn_eps = md.bn_eps;
    note(notes, "model.bn_eps", fmt::format("{:g}", *c.model.bn_eps), r.from);
  } else if (c.model.bn_eps) {
    note(notes, "model.bn_eps", fmt::format("{:g}", *c.model.bn_eps), "");
  }
  resolve_stats(c, r, notes);
  return notes;
}

bool left_to_inputs(const std::string& key, const nlohmann::json& value) {
  if (key == "model.classes") return value == 0;
  if (key == "model.padding") return value == "auto";
  if (key == "model.bn_eps" || key == "data.mean" || key == "data.std") return value.is_null();
  return false;
}

void resolve_classes(Config& c, size_t dataset_classes) {
  if (c.model.classes == 0) {
    c.model.classes = static_cast<int>(dataset_classes);
    return;
  }
  if (static_cast<size_t>(c.model.classes) != dataset_classes)
    throw ConfigError(fmt::format("key 'model.classes' is {} but the dataset '{}' has {} classes (0 takes the data set's count)",
                                  c.model.classes, c.data.root, dataset_classes));
}

}  // namespace finch::train
