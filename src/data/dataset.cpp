#include "finch/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/core/regular_file.h"
#include "finch/data/layouts.h"
#include "finch/data/packed.h"
#include "finch/data/synth.h"

namespace finch::data {

namespace {

DataFormat detect_format(const std::string& root) {
  namespace fs = std::filesystem;
  if (fs::is_directory(root)) {
    if (fs::exists(fs::path(root) / "images.txt")) return DataFormat::kRaw;
    if (is_image_folder(root)) return DataFormat::kImageFolder;
    throw ConfigError(fmt::format("key 'data.root': '{}' is neither a CUB_200_2011 folder (no images.txt) nor an ImageFolder tree "
                                  "(no train/ folder); data.format names the layout explicitly",
                                  root));
  }
  return is_csv_manifest(root) ? DataFormat::kCsv : DataFormat::kPacked;
}

}  // namespace

std::shared_ptr<ImageSource> open_source(const DataConfig& data) {
  if (data.root.empty())
    throw ConfigError("key 'data.root' is empty: point it at a CUB_200_2011 folder, an ImageFolder tree, a CSV manifest or a packed file");
  if (!std::filesystem::exists(data.root)) throw ConfigError(fmt::format("key 'data.root': '{}' does not exist", data.root));
  const bool is_dir = std::filesystem::is_directory(data.root);
  if (!is_dir && !std::filesystem::is_regular_file(data.root))  // Note [Only regular files are opened]
    throw ConfigError(fmt::format("key 'data.root': {}: a data set is a folder, a CSV manifest or a packed file", not_a_regular_file(data.root)));
  const DataFormat format = data.format != DataFormat::kAuto ? data.format : detect_format(data.root);
  const bool wants_dir = format == DataFormat::kRaw || format == DataFormat::kImageFolder;
  if (wants_dir != is_dir)
    throw ConfigError(fmt::format("data.format is {} but '{}' is {}", choice_name(format), data.root, is_dir ? "a folder" : "a file"));
  switch (format) {
    case DataFormat::kRaw: return open_raw_cub(data.root);
    case DataFormat::kImageFolder: return open_image_folder(data.root);
    case DataFormat::kCsv: return open_csv_manifest(data.root);
    default: return open_packed(data.root);
  }
}

DatasetBundle open_dataset(const DataConfig& data, uint64_t seed) {
  DatasetBundle b;
  b.source = open_source(data);
  b.synthetic = is_synthetic(data.root);
  std::vector<int> labels;
  std::vector<bool> is_train, is_val;
  for (size_t i = 0; i < b.source->size(); ++i) {
    labels.push_back(b.source->info(i).label);
    is_train.push_back(b.source->info(i).is_train);
    is_val.push_back(b.source->info(i).is_val);
  }
  b.split = make_split(labels, is_train, data.val_fraction, seed, is_val);
  if (b.split.train.empty()) throw RuntimeError(fmt::format("'{}' has no training images", data.root));
  return b;
}

TransformOptions train_transform(const DataConfig& d) {
  TransformOptions t;
  t.train = true;
  t.size = d.image_size;
  t.resize = d.resize;
  t.scale_lo = d.scale[0];
  t.scale_hi = d.scale[1];
  t.ratio_lo = d.ratio[0];
  t.ratio_hi = d.ratio[1];
  t.hflip = d.hflip;
  t.color_jitter = d.color_jitter;
  t.crop_to_bbox = d.crop_to_bbox;
  t.bbox_margin = d.bbox_margin;
  t.reduced_decode = d.reduced_decode;
  const auto& re = d.random_erasing;
  t.erasing = RandomErasingOptions{re.prob, re.scale[0], re.scale[1], re.ratio[0], re.ratio[1], re.mode, re.max_count};
  t.auto_augment = AutoAugmentOptions{d.auto_augment, d.randaugment.num_ops, d.randaugment.magnitude, d.randaugment.num_magnitude_bins};
  for (int c = 0; c < 3; ++c) {
    if (d.mean) t.normalize.mean[c] = static_cast<float>((*d.mean)[c]);
    if (d.std) t.normalize.std[c] = static_cast<float>((*d.std)[c]);
  }
  return t;
}

TransformOptions eval_transform(const DataConfig& d) {
  TransformOptions t = train_transform(d);
  t.train = false;
  t.erasing.prob = 0;  // training's only
  t.auto_augment.policy = AutoAugmentPolicy::kNone;
  if (d.eval_image_size > 0 || d.eval_resize > 0) {  // a test resolution of its own
    t.size = d.eval_image_size > 0 ? d.eval_image_size : d.image_size;
    t.resize = d.eval_resize > 0 ? d.eval_resize
                                 : std::max<int64_t>(t.size, std::llround(static_cast<double>(t.size) * d.resize / d.image_size));
  }
  return t;
}

}  // namespace finch::data
