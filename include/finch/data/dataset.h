// The dataset a run config describes: source (CUB tree, ImageFolder, CSV manifest or packed file),
// split with the validation slice, class names, and the transform options for train and eval.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "finch/core/config.h"
#include "finch/data/cub.h"
#include "finch/data/source.h"
#include "finch/data/transforms.h"

namespace finch::data {

struct DatasetBundle {
  std::shared_ptr<ImageSource> source;
  Split split;
  bool synthetic = false;
};

// The samples of data.root in the layout data.format names; auto: a folder with images.txt is a
// CUB tree, a folder with train/ an ImageFolder tree, a .csv file a manifest, any other file a
// packed file (data/layouts.h). ConfigError naming the path for a layout that does not read.
std::shared_ptr<ImageSource> open_source(const DataConfig& data);
// The source with its split (the data set's own val/test where it has them).
DatasetBundle open_dataset(const DataConfig& data, uint64_t seed);

TransformOptions train_transform(const DataConfig& data);
TransformOptions eval_transform(const DataConfig& data);

}  // namespace finch::data
