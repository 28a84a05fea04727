// The model's input for one image file under a transform: what `finch predict` feeds the model and
// `finch transform` writes out (the check against torchvision's PIL pipeline reads it).
#include "finch/data/file_input.h"

#include <ATen/ATen.h>

namespace finch::data {

at::Tensor input_from_file(const std::string& path, const TransformOptions& tf, uint64_t sample_seed, Plan* plan_out) {
  // As the loader: planned in the JPEG header's size, decoded as small as the crop allows.
  std::optional<std::pair<int64_t, int64_t>> original;
  if (int64_t h = 0, w = 0; jpeg_dims(path, h, w)) original = std::make_pair(h, w);
  const Planned p = decode_planned(original, [&](int reduction) { return decode_image_file(path, reduction); },  // RuntimeError naming the file
                                   std::nullopt, tf, sample_seed);
  auto x = at::empty({3, tf.size, tf.size}, at::kFloat);
  apply_transform(p.pixels, p.orig_h, p.orig_w, p.plan, tf, x);
  if (plan_out) *plan_out = p.plan;
  return x;
}

}  // namespace finch::data
