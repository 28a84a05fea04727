// One image file through a transform, outside any dataset (predict, transform checks).
#pragma once

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

#include "finch/data/transforms.h"

namespace finch::data {

// The normalised float32 3 x size x size tensor the model sees for `path` (no bounding box; the
// random draws of a train transform come from sample_seed). RuntimeError naming the file. `plan`,
// when given, receives the crop (in the file's pixels) and the flip that were applied.
at::Tensor input_from_file(const std::string& path, const TransformOptions& tf, uint64_t sample_seed = 0, Plan* plan = nullptr);

}  // namespace finch::data
