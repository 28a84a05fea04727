#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <tuple>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "data_fixtures.h"
#include "finch/core/error.h"
#include "finch/data/dataset.h"
#include "finch/data/loader.h"
#include "finch/data/packed.h"

using namespace finch::data;
using finch::testing::copy_tree;
using finch::testing::synthetic_tree;

namespace {

std::vector<Batch> all_batches(std::shared_ptr<const ImageSource> src, std::vector<int64_t> idx, LoaderOptions o) {
  BatchLoader l(std::move(src), std::move(idx), o);
  std::vector<Batch> out;
  while (auto b = l.next()) out.push_back(*b);
  return out;
}

LoaderOptions train_opts(int workers) {
  LoaderOptions o;
  o.batch_size = 8;
  o.workers = workers;
  o.prefetch = 2;
  o.transform.size = 48;
  o.transform.resize = 56;
  o.transform.color_jitter = 0.3;
  o.seed = 5;
  o.epoch = 1;
  return o;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(n);
  for (int64_t k = 0; k < n; ++k) v[k] = k;
  return v;
}

}  // namespace

namespace {

// A source whose decode waits (up to 5 s) until `want` decodes are running at once, and counts
// how many ever were: it tells how many batches the loader really keeps in flight.
class RendezvousSource final : public ImageSource {
 public:
  explicit RendezvousSource(int want) : want_(want) {}
  size_t size() const override { return 64; }
  const SampleInfo& info(size_t) const override { return info_; }
  const std::vector<std::string>& class_names() const override { return names_; }
  std::string name(size_t i) const override { return "image " + std::to_string(i); }
  std::string describe() const override { return "rendezvous"; }
  std::optional<std::pair<int64_t, int64_t>> original_size(size_t) const override { return std::nullopt; }
  at::Tensor decode(size_t, int) const override {
    std::unique_lock<std::mutex> lock(m_);
    peak_ = std::max(peak_, ++running_);
    cv_.notify_all();
    cv_.wait_for(lock, std::chrono::seconds(5), [&] { return running_ >= want_ || met_; });
    met_ = met_ || running_ >= want_;
    --running_;
    return torch::zeros({16, 16, 3}, torch::kByte);
  }
  int peak() const {
    std::lock_guard<std::mutex> lock(m_);
    return peak_;
  }

 private:
  int want_;
  SampleInfo info_{0, true, std::nullopt};
  std::vector<std::string> names_{"a"};
  mutable std::mutex m_;
  mutable std::condition_variable cv_;
  mutable int running_ = 0, peak_ = 0;
  mutable bool met_ = false;
};

}  // namespace

// The loader plans each crop in the original image's pixels before decoding, and asks the source
// for the reduction that crop allows (decode_reduction): a 2000 x 2000 photograph cropped to at
// least ~1,900 px for a 64-px input is decoded at 1/8; with data.reduced_decode off, or a source
// that knows no size before decoding, in full.
class RecordingSource final : public ImageSource {
 public:
  explicit RecordingSource(bool knows_size) : knows_size_(knows_size) {}
  size_t size() const override { return 8; }
  const SampleInfo& info(size_t) const override { return info_; }
  const std::vector<std::string>& class_names() const override { return names_; }
  std::string name(size_t i) const override { return "image " + std::to_string(i); }
  std::string describe() const override { return "recording"; }
  std::optional<std::pair<int64_t, int64_t>> original_size(size_t) const override {
    if (knows_size_) return std::make_pair(int64_t{2000}, int64_t{2000});
    return std::nullopt;
  }
  at::Tensor decode(size_t, int reduction) const override {
    std::lock_guard<std::mutex> lock(m_);
    asked_.push_back(reduction);
    const int64_t side = (2000 + reduction - 1) / reduction;  // libjpeg rounds up
    return torch::zeros({side, side, 3}, torch::kByte);
  }
  std::vector<int> asked() const {
    std::lock_guard<std::mutex> lock(m_);
    return asked_;
  }

 private:
  bool knows_size_;
  SampleInfo info_{0, true, std::nullopt};
  std::vector<std::string> names_{"a"};
  mutable std::mutex m_;
  mutable std::vector<int> asked_;
};

