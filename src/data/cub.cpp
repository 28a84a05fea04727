#include "finch/data/cub.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <type_traits>

#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/core/regular_file.h"
#include "finch/core/seed.h"

namespace finch::data {
namespace {

// One whitespace-separated record per non-empty line; `fields` == 0 means "id + rest of line".
struct Line {
  int number;
  std::vector<std::string> fields;
};

bool read_lines(const std::string& path, std::vector<Line>& out, std::vector<std::string>& problems) {
  std::ifstream in = open_regular(path);  // Note [Only regular files are opened]
  if (!in) {
    problems.push_back(fmt::format("{}: missing or unreadable", path));
    return false;
  }
  std::string text;
  for (int n = 1; std::getline(in, text); ++n) {
    if (!text.empty() && text.back() == '\r') text.pop_back();  // files edited on Windows
    std::istringstream s(text);
    Line line{n, {}};
    for (std::string f; s >> f;) line.fields.push_back(f);
    if (!line.fields.empty()) out.push_back(std::move(line));
  }
  return true;
}

// The whole field must be a number ("12abc" is not 12).
template <class T>
bool parse_number(const std::string& s, T& v) {
  try {
    size_t used = 0;
    if constexpr (std::is_integral_v<T>) v = std::stoll(s, &used);
    else v = std::stof(s, &used);
    if constexpr (std::is_floating_point_v<T>)
      if (!std::isfinite(v)) return false;  // "nan", "inf": a box of them would crop nothing sensible
    return used == s.size();
  } catch (...) {
    return false;
  }
}

// Reads "<id> <value...>" records into id -> fields, reporting malformed lines and duplicate ids.
std::map<int64_t, Line> by_id(const std::string& path, size_t want_fields, std::vector<std::string>& problems) {
  std::vector<Line> lines;
  std::map<int64_t, Line> out;
  if (!read_lines(path, lines, problems)) return out;
  for (auto& l : lines) {
    int64_t id = 0;
    if (l.fields.size() != want_fields || !parse_number(l.fields[0], id) || id < 1) {
      problems.push_back(fmt::format("{}:{}: expected {} fields starting with a positive integer id, got '{}'", path, l.number,
                                     want_fields, fmt::join(l.fields, " ")));
      continue;
    }
    if (out.count(id)) {
      problems.push_back(fmt::format("{}:{}: duplicate id {} (first at line {})", path, l.number, id, out[id].number));
      continue;
    }
    out.emplace(id, std::move(l));
  }
  return out;
}

}  // namespace

CubReadResult read_cub_report(const std::string& root) {
  CubReadResult r;
  auto& ds = r.dataset;
  auto& problems = r.problems;
  ds.root = root;
  const std::string images_txt = root + "/images.txt", labels_txt = root + "/image_class_labels.txt",
                    split_txt = root + "/train_test_split.txt", classes_txt = root + "/classes.txt",
                    boxes_txt = root + "/bounding_boxes.txt";

  // classes.txt: ids must be 1..K in order.
  std::vector<Line> class_lines;
  if (read_lines(classes_txt, class_lines, problems)) {
    for (const auto& l : class_lines) {
      int64_t id = 0;
      if (l.fields.size() != 2 || !parse_number(l.fields[0], id)) {
        problems.push_back(fmt::format("{}:{}: expected '<class_id> <class_name>', got '{}'", classes_txt, l.number, fmt::join(l.fields, " ")));
        continue;
      }
      if (id != static_cast<int64_t>(ds.class_names.size()) + 1) {
        problems.push_back(fmt::format("{}:{}: class id {} out of order (expected {})", classes_txt, l.number, id, ds.class_names.size() + 1));
        continue;
      }
      ds.class_names.push_back(l.fields[1]);
    }
    if (ds.class_names.empty()) problems.push_back(classes_txt + ": no classes");
  }

  std::vector<Line> image_lines;
  read_lines(images_txt, image_lines, problems);
  const auto labels = by_id(labels_txt, 2, problems);
  const auto splits = by_id(split_txt, 2, problems);
  std::map<int64_t, Line> boxes;
  ds.has_bboxes = open_regular(boxes_txt).good();
  if (ds.has_bboxes) boxes = by_id(boxes_txt, 5, problems);

  std::map<int64_t, int> seen;
  for (const auto& l : image_lines) {
    int64_t id = 0;
    if (l.fields.size() != 2 || !parse_number(l.fields[0], id) || id < 1) {
      problems.push_back(fmt::format("{}:{}: expected '<image_id> <relative path>', got '{}'", images_txt, l.number, fmt::join(l.fields, " ")));
      continue;
    }
    if (seen.count(id)) {
      problems.push_back(fmt::format("{}:{}: duplicate image id {} (first at line {})", images_txt, l.number, id, seen[id]));
      continue;
    }
    seen[id] = l.number;
    CubImage img;
    img.id = id;
    img.path = l.fields[1];
    if (img.path.find("..") != std::string::npos || img.path.front() == '/')
      problems.push_back(fmt::format("{}:{}: path '{}' leaves the images folder", images_txt, l.number, img.path));

    const auto lab = labels.find(id);
    int64_t cls = 0;
    if (lab == labels.end()) {
      problems.push_back(fmt::format("{}: no label for image id {} ({}:{})", labels_txt, id, images_txt, l.number));
    } else if (!parse_number(lab->second.fields[1], cls) || cls < 1 || cls > static_cast<int64_t>(ds.class_names.size())) {
      problems.push_back(fmt::format("{}:{}: class id '{}' of image {} is not in 1..{} (classes.txt)", labels_txt, lab->second.number,
                                     lab->second.fields[1], id, ds.class_names.size()));
    } else {
      img.label = static_cast<int>(cls - 1);
    }

    const auto sp = splits.find(id);
    int64_t is_train = -1;
    if (sp == splits.end())
      problems.push_back(fmt::format("{}: no split for image id {} ({}:{})", split_txt, id, images_txt, l.number));
    else if (!parse_number(sp->second.fields[1], is_train) || (is_train != 0 && is_train != 1))
      problems.push_back(fmt::format("{}:{}: is_training_image must be 0 or 1, got '{}'", split_txt, sp->second.number, sp->second.fields[1]));
    img.is_train = is_train == 1;

    if (ds.has_bboxes) {
      const auto b = boxes.find(id);
      BBox box;
      if (b == boxes.end()) {
        problems.push_back(fmt::format("{}: no box for image id {} ({}:{})", boxes_txt, id, images_txt, l.number));
      } else if (!parse_number(b->second.fields[1], box.x) || !parse_number(b->second.fields[2], box.y) ||
                 !parse_number(b->second.fields[3], box.w) || !parse_number(b->second.fields[4], box.h) || box.w <= 0 || box.h <= 0 ||
                 box.x < 0 || box.y < 0) {
        problems.push_back(fmt::format("{}:{}: expected '<id> <x> <y> <width> <height>' with a positive size", boxes_txt, b->second.number));
      } else {
        img.bbox = box;
      }
    }
    ds.images.push_back(std::move(img));
  }
  for (const auto& [table, name] : {std::pair{&labels, labels_txt}, std::pair{&splits, split_txt}})
    for (const auto& [id, line] : *table)
      if (!seen.count(id)) problems.push_back(fmt::format("{}:{}: image id {} is not in images.txt", name, line.number, id));
  if (image_lines.empty() && open_regular(images_txt).good()) problems.push_back(images_txt + ": no images");
  return r;
}

CubDataset read_cub(const std::string& root) {
  auto r = read_cub_report(root);
  if (!r.problems.empty()) {
    // One line, the first problem (README: every error is one line); `finch dataset` lists them all.
    const size_t more = r.problems.size() - 1;
    throw RuntimeError(fmt::format("'{}' is not a usable CUB-200-2011 tree: {}{}", root, r.problems.front(),
                                   more == 0 ? "" : fmt::format(" (and {} more problem{}: `finch dataset --root {}` lists them all)", more,
                                                                more == 1 ? "" : "s", root)));
  }
  return std::move(r.dataset);
}

Split make_split(const std::vector<int>& labels, const std::vector<bool>& is_train, double val_fraction, uint64_t seed,
                 const std::vector<bool>& is_val) {
  Split s;
  const bool own_val = std::find(is_val.begin(), is_val.end(), true) != is_val.end();
  if (own_val) val_fraction = 0;  // the data set's own validation split: nothing is carved from train
  std::map<int, std::vector<int64_t>> train_by_class;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (is_train[i]) train_by_class[labels[i]].push_back(static_cast<int64_t>(i));
    else if (own_val && is_val[i]) s.val.push_back(static_cast<int64_t>(i));
    else s.test.push_back(static_cast<int64_t>(i));
  }
  for (auto& [cls, idx] : train_by_class) {
    shuffle(idx, derive_seed(seed, {seed_stream::kCubValSplit, static_cast<uint64_t>(cls)}));
    size_t n_val = static_cast<size_t>(std::llround(val_fraction * idx.size()));
    if (val_fraction > 0 && n_val == 0 && idx.size() >= 2) n_val = 1;
    s.val.insert(s.val.end(), idx.begin(), idx.begin() + n_val);
    s.train.insert(s.train.end(), idx.begin() + n_val, idx.end());
  }
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.val.begin(), s.val.end());
  return s;
}

}  // namespace finch::data
