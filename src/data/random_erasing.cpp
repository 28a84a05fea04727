#include "finch/data/random_erasing.h"

#include <cmath>
#include <memory>

#include <torch/torch.h>

#include "finch/core/seed.h"

namespace finch::data {

std::vector<EraseBox> plan_erasing(int64_t img_h, int64_t img_w, const RandomErasingOptions& o, ErasingDraws& draws) {
  std::vector<EraseBox> boxes;
  if (draws.random() > o.prob) return boxes;
  const double area = static_cast<double>(img_h * img_w);
  const int count = o.max_count <= 1 ? 1 : static_cast<int>(draws.randint(1, o.max_count));
  const double log_lo = std::log(o.min_aspect), log_hi = std::log(o.max_aspect);
  for (int k = 0; k < count; ++k) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double target = draws.uniform(o.min_area, o.max_area) * area / count;
      const double aspect = std::exp(draws.uniform(log_lo, log_hi));
      // Python's round() rounds half to even, as nearbyint does in the default rounding mode
      const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(target * aspect)));
      const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(target / aspect)));
      if (w < img_w && h < img_h) {
        EraseBox b;
        b.top = draws.randint(0, img_h - h);
        b.left = draws.randint(0, img_w - w);
        b.h = h, b.w = w;
        boxes.push_back(b);
        break;
      }
    }
  }
  return boxes;
}

void erase_(at::Tensor& img, const std::vector<EraseBox>& boxes, ErasingMode mode, const std::function<at::Tensor(std::vector<int64_t>)>& normal) {
  const int64_t c = img.size(0);
  for (const auto& b : boxes) {
    auto region = img.slice(1, b.top, b.top + b.h).slice(2, b.left, b.left + b.w);
    if (mode == ErasingMode::kConst) region.zero_();
    else if (mode == ErasingMode::kRand) region.copy_(normal({c, 1, 1}).expand_as(region));
    else region.copy_(normal({c, b.h, b.w}));
  }
}

std::function<at::Tensor(std::vector<int64_t>)> seeded_normal(uint64_t seed) {
  auto rng = std::make_shared<Rng>(seed);
  return [rng](std::vector<int64_t> shape) {
    auto t = torch::empty(shape, torch::kFloat);
    float* p = t.data_ptr<float>();
    const int64_t n = t.numel();
    for (int64_t i = 0; i < n; i += 2) {  // Box-Muller: two values per pair of uniforms
      const double u1 = 1.0 - rng->uniform(), u2 = rng->uniform();
      const double r = std::sqrt(-2.0 * std::log(u1));
      p[i] = static_cast<float>(r * std::cos(2.0 * M_PI * u2));
      if (i + 1 < n) p[i + 1] = static_cast<float>(r * std::sin(2.0 * M_PI * u2));
    }
    return t;
  };
}

}  // namespace finch::data