TEST(Loader, DecodesAsSmallAsEachPlannedCropAllows) {
  LoaderOptions o;
  o.batch_size = 4;
  o.workers = 2;
  o.transform.size = 64;
  o.transform.scale_lo = 0.9;  // crops of >= ~1,900 px: 1/8 leaves >= 2 x 64
  for (const auto& [knows_size, reduced, want] : {std::tuple{true, true, 8}, std::tuple{true, false, 1}, std::tuple{false, true, 1}}) {
    auto src = std::make_shared<RecordingSource>(knows_size);
    o.transform.reduced_decode = reduced;
    const auto batches = all_batches(src, iota(8), o);
    ASSERT_EQ(batches.size(), 2u);
    EXPECT_EQ(src->asked(), std::vector<int>(8, want)) << "knows size " << knows_size << ", reduced_decode " << reduced;
  }
}

TEST(Loader, EveryWorkerHasABatchInFlightWhateverThePrefetch) {
  auto src = std::make_shared<RendezvousSource>(4);
  LoaderOptions o;
  o.batch_size = 1;
  o.workers = 4;
  o.prefetch = 1;  // fewer than the workers: still four batches in flight
  o.transform.size = 8;
  o.transform.resize = 8;
  BatchLoader l(src, iota(4), o);
  while (l.next()) {}
  EXPECT_EQ(src->peak(), 4);
}

TEST(Loader, BatchesDoNotDependOnTheNumberOfWorkers) {
  const auto src = open_raw_cub(synthetic_tree(6, 10));
  const auto a = all_batches(src, iota(60), train_opts(0));
  const auto b = all_batches(src, iota(60), train_opts(3));
  ASSERT_EQ(a.size(), 8u);  // 60 / 8 rounded up
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_TRUE(torch::equal(a[k].images, b[k].images)) << "batch " << k;
    EXPECT_TRUE(torch::equal(a[k].labels, b[k].labels));
  }
  EXPECT_EQ(a.back().images.size(0), 4);
  EXPECT_EQ(a[0].images.sizes(), (std::vector<int64_t>{8, 3, 48, 48}));
}

TEST(Loader, ASampleLooksTheSameWhicheverBatchOrRankItIsIn) {
  const auto src = open_raw_cub(synthetic_tree(6, 10));
  // Sample 17 at position 1 of one shard and position 0 of another.
  const auto a = all_batches(src, {3, 17}, train_opts(1));
  const auto b = all_batches(src, {17, 40, 41}, train_opts(2));
  EXPECT_TRUE(torch::equal(a[0].images[1], b[0].images[0]));
  // Another epoch augments differently.
  auto o = train_opts(1);
  o.epoch = 2;
  EXPECT_FALSE(torch::equal(all_batches(src, {17}, o)[0].images[0], b[0].images[0]));
}

// Note [Memory format]: a channels_last model gets its batches written NHWC by the workers (no
// conversion before the forward), with every value what the NCHW batch holds: crop, flip, colour
// jitter, AutoAugment and random erasing included.
TEST(Loader, ChannelsLastBatchesHoldTheSameValuesInNhwcMemory) {
  const auto src = open_raw_cub(synthetic_tree(6, 10));
  auto o = train_opts(2);
  o.transform.auto_augment.policy = finch::AutoAugmentPolicy::kRandAugment;
  o.transform.erasing.prob = 0.5;
  const auto nchw = all_batches(src, iota(20), o);
  o.channels_last = true;
  const auto nhwc = all_batches(src, iota(20), o);
  ASSERT_EQ(nchw.size(), nhwc.size());
  for (size_t k = 0; k < nchw.size(); ++k) {
    EXPECT_TRUE(nchw[k].images.is_contiguous()) << "batch " << k;
    EXPECT_TRUE(nhwc[k].images.is_contiguous(at::MemoryFormat::ChannelsLast)) << "batch " << k << ": strides " << nhwc[k].images.strides();
    EXPECT_TRUE(torch::equal(nchw[k].images, nhwc[k].images)) << "batch " << k;
  }
}

TEST(Loader, EvalTransformIsDeterministicAndNormalised) {
  const auto src = open_raw_cub(synthetic_tree(6, 10));
  auto o = train_opts(2);
  o.transform.train = false;
  const auto x = all_batches(src, iota(16), o);
  o.epoch = 9;
  const auto y = all_batches(src, iota(16), o);
  EXPECT_TRUE(torch::equal(x[0].images, y[0].images));  // eval ignores the epoch
  const auto mean = x[0].images.mean().item<float>();
  EXPECT_GT(mean, -2.0f);
  EXPECT_LT(mean, 2.0f);
}

