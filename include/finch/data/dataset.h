// The dataset a run config describes: source (raw tree or packed file), official split with the
// validation slice, class names, and the transform options for train and eval.
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

// data.format auto: a folder is a raw tree, a file is a packed dataset.
DatasetBundle open_dataset(const DataConfig& data, uint64_t seed);

TransformOptions train_transform(const DataConfig& data);
TransformOptions eval_transform(const DataConfig& data);

}  // namespace finch::data
