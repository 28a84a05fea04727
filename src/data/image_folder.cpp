// ImageFolder trees (data/layouts.h): train/, val/, test/, one subfolder per class.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "finch/core/error.h"
#include "finch/data/layouts.h"

namespace finch::data {
namespace fs = std::filesystem;

bool has_image_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::set<std::string> known = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};
  return known.count(ext) > 0;
}

namespace {

bool hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

// Sorted entries of a folder, hidden ones left out (the same order on every rank and file system).
std::vector<fs::path> listing(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (!hidden(e.path())) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// The images of one split folder, by class folder name.
std::map<std::string, std::vector<std::string>> read_split(const fs::path& dir) {
  std::map<std::string, std::vector<std::string>> by_class;
  for (const auto& entry : listing(dir)) {
    if (!fs::is_directory(entry))
      throw ConfigError(fmt::format("ImageFolder: '{}' is a file directly in {}/: every image goes in a class folder ({}/<class>/<image>)",
                                    entry.string(), dir.filename().string(), dir.filename().string()));
    auto& files = by_class[entry.filename().string()];
    for (const auto& f : fs::recursive_directory_iterator(entry)) {
      if (f.is_directory() || hidden(f.path())) continue;
      if (!has_image_extension(f.path().string()))
        throw ConfigError(fmt::format("ImageFolder: '{}' is not an image file (expected .jpg, .jpeg, .png, .ppm, .bmp, .pgm, .tif, "
                                      ".tiff or .webp)",
                                      f.path().string()));
      files.push_back(f.path().string());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) throw ConfigError(fmt::format("ImageFolder: class folder '{}' holds no images", entry.string()));
  }
  return by_class;
}

}  // namespace

bool is_image_folder(const std::string& root) { return fs::is_directory(fs::path(root) / "train"); }

std::shared_ptr<ImageSource> open_image_folder(const std::string& root) {
  const fs::path r(root);
  if (!fs::is_directory(r / "train"))
    throw ConfigError(fmt::format("ImageFolder: '{}' has no train/ folder (expected {}/train/<class>/<image>)", root, root));
  const auto train = read_split(r / "train");
  if (train.size() < 2)
    throw ConfigError(fmt::format("ImageFolder: '{}' has {} class folder(s); a classifier needs at least 2", (r / "train").string(), train.size()));
  std::vector<std::string> classes;
  std::map<std::string, int> label;
  for (const auto& [name, files] : train) {
    label[name] = static_cast<int>(classes.size());
    classes.push_back(name);
  }
  std::vector<FileSample> samples;
  auto add = [&](const std::map<std::string, std::vector<std::string>>& split, const char* folder, bool is_train, bool is_val) {
    for (const auto& [name, files] : split) {
      const auto it = label.find(name);
      if (it == label.end())
        throw ConfigError(fmt::format("ImageFolder: class folder '{}' has no counterpart in train/: every class of {}/ must be a training class",
                                      (r / folder / name).string(), folder));
      for (const auto& f : files) samples.push_back({f, it->second, is_train, is_val});
    }
  };
  add(train, "train", true, false);
  std::vector<std::string> parts = {"train"};
  if (fs::is_directory(r / "val")) add(read_split(r / "val"), "val", false, true), parts.push_back("val");
  if (fs::is_directory(r / "test")) add(read_split(r / "test"), "test", false, false), parts.push_back("test");
  return open_file_list(std::move(samples), std::move(classes), fmt::format("ImageFolder tree at {} ({})", root, fmt::join(parts, ", ")));
}

}  // namespace finch::data