// A test resolution of its own (data.eval_image_size, data.eval_resize): the eval crop and its
// resize; without eval_resize the crop fraction of image_size / resize is kept (timm's crop_pct).
TEST(Dataset, EvalTransformTakesTheEvalResolution) {
  finch::DataConfig d;  // image_size 224, resize 256
  EXPECT_EQ(eval_transform(d).size, 224);
  EXPECT_EQ(eval_transform(d).resize, 256);
  d.eval_image_size = 288;
  EXPECT_EQ(eval_transform(d).size, 288);
  EXPECT_EQ(eval_transform(d).resize, 329);  // 288 x 256 / 224 = 329.14
  EXPECT_EQ(train_transform(d).size, 224) << "training keeps its own crop";
  d.eval_resize = 320;
  EXPECT_EQ(eval_transform(d).resize, 320);
  const auto src = open_raw_cub(synthetic_tree(6, 10));
  auto o = train_opts(2);
  o.transform = eval_transform(d);
  EXPECT_EQ(all_batches(src, iota(4), o)[0].images.size(3), 288);
}

TEST(Loader, RawAndPackedGiveTheSameBatchesUpToResizeArithmetic) {
  const auto root = synthetic_tree(6, 10);
  const auto packed = (std::filesystem::temp_directory_path() / "finch_loader_packed.bin").string();
  PackOptions p;
  p.short_side = 0;  // same pixels as the JPEGs decode to
  pack_cub(read_cub(root), packed, p);
  const auto raw = all_batches(open_raw_cub(root), iota(24), train_opts(2));
  const auto pk = all_batches(open_packed(packed), iota(24), train_opts(2));
  for (size_t k = 0; k < raw.size(); ++k) {
    EXPECT_TRUE(torch::equal(raw[k].labels, pk[k].labels));
    EXPECT_TRUE(torch::allclose(raw[k].images, pk[k].images, 0, 1e-5)) << "batch " << k;
  }
  // Packed at a smaller size: same crops, slightly different pixels.
  p.short_side = 56;
  pack_cub(read_cub(root), packed, p);
  const auto small = all_batches(open_packed(packed), iota(24), train_opts(2));
  const double diff = (small[0].images - raw[0].images).abs().mean().item<double>();
  EXPECT_LT(diff, 0.25) << "same crops expected (mean abs diff of normalised pixels)";
  // ... whereas another seed gives other crops.
  auto other = train_opts(2);
  other.seed = 99;
  const double diff_other = (all_batches(open_packed(packed), iota(24), other)[0].images - raw[0].images).abs().mean().item<double>();
  EXPECT_GT(diff_other, 2 * diff);
}

TEST(Loader, CorruptImageFailsWithItsPathOrIsSkipped) {
  const auto t = copy_tree(synthetic_tree(6, 10), "corrupt");
  const auto ds = read_cub(t);
  const std::string victim = ds.image_path(5);
  std::ofstream(victim, std::ios::trunc) << "not a jpeg";
  std::filesystem::remove(ds.image_path(9));
  const auto src = open_raw_cub(t);
  try {
    all_batches(src, iota(16), train_opts(2));
    FAIL() << "a corrupt image must stop the loader";
  } catch (const finch::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find(victim), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("data.on_error"), std::string::npos);
  }
  auto o = train_opts(2);
  o.skip_errors = true;
  BatchLoader l(src, iota(16), o);
  int64_t kept = 0;
  while (auto b = l.next()) {
    kept += b->images.size(0);
    for (int64_t k = 0; k < b->indices.size(0); ++k) {
      EXPECT_NE(b->indices[k].item<int64_t>(), 5);
      // labels stay aligned with their images' indices after a skip
      EXPECT_EQ(b->labels[k].item<int64_t>(), src->info(b->indices[k].item<int64_t>()).label);
    }
  }
  EXPECT_EQ(kept, 14);
  EXPECT_EQ(l.skipped(), 2);
}

