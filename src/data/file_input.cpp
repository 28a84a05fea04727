// The model's input for one image file under a transform: what `finch predict` feeds the model and
// `finch transform` writes out (the check against torchvision's PIL pipeline reads it).
#include "finch/data/file_input.h"

#include <ATen/ATen.h>

namespace finch::data {

at::Tensor input_from_file(const std::string& path, const TransformOptions& tf, uint64_t sample_seed, Plan* plan_out) {
  // As the loader: the crop planned in the original image's pixels (the JPEG header's size), the
  // decode as small as that crop allows; without a header, decoded in full first.
  int64_t oh = 0, ow = 0;
  const bool header = jpeg_dims(path, oh, ow);
  Plan plan;
  if (header) plan = plan_transform(oh, ow, std::nullopt, tf, sample_seed);
  const at::Tensor px = decode_image_file(path, header ? decode_reduction(plan, tf) : 1);  // RuntimeError naming the file
  if (!header) {
    oh = px.size(0), ow = px.size(1);
    plan = plan_transform(oh, ow, std::nullopt, tf, sample_seed);
  }
  auto x = at::empty({3, tf.size, tf.size}, at::kFloat);
  apply_transform(px, oh, ow, plan, tf, x);
  if (plan_out) *plan_out = plan;
  return x;
}

}  // namespace finch::data
