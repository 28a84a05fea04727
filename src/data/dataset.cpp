#include "finch/data/dataset.h"

#include <filesystem>

#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/data/packed.h"
#include "finch/data/synth.h"

namespace finch::data {

DatasetBundle open_dataset(const DataConfig& data, uint64_t seed) {
  if (data.root.empty()) throw ConfigError("key 'data.root' is empty: point it at a CUB_200_2011 folder or a packed file");
  if (!std::filesystem::exists(data.root)) throw ConfigError(fmt::format("key 'data.root': '{}' does not exist", data.root));
  const bool is_dir = std::filesystem::is_directory(data.root);
  const DataFormat format = data.format != DataFormat::kAuto ? data.format : is_dir ? DataFormat::kRaw : DataFormat::kPacked;
  if (format == DataFormat::kRaw && !is_dir) throw ConfigError(fmt::format("data.format is raw but '{}' is not a folder", data.root));
  if (format == DataFormat::kPacked && is_dir) throw ConfigError(fmt::format("data.format is packed but '{}' is a folder", data.root));
  DatasetBundle b;
  b.source = format == DataFormat::kRaw ? open_raw_cub(data.root) : open_packed(data.root);
  b.synthetic = is_synthetic(data.root);
  std::vector<int> labels;
  std::vector<bool> is_train;
  for (size_t i = 0; i < b.source->size(); ++i) {
    labels.push_back(b.source->info(i).label);
    is_train.push_back(b.source->info(i).is_train);
  }
  b.split = make_split(labels, is_train, data.val_fraction, seed);
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
  return t;
}

TransformOptions eval_transform(const DataConfig& d) {
  TransformOptions t = train_transform(d);
  t.train = false;
  return t;
}

}  // namespace finch::data