TEST(Packed, HeaderIsValidated) {
  const auto packed = (std::filesystem::temp_directory_path() / "finch_packed_trunc.bin").string();
  PackOptions p;
  p.short_side = 32;
  pack_cub(read_cub(synthetic_tree(6, 10)), packed, p);
  EXPECT_EQ(open_packed(packed)->size(), 60u);
  std::filesystem::resize_file(packed, std::filesystem::file_size(packed) - 10);
  try {
    open_packed(packed);
    FAIL();
  } catch (const finch::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(is_packed_file(synthetic_tree(6, 10) + "/images.txt"));
}

namespace {

// Rewrites a packed file's JSON index (the tail: index, its length as a little-endian u64, the magic).
void edit_packed_index(const std::string& path, const std::function<void(nlohmann::json&)>& edit) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  uint64_t hlen = 0;
  for (int k = 7; k >= 0; --k) hlen = (hlen << 8) | static_cast<uint8_t>(bytes[bytes.size() - 16 + k]);
  const size_t index_at = bytes.size() - 16 - hlen;
  auto index = nlohmann::json::parse(bytes.substr(index_at, hlen));
  edit(index);
  std::string out = bytes.substr(0, index_at) + index.dump();
  const uint64_t n = out.size() - index_at;
  for (int k = 0; k < 8; ++k) out.push_back(static_cast<char>((n >> (8 * k)) & 0xff));
  out += bytes.substr(bytes.size() - 8);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << out;
}

}  // namespace

// An index entry the packer never writes is refused naming the file and image, before any image is
// decoded: sizes of -2 x -2 with 12 bytes (raw) and an original size of 0 or 10^12 were "usable: yes"
// and then failed deep in LibTorch (or with vector::_M_default_append); a box of 1e39 became inf.
TEST(Packed, ImpossibleIndexEntriesAreRefused) {
  const auto packed = (std::filesystem::temp_directory_path() / "finch_packed_odd.bin").string();
  PackOptions p;
  p.short_side = 32;
  const std::vector<std::pair<std::function<void(nlohmann::json&)>, std::string>> odd = {
      {[](nlohmann::json& e) { e["h"] = -2, e["w"] = -2, e["bytes"] = 12; }, "has size -2 x -2"},
      {[](nlohmann::json& e) { e["orig_h"] = 0, e["orig_w"] = 0; }, "has original size 0 x 0"},
      {[](nlohmann::json& e) { e["orig_h"] = -5; }, "has original size -5 x"},
      {[](nlohmann::json& e) { e["orig_w"] = 1'000'000'000'000; }, "x 1000000000000"},
      {[](nlohmann::json& e) { e["bbox"] = {1, 2, 1e39, 4}; }, "has bounding box"},
      {[](nlohmann::json& e) { e["bbox"] = {1, 2}; }, "has bounding box"},
      {[](nlohmann::json& e) { e["bbox"] = {1, 2, -3, 4}; }, "has bounding box"}};
  for (const auto& [edit, message] : odd) {
    pack_cub(read_cub(synthetic_tree(6, 10)), packed, p);
    edit_packed_index(packed, [&](nlohmann::json& index) { edit(index["images"][3]); });
    try {
      open_packed(packed);
      ADD_FAILURE() << "accepted; wanted: " << message;
    } catch (const finch::RuntimeError& e) {
      EXPECT_NE(std::string(e.what()).find("'" + packed + "' is not a valid finch packed dataset: image '"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
  pack_cub(read_cub(synthetic_tree(6, 10)), packed, p);
  edit_packed_index(packed, [](nlohmann::json&) {});
  EXPECT_EQ(open_packed(packed)->size(), 60u);  // the rewrite alone keeps it usable
}

TEST(Dataset, OpensFromConfigAndMarksSyntheticData) {
  finch::DataConfig dc;
  dc.root = synthetic_tree(6, 10);
  dc.val_fraction = 0.2;
  const auto b = open_dataset(dc, 1);
  EXPECT_TRUE(b.synthetic);
  EXPECT_EQ(b.split.test.size(), 30u);
  EXPECT_EQ(b.split.val.size(), 6u);  // 1 of 5 per class
  EXPECT_EQ(b.split.train.size(), 24u);
  dc.root = "/nonexistent";
  EXPECT_THROW(open_dataset(dc, 1), finch::ConfigError);
}

// On a GPU the labels are copied with non_blocking=true beside the images: from pageable memory
// that copy waits for the host every step, so they are pinned like the images (issue 27). Needs a
// CUDA device to pin at all: skipped on CPU machines (the GPU check's machine has one).
TEST(Loader, LabelsArePinnedLikeTheImagesForAGpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device: page-locked memory needs one";
  const auto src = open_raw_cub(synthetic_tree(2, 4));
  auto o = train_opts(1);
  o.pin_memory = true;
  BatchLoader l(src, iota(8), o);
  const auto b = l.next();
  ASSERT_TRUE(b.has_value());
  EXPECT_TRUE(b->images.is_pinned());
  EXPECT_TRUE(b->labels.is_pinned());
}
