#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/data/image_ops.h"
#include "finch/data/source.h"

namespace finch::data {
namespace {

class RawCubSource final : public ImageSource {
 public:
  explicit RawCubSource(CubDataset ds) : ds_(std::move(ds)) {
    for (const auto& img : ds_.images) infos_.push_back({img.label, img.is_train, img.bbox, img.is_val});
  }
  size_t size() const override { return ds_.images.size(); }
  const SampleInfo& info(size_t i) const override { return infos_[i]; }
  const std::vector<std::string>& class_names() const override { return ds_.class_names; }
  std::string name(size_t i) const override { return ds_.image_path(i); }
  std::string describe() const override { return fmt::format("raw CUB tree at {} ({} images)", ds_.root, size()); }
  std::optional<std::pair<int64_t, int64_t>> original_size(size_t i) const override {
    int64_t h = 0, w = 0;
    if (jpeg_dims(ds_.image_path(i), h, w)) return std::make_pair(h, w);
    return std::nullopt;
  }
  at::Tensor decode(size_t i, int reduction) const override { return decode_image_file(ds_.image_path(i), reduction); }

 private:
  CubDataset ds_;
  std::vector<SampleInfo> infos_;
};

// ImageFolder trees and CSV manifests: a list of files, each with its label and split.
class FileListSource final : public ImageSource {
 public:
  FileListSource(std::vector<FileSample> samples, std::vector<std::string> classes, std::string what)
      : samples_(std::move(samples)), classes_(std::move(classes)), what_(std::move(what)) {
    for (const auto& s : samples_) {
      SampleInfo info;
      info.label = s.label;
      info.is_train = s.is_train;
      info.is_val = s.is_val;
      infos_.push_back(info);
    }
  }
  size_t size() const override { return samples_.size(); }
  const SampleInfo& info(size_t i) const override { return infos_[i]; }
  const std::vector<std::string>& class_names() const override { return classes_; }
  std::string name(size_t i) const override { return samples_[i].path; }
  std::string describe() const override { return fmt::format("{} ({} images, {} classes)", what_, size(), classes_.size()); }
  std::optional<std::pair<int64_t, int64_t>> original_size(size_t i) const override {
    int64_t h = 0, w = 0;
    if (jpeg_dims(samples_[i].path, h, w)) return std::make_pair(h, w);
    return std::nullopt;  // PNG and others: planned from the decoded pixels
  }
  at::Tensor decode(size_t i, int reduction) const override { return decode_image_file(samples_[i].path, reduction); }

 private:
  std::vector<FileSample> samples_;
  std::vector<std::string> classes_;
  std::string what_;
  std::vector<SampleInfo> infos_;
};

}  // namespace

std::shared_ptr<ImageSource> open_file_list(std::vector<FileSample> samples, std::vector<std::string> class_names, std::string what) {
  if (!have_jpeg_codec())
    throw RuntimeError(fmt::format("{} holds image files, but this finch was built without OpenCV (FINCH_WITH_OPENCV=OFF): "
                                   "pack it with `finch pack` on a machine with OpenCV and set data.root to the packed file",
                                   what));
  return std::make_shared<FileListSource>(std::move(samples), std::move(class_names), std::move(what));
}

std::shared_ptr<ImageSource> open_raw_cub(const std::string& root) {
  if (!have_jpeg_codec())
    throw RuntimeError(fmt::format("'{}' is a raw JPEG tree, but this finch was built without OpenCV (FINCH_WITH_OPENCV=OFF): "
                                   "pack it with `finch pack` on a machine with OpenCV and set data.root to the packed file",
                                   root));
  return std::make_shared<RawCubSource>(read_cub(root));
}

}  // namespace finch::data
