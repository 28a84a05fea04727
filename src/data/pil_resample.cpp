// Pillow's bilinear resampling (Image.resize(size, BILINEAR, box), what torchvision's Resize and
// RandomResizedCrop run on PIL images), written after Pillow's libImaging/Resample.c so that finch's
// input pixels are torchvision's bit for bit: a triangle filter widened by the scale factor when
// shrinking (antialiasing), weights normalised per output pixel and held as 22-bit fixed point,
// the horizontal pass first over the rows the vertical one needs, each pass rounded to uint8.
// One thread, integer arithmetic: a loader worker stays one thread of work (ATen's antialiased
// upsample, used before, converted to float and gave every worker an OpenMP team). Pillow 13
// (python-pillow/Pillow#9549) runs the vertical pass first when the height shrinks much more than
// the width; finch keeps the order of every Pillow before it: one level apart there at most.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

#include "finch/data/image_ops.h"

namespace finch::data {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS

double triangle(double x) {  // Pillow's bilinear_filter, support 1
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

uint8_t clip8(int v) {  // Pillow's clip8: round-half-up was folded into the accumulator's start
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<uint8_t>(v >> kPrecisionBits);
}

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis: for output pixel i, the input
// pixels first[i] .. first[i] + count[i] - 1 with weights w[i * ksize + k].
struct Coeffs {
  int ksize = 0;
  std::vector<int> first, count, w;
};

Coeffs coefficients(int in_size, double in0, double in1, int out_size) {
  const double scale = (in1 - in0) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.w.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    // (int) truncates toward zero, as Pillow's C cast.
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = triangle((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? k[x] / ww : k[x];
      c.w[static_cast<size_t>(xx) * c.ksize + x] =
          v < 0 ? static_cast<int>(-0.5 + v * (1 << kPrecisionBits)) : static_cast<int>(0.5 + v * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

// The two passes' inner loops, compiled twice (AVX2 and baseline x86-64) and picked when the
// program loads (GCC's target_clones): the same integer sums either way.
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define FINCH_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define FINCH_MULTIVERSION
#endif

// acc[xx*3 + c] += line[off[t][xx] + c] * wt[t][xx] over the taps t < used.
FINCH_MULTIVERSION void horizontal_row(const uint8_t* line, const int* off, const int* wt, int used, int ow, int* a) {
  for (int t = 0; t < used; ++t) {
    const int* o3 = off + static_cast<size_t>(t) * ow;
    const int* w = wt + static_cast<size_t>(t) * ow;
    for (int xx = 0; xx < ow; ++xx) {
      const uint8_t* p = line + o3[xx];
      a[xx * 3 + 0] += p[0] * w[xx];
      a[xx * 3 + 1] += p[1] * w[xx];
      a[xx * 3 + 2] += p[2] * w[xx];
    }
  }
}

// acc[i] += row[i] * w over n values.
FINCH_MULTIVERSION void accumulate_row(const uint8_t* row, int w, size_t n, int* a) {
  for (size_t i = 0; i < n; ++i) a[i] += row[i] * w;
}

}  // namespace

at::Tensor resize_bilinear_pil(const at::Tensor& rgb, const Box& box, int64_t out_h, int64_t out_w) {
  TORCH_CHECK(rgb.dim() == 3 && rgb.size(2) == 3 && rgb.scalar_type() == at::kByte, "resize_bilinear_pil: expects H x W x 3 uint8");
  TORCH_CHECK(out_h > 0 && out_w > 0, "resize_bilinear_pil: empty output");
  const at::Tensor src = rgb.contiguous();
  const int H = static_cast<int>(src.size(0)), W = static_cast<int>(src.size(1));
  const int oh = static_cast<int>(out_h), ow = static_cast<int>(out_w);
  const uint8_t* in = src.data_ptr<uint8_t>();
  const bool need_h = ow != W || box.x != 0 || box.x + box.w != W;
  const bool need_v = oh != H || box.y != 0 || box.y + box.h != H;
  if (!need_h && !need_v) return src.clone();
  const Coeffs cx = coefficients(W, box.x, box.x + box.w, ow);
  Coeffs cy = coefficients(H, box.y, box.y + box.h, oh);

  // Horizontal pass over the rows the vertical pass reads (Pillow's ybox_first .. ybox_last).
  const int row0 = need_v ? cy.first[0] : 0;
  const int row1 = need_v ? cy.first[oh - 1] + cy.count[oh - 1] : H;
  const int tmp_w = need_h ? ow : W;
  std::vector<uint8_t> tmp;
  const uint8_t* mid = in + static_cast<size_t>(row0) * W * 3;
  if (need_h) {
    // Tap-major: for tap t every output pixel adds its t-th input pixel (a tap past a pixel's
    // count reads a pixel inside the row with weight 0), so the inner loop has no bounds of its
    // own. Integer sums: the order does not change a bit.
    const int taps = cx.ksize;
    std::vector<int> off(static_cast<size_t>(taps) * ow), wt(static_cast<size_t>(taps) * ow);
    for (int t = 0; t < taps; ++t)
      for (int xx = 0; xx < ow; ++xx) {
        const bool in_range = t < cx.count[xx];
        off[static_cast<size_t>(t) * ow + xx] = (in_range ? cx.first[xx] + t : cx.first[xx]) * 3;
        wt[static_cast<size_t>(t) * ow + xx] = in_range ? cx.w[static_cast<size_t>(xx) * taps + t] : 0;
      }
    int used = 0;  // taps any output pixel has
    for (int xx = 0; xx < ow; ++xx) used = std::max(used, cx.count[xx]);
    tmp.resize(static_cast<size_t>(row1 - row0) * ow * 3);
    std::vector<int> acc(static_cast<size_t>(ow) * 3);
    for (int y = row0; y < row1; ++y) {
      const uint8_t* line = in + static_cast<size_t>(y) * W * 3;
      std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
      int* a = acc.data();
      horizontal_row(line, off.data(), wt.data(), used, ow, a);
      uint8_t* o = tmp.data() + static_cast<size_t>(y - row0) * ow * 3;
      for (int i = 0; i < ow * 3; ++i) o[i] = clip8(a[i]);
    }
    mid = tmp.data();
  }
  auto out = at::empty({oh, ow, 3}, at::kByte);
  uint8_t* dst = out.data_ptr<uint8_t>();
  if (!need_v) {
    std::copy(mid, mid + static_cast<size_t>(oh) * ow * 3, dst);
    return out;
  }
  // Vertical pass, its bounds shifted to the rows kept. A whole output row accumulates one input
  // row at a time (the same integer sums in the same order as Pillow's, in a loop the compiler
  // vectorises).
  const size_t stride = static_cast<size_t>(tmp_w) * 3, n = static_cast<size_t>(ow) * 3;
  std::vector<int> acc(n);
  for (int yy = 0; yy < oh; ++yy) {
    const int* k = cy.w.data() + static_cast<size_t>(yy) * cy.ksize;
    const uint8_t* base = mid + static_cast<size_t>(cy.first[yy] - row0) * stride;
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    int* a = acc.data();
    for (int y = 0; y < cy.count[yy]; ++y) accumulate_row(base + y * stride, k[y], n, a);
    uint8_t* o = dst + static_cast<size_t>(yy) * n;
    for (size_t i = 0; i < n; ++i) o[i] = clip8(a[i]);
  }
  return out;
}

at::Tensor resize_antialiased(const at::Tensor& rgb, int64_t out_h, int64_t out_w) {
  return resize_bilinear_pil(rgb, Box{0, 0, static_cast<double>(rgb.size(1)), static_cast<double>(rgb.size(0))}, out_h, out_w);
}

at::Tensor crop_resize(const at::Tensor& rgb, const Box& box, int64_t out_h, int64_t out_w) {
  // torchvision's resized_crop on a PIL image crops first, so the filter never reaches outside the
  // crop: the same here, with the crop cut at the whole pixels that cover `box` (a box in the
  // pixels of a reduced decode or a packed copy is fractional) and `box` resized within it.
  const int64_t H = rgb.size(0), W = rgb.size(1);
  const int64_t x0 = std::clamp<int64_t>(static_cast<int64_t>(std::floor(box.x)), 0, W - 1);
  const int64_t y0 = std::clamp<int64_t>(static_cast<int64_t>(std::floor(box.y)), 0, H - 1);
  const int64_t x1 = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(box.x + box.w)), x0 + 1, W);
  const int64_t y1 = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(box.y + box.h)), y0 + 1, H);
  const double bx = std::max(0.0, box.x - x0), by = std::max(0.0, box.y - y0);
  const Box within{bx, by, std::min(box.w, static_cast<double>(x1 - x0) - bx), std::min(box.h, static_cast<double>(y1 - y0) - by)};
  return resize_bilinear_pil(rgb.slice(0, y0, y1).slice(1, x0, x1), within, out_h, out_w);
}

}  // namespace finch::data
