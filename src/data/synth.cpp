#include "finch/data/synth.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "finch/core/worker_threads.h"
#include "finch/core/error.h"
#include "finch/core/seed.h"
#include "finch/data/image_ops.h"

namespace finch::data {
namespace fs = std::filesystem;
namespace {

constexpr const char* kMarker = "SYNTHETIC_NOT_CUB.txt";

struct Attributes {
  int body, head, wings, tail, beak;
};

Attributes attributes(int label) {
  Attributes a;
  a.body = label % 5;
  a.head = (label / 5) % 5;
  a.wings = (label / 25) % 4;
  a.tail = (label / 100) % 2;
  a.beak = (label / 200) % 2;
  return a;
}

const float kBody[5][3] = {{0.55f, 0.35f, 0.20f}, {0.25f, 0.30f, 0.55f}, {0.35f, 0.50f, 0.25f}, {0.60f, 0.55f, 0.30f}, {0.40f, 0.40f, 0.42f}};
const float kHead[5][3] = {{0.85f, 0.15f, 0.10f}, {0.95f, 0.85f, 0.20f}, {0.10f, 0.10f, 0.10f}, {0.92f, 0.92f, 0.90f}, {0.20f, 0.55f, 0.80f}};

std::string class_name(int k) { return fmt::format("{:03d}.Synthetic_bird_{:03d}", k + 1, k + 1); }

// Paints `colour` where `mask` (H x W float in [0,1]) is set.
void paint(at::Tensor& img, const at::Tensor& mask, const float* colour, float shade) {
  for (int c = 0; c < 3; ++c) img[c].mul_(1 - mask).add_(mask * std::clamp(colour[c] * shade, 0.0f, 1.0f));
}

// Soft-edged rotated ellipse centred at (cx, cy) with radii (a, b), angle th.
at::Tensor ellipse(const at::Tensor& xx, const at::Tensor& yy, double cx, double cy, double a, double b, double th) {
  const auto dx = xx - cx, dy = yy - cy;
  const auto u = (dx * std::cos(th) + dy * std::sin(th)) / a;
  const auto v = (-dx * std::sin(th) + dy * std::cos(th)) / b;
  return (1.0 - (u * u + v * v)).mul(4.0).clamp(0, 1);
}

}  // namespace

PackItem render_synthetic(const SynthOptions& o, int64_t index, int label) {
  Rng rng(derive_seed(o.seed, {seed_stream::kSynthShape, static_cast<uint64_t>(index)}));
  const Attributes at_ = attributes(label);
  const int64_t H = o.size, W = static_cast<int64_t>(std::lround(o.size * rng.uniform(1.0, 1.4)));
  const auto yy = at::arange(H, at::kFloat).unsqueeze(1).expand({H, W});
  const auto xx = at::arange(W, at::kFloat).unsqueeze(0).expand({H, W});

  // Background: a random two-colour gradient, noise and a few dark "branches".
  at::Tensor img = at::empty({3, H, W}, at::kFloat);
  const double gth = rng.uniform(0, 2 * M_PI);
  const auto g = ((xx * std::cos(gth) + yy * std::sin(gth)) / static_cast<double>(std::max(H, W))).clamp(-1, 1) * 0.5 + 0.5;
  for (int c = 0; c < 3; ++c) {
    double c0 = rng.uniform(0.2, 0.9), c1 = rng.uniform(0.2, 0.9);
    if (o.easy) {  // a per-class hue, lightly jittered
      const double hue = static_cast<double>(label) / o.classes * 2 * M_PI + c * 2.0944;
      c0 = c1 = 0.55 + 0.35 * std::cos(hue) + rng.uniform(-0.05, 0.05);
    }
    img[c].copy_(g * c0 + (1 - g) * c1);
  }
  at::Generator gen = at::detail::createCPUGenerator(derive_seed(o.seed, {seed_stream::kSynthNoise, static_cast<uint64_t>(index)}));
  img.add_(at::randn({3, H, W}, gen) * 0.04);
  const int branches = static_cast<int>(rng.below(4));
  for (int k = 0; k < branches; ++k) {
    const double th = rng.uniform(0, M_PI), c = rng.uniform(0, W);
    const auto d = (xx - c) * std::cos(th) + (yy - H / 2.0) * std::sin(th);
    const float brown[3] = {0.30f, 0.22f, 0.15f};
    paint(img, (1.5 - d.abs()).clamp(0, 1), brown, static_cast<float>(rng.uniform(0.6, 1.2)));
  }

  // The bird: pose, scale and lighting vary; the class lives in the details.
  const double scale = rng.uniform(0.18, 0.32) * H;
  const double cx = rng.uniform(0.3, 0.7) * W, cy = rng.uniform(0.35, 0.65) * H;
  const double th = rng.uniform(-0.5, 0.5) + (rng.uniform() < 0.5 ? 0.0 : M_PI);  // facing left or right
  const float shade = static_cast<float>(rng.uniform(0.75, 1.2));
  const double ct = std::cos(th), st = std::sin(th);
  auto along = [&](double t, double n) { return std::pair{cx + t * ct - n * st, cy + t * st + n * ct}; };
  float body[3];
  for (int c = 0; c < 3; ++c) body[c] = kBody[at_.body][c] + static_cast<float>(rng.uniform(-0.05, 0.05));

  // Tail: short fan or long streamer behind the body.
  const double tail_len = at_.tail ? 1.5 * scale : 0.8 * scale;
  const auto [tx, ty] = along(-scale - tail_len / 2, 0);
  at::Tensor mask = ellipse(xx, yy, tx, ty, tail_len / 2 + 0.1 * scale, at_.tail ? 0.12 * scale : 0.3 * scale, th);
  paint(img, mask, body, shade * 0.8f);
  at::Tensor bird = mask.clone();
  // Body.
  mask = ellipse(xx, yy, cx, cy, scale, 0.6 * scale, th);
  paint(img, mask, body, shade);
  bird = at::maximum(bird, mask);
  // Wing pattern: plain, one bar, two bars, or spots.
  const float dark[3] = {0.08f, 0.08f, 0.08f}, light[3] = {0.95f, 0.95f, 0.95f};
  if (at_.wings == 1 || at_.wings == 2) {
    for (int k = 0; k < at_.wings; ++k) {
      const auto [wx, wy] = along(-0.1 * scale - 0.35 * k * scale, 0.05 * scale);
      paint(img, ellipse(xx, yy, wx, wy, 0.09 * scale, 0.45 * scale, th) * mask, light, shade);
    }
  } else if (at_.wings == 3) {
    for (int k = 0; k < 4; ++k) {
      const auto [wx, wy] = along(-0.5 * scale + 0.3 * k * scale, (k % 2 ? 0.15 : -0.15) * scale);
      paint(img, ellipse(xx, yy, wx, wy, 0.1 * scale, 0.1 * scale, 0) * mask, dark, shade);
    }
  }
  // Head and eye, beak.
  const auto [hx, hy] = along(1.05 * scale, -0.25 * scale);
  mask = ellipse(xx, yy, hx, hy, 0.42 * scale, 0.42 * scale, 0);
  paint(img, mask, kHead[at_.head], shade);
  bird = at::maximum(bird, mask);
  const auto [ex, ey] = along(1.2 * scale, -0.35 * scale);
  paint(img, ellipse(xx, yy, ex, ey, 0.08 * scale, 0.08 * scale, 0), dark, 1.0f);
  const double beak = at_.beak ? 0.55 * scale : 0.3 * scale;
  const auto [bx, by] = along(1.45 * scale + beak / 2, -0.25 * scale);
  const float beak_c[3] = {0.85f, 0.6f, 0.1f};
  mask = ellipse(xx, yy, bx, by, beak / 2, 0.08 * scale, th);
  paint(img, mask, beak_c, shade);
  bird = at::maximum(bird, mask);

  PackItem item;
  item.pixels = img.clamp(0, 1).mul(255).round().to(at::kByte).permute({1, 2, 0}).contiguous();
  const auto on = (bird > 0.5).nonzero();
  BBox box;
  if (on.size(0) > 0) {
    const auto lo = std::get<0>(on.min(0)), hi = std::get<0>(on.max(0));
    box = BBox{lo[1].item<float>(), lo[0].item<float>(), hi[1].item<float>() - lo[1].item<float>() + 1,
               hi[0].item<float>() - lo[0].item<float>() + 1};
  } else {
    box = BBox{0, 0, static_cast<float>(W), static_cast<float>(H)};
  }
  item.meta.id = index + 1;
  item.meta.label = label;
  item.meta.bbox = box;
  item.meta.path = fmt::format("{}/Synthetic_bird_{:03d}_{:06d}.jpg", class_name(label), label + 1, index + 1);
  // Official-style split: a fixed, seeded share of each class is train.
  const int64_t within = index % o.per_class;
  Rng split_rng(derive_seed(o.seed, {seed_stream::kSynthSplit, static_cast<uint64_t>(label)}));
  std::vector<int64_t> order(o.per_class);
  for (int64_t k = 0; k < o.per_class; ++k) order[k] = k;
  shuffle(order, split_rng.next());
  const auto n_train = static_cast<int64_t>(std::llround(o.train_fraction * o.per_class));
  item.meta.is_train = std::find(order.begin(), order.begin() + n_train, within) != order.begin() + n_train;
  return item;
}

namespace {

void check(const SynthOptions& o) {
  if (o.classes < 2 || o.classes > 400) throw ConfigError(fmt::format("synth: --classes must be in 2..400, got {}", o.classes));
  if (o.per_class < 2) throw ConfigError(fmt::format("synth: --per-class must be >= 2, got {}", o.per_class));
  if (o.size < 32 || o.size > 1024) throw ConfigError(fmt::format("synth: --size must be in 32..1024, got {}", o.size));
}

// Images are numbered class-major, as in CUB's images.txt.
PackItem item_at(const SynthOptions& o, size_t i) { return render_synthetic(o, static_cast<int64_t>(i), static_cast<int>(i / o.per_class)); }

std::vector<std::string> class_names(const SynthOptions& o) {
  std::vector<std::string> names;
  for (int k = 0; k < o.classes; ++k) names.push_back(class_name(k));
  return names;
}

}  // namespace

void write_synthetic_tree(const std::string& dir, const SynthOptions& o) {
  check(o);
  if (!have_jpeg_codec())
    throw RuntimeError("synth: writing a JPEG tree needs OpenCV; this build has none: use --packed FILE instead");
  const size_t n = static_cast<size_t>(o.classes) * o.per_class;
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "images", ec);
  if (ec) throw RuntimeError("cannot create '" + dir + "': " + ec.message());
  for (int k = 0; k < o.classes; ++k) fs::create_directories(fs::path(dir) / "images" / class_name(k));
  std::vector<CubImage> metas(n);
  std::atomic<size_t> next{0};
  std::string error;
  std::mutex error_mutex;
  std::vector<std::thread> threads = start_threads(std::max(1, o.workers), [&](int) {
      for (size_t i = next++; i < n; i = next++) {
        try {
          PackItem item = item_at(o, i);
          write_jpeg((fs::path(dir) / "images" / item.meta.path).string(), item.pixels, 92);
          metas[i] = item.meta;
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(error_mutex);
          error = e.what();
          next = n;
        }
      }
    }, [&] { next = n; }, fmt::format("--workers {}", o.workers));
  for (auto& t : threads) t.join();
  if (!error.empty()) throw RuntimeError("synth: " + error);
  std::ofstream images(fs::path(dir) / "images.txt"), labels(fs::path(dir) / "image_class_labels.txt"),
      split(fs::path(dir) / "train_test_split.txt"), classes(fs::path(dir) / "classes.txt"), boxes(fs::path(dir) / "bounding_boxes.txt");
  for (int k = 0; k < o.classes; ++k) classes << k + 1 << ' ' << class_name(k) << '\n';
  for (const auto& m : metas) {
    images << m.id << ' ' << m.path << '\n';
    labels << m.id << ' ' << m.label + 1 << '\n';
    split << m.id << ' ' << (m.is_train ? 1 : 0) << '\n';
    boxes << m.id << ' ' << m.bbox->x << ' ' << m.bbox->y << ' ' << m.bbox->w << ' ' << m.bbox->h << '\n';
  }
  std::ofstream(fs::path(dir) / kMarker) << fmt::format(
      "SYNTHETIC DATA generated by `finch synth` (classes={}, per_class={}, size={}, seed={}{}).\n"
      "This is NOT CUB-200-2011: results on it say nothing about birds.\n",
      o.classes, o.per_class, o.size, o.seed, o.easy ? ", easy: the class also sets the background hue" : "");
  if (!images || !labels || !split || !classes || !boxes) throw RuntimeError("cannot write the text files of '" + dir + "'");
}

void write_synthetic_packed(const std::string& file, const SynthOptions& o, const PackOptions& pack) {
  check(o);
  pack_items(static_cast<size_t>(o.classes) * o.per_class, [&](size_t i) { return item_at(o, i); }, class_names(o),
             fmt::format("SYNTHETIC (finch synth, seed {}): NOT CUB-200-2011", o.seed), file, pack);
}

bool is_synthetic(const std::string& root) {
  if (fs::is_directory(root)) return fs::exists(fs::path(root) / kMarker);
  return is_packed_file(root) && open_packed(root)->describe().find("SYNTHETIC") != std::string::npos;
}

}  // namespace finch::data
