// CUB-200-2011 as Caltech ships it:
//   CUB_200_2011/images.txt              "<image_id> <class_folder>/<file>.jpg"
//   CUB_200_2011/image_class_labels.txt  "<image_id> <class_id>"          (1-based classes)
//   CUB_200_2011/train_test_split.txt    "<image_id> <is_training_image>" (1 train, 0 test)
//   CUB_200_2011/classes.txt             "<class_id> <class_name>"
//   CUB_200_2011/bounding_boxes.txt      "<image_id> <x> <y> <width> <height>" (optional)
//   CUB_200_2011/images/<class_folder>/<file>.jpg
// Labels are 0-based inside finch. Every malformed line is reported as file:line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace finch::data {

struct BBox {
  float x = 0, y = 0, w = 0, h = 0;
};

struct CubImage {
  int64_t id = 0;
  std::string path;  // relative to <root>/images
  int label = -1;    // 0-based
  bool is_train = false;
  bool is_val = false;  // a data set's own validation image (ImageFolder val/, CSV "val"), packed as such
  std::optional<BBox> bbox;
};

struct CubDataset {
  std::string root;
  std::vector<std::string> class_names;
  std::vector<CubImage> images;  // in images.txt order
  bool has_bboxes = false;

  std::string image_path(size_t i) const { return root + "/images/" + images[i].path; }
};

// Reads the text files, collecting every problem (file:line: what) instead of stopping at the first.
struct CubReadResult {
  CubDataset dataset;
  std::vector<std::string> problems;
};
CubReadResult read_cub_report(const std::string& root);

// Reads and throws a RuntimeError listing the first problems when there are any.
CubDataset read_cub(const std::string& root);

// The official split, with a stratified, seeded validation slice carved out of the train images
// (val_fraction of each class, rounded, at least one per class when val_fraction > 0 and the class
// has two or more train images). A data set with validation images of its own (`is_val`, e.g. an
// ImageFolder's val/) keeps them as the validation split and nothing is carved. Indices into the
// source's samples, each list sorted; a sample neither train nor val is a test sample.
struct Split {
  std::vector<int64_t> train, val, test;
};
Split make_split(const std::vector<int>& labels, const std::vector<bool>& is_train, double val_fraction, uint64_t seed,
                 const std::vector<bool>& is_val = {});

}  // namespace finch::data
