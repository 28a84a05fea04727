// Where decoded images come from: a raw CUB tree (JPEG files), a list of image files (an ImageFolder
// tree or a CSV manifest, data/layouts.h) or a packed file. The loader only sees this interface.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "finch/data/cub.h"

namespace finch::data {

struct SampleInfo {
  int label = -1;
  bool is_train = false;
  std::optional<BBox> bbox;  // original-image coordinates
  bool is_val = false;       // the data set's own validation sample (make_split then carves nothing)
};

class ImageSource {
 public:
  virtual ~ImageSource() = default;
  virtual size_t size() const = 0;
  virtual const SampleInfo& info(size_t i) const = 0;
  virtual const std::vector<std::string>& class_names() const = 0;
  // The original image's height and width (what crops are planned in) without decoding it: a JPEG's
  // header, a packed file's index. nullopt where only a decode can tell.
  virtual std::optional<std::pair<int64_t, int64_t>> original_size(size_t i) const = 0;
  // RGB uint8 H x W x 3, possibly smaller than the original. `reduction`: 1, 2, 4 or 8, how much
  // smaller than stored a JPEG may be decoded (decode_reduction); ignored where the pixels are
  // stored decoded. RuntimeError naming the file or entry when the image cannot be read.
  virtual at::Tensor decode(size_t i, int reduction) const = 0;
  virtual std::string name(size_t i) const = 0;
  virtual std::string describe() const = 0;  // "raw CUB tree at ...", "packed file ..."
};

std::shared_ptr<ImageSource> open_raw_cub(const std::string& root);

// One image file per sample (ImageFolder trees and CSV manifests): what such a layout reader lists.
struct FileSample {
  std::string path;  // as opened
  int label = -1;
  bool is_train = false, is_val = false;
};
// `what` describes the layout in logs ("ImageFolder tree at runs/photos").
std::shared_ptr<ImageSource> open_file_list(std::vector<FileSample> samples, std::vector<std::string> class_names, std::string what);

}  // namespace finch::data
