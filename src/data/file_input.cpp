// The model's input for one image file under a transform: what `finch predict` feeds the model and
// `finch transform` writes out (the check against torchvision's PIL pipeline reads it).
#include "finch/data/file_input.h"

#include <ATen/ATen.h>

namespace finch::data {

at::Tensor input_from_file(const std::string& path, const TransformOptions& tf, uint64_t sample_seed) {
  const at::Tensor px = decode_image_file(path, needed_short_side(tf));  // RuntimeError naming the file
  // The plan is in the original image's pixels: the header's size when the decode was reduced.
  int64_t oh = px.size(0), ow = px.size(1);
  if (!jpeg_dims(path, oh, ow)) oh = px.size(0), ow = px.size(1);
  auto x = at::empty({3, tf.size, tf.size}, at::kFloat);
  apply_transform(px, oh, ow, plan_transform(oh, ow, std::nullopt, tf, sample_seed), tf, x);
  return x;
}

}  // namespace finch::data
