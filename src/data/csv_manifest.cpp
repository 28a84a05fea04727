// CSV manifests (data/layouts.h): path,label[,split], paths relative to the manifest.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>

#include "finch/core/checked_int.h"
#include "finch/core/regular_file.h"
#include "finch/core/error.h"
#include "finch/data/layouts.h"

namespace finch::data {
namespace fs = std::filesystem;

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// One CSV record: commas separate fields, double quotes may enclose one (with "" for a quote).
// nullopt for an unterminated quote.
std::optional<std::vector<std::string>> fields_of(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t k = 0; k < line.size(); ++k) {
    const char c = line[k];
    if (quoted) {
      if (c == '"' && k + 1 < line.size() && line[k + 1] == '"') out.back() += '"', ++k;
      else if (c == '"') quoted = false;
      else out.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  if (quoted) return std::nullopt;
  for (auto& f : out) f = trim(f);
  return out;
}

bool is_index(const std::string& s) {
  return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// "path,label[,split]" in any case and spacing (fields_of trims them).
bool is_header(const std::vector<std::string>& f) {
  return (f.size() == 2 || f.size() == 3) && lower(f[0]) == "path" && lower(f[1]) == "label" && (f.size() == 2 || lower(f[2]) == "split");
}

struct Row {
  size_t line;
  std::string path, label, split;
};

}  // namespace

bool is_csv_manifest(const std::string& path) { return lower(fs::path(path).extension().string()) == ".csv" && fs::is_regular_file(path); }

std::shared_ptr<ImageSource> open_csv_manifest(const std::string& manifest) {
  std::ifstream in = open_regular(manifest);  // Note [Only regular files are opened]
  if (!in) throw ConfigError(fmt::format("cannot read the CSV manifest '{}'", manifest));
  const fs::path base = fs::path(manifest).parent_path();
  auto fail = [&](size_t line, const std::string& what) { throw ConfigError(fmt::format("{}:{}: {}", manifest, line, what)); };
  std::vector<Row> rows;
  std::map<std::string, size_t> seen;  // normalised path -> line
  std::string text;
  size_t columns = 0;
  for (size_t line = 1; std::getline(in, text); ++line) {
    if (trim(text).empty()) continue;
    const auto f = fields_of(text);
    if (!f) fail(line, "unterminated quote");
    if (rows.empty() && columns == 0 && is_header(*f)) {
      columns = f->size();
      continue;
    }
    if (f->size() != 2 && f->size() != 3) fail(line, fmt::format("expected path,label[,split], got {} field(s)", f->size()));
    if (columns == 0) columns = f->size();
    if (f->size() != columns) fail(line, fmt::format("{} field(s), but the manifest's first line has {}", f->size(), columns));
    Row r{line, (*f)[0], (*f)[1], f->size() == 3 ? (*f)[2] : "train"};
    if (r.path.empty()) fail(line, "empty path");
    if (r.label.empty()) fail(line, "empty label");
    if (r.split != "train" && r.split != "val" && r.split != "test")
      fail(line, fmt::format("split '{}': expected train, val or test", r.split));
    const fs::path full = fs::path(r.path).is_absolute() ? fs::path(r.path) : base / r.path;
    r.path = full.lexically_normal().string();
    if (const auto it = seen.find(r.path); it != seen.end())
      fail(line, fmt::format("'{}' is listed twice (line {} and line {})", r.path, it->second, line));
    seen[r.path] = line;
    if (!fs::is_regular_file(full)) fail(line, fmt::format("no image file '{}'", r.path));
    if (!has_image_extension(r.path)) fail(line, fmt::format("'{}' is not an image file (by its extension)", r.path));
    rows.push_back(std::move(r));
  }
  if (rows.empty()) throw ConfigError(fmt::format("the CSV manifest '{}' lists no images", manifest));

  // Classes: every label an index (0..K-1), or every label a name (sorted, as ImageFolder's).
  const bool indices = std::all_of(rows.begin(), rows.end(), [](const Row& r) { return is_index(r.label); });
  std::vector<std::string> classes;
  std::map<std::string, int> label_of;
  if (indices) {
    int top = 0;
    for (const auto& r : rows) {
      const auto k = parse_int(r.label, 0, 99'999);  // more classes than that is a typo, not a data set
      if (!k) fail(r.line, fmt::format("class index {} is beyond 99999", r.label));
      top = std::max(top, static_cast<int>(*k));
    }
    for (int k = 0; k <= top; ++k) label_of[std::to_string(k)] = k, classes.push_back(std::to_string(k));
  } else {
    std::set<std::string> names;
    for (const auto& r : rows)
      if (r.split == "train") names.insert(r.label);
    for (const auto& n : names) label_of[n] = static_cast<int>(classes.size()), classes.push_back(n);
  }
  std::vector<int> train_count(classes.size(), 0);
  std::vector<FileSample> samples;
  for (const auto& r : rows) {
    const auto it = label_of.find(indices ? std::to_string(*parse_int(r.label, 0, 99'999)) : r.label);
    if (it == label_of.end())
      fail(r.line, fmt::format("label '{}' is outside the classes: no training image has it", r.label));
    if (r.split == "train") ++train_count[it->second];
    samples.push_back({r.path, it->second, r.split == "train", r.split == "val"});
  }
  for (size_t c = 0; c < classes.size(); ++c)
    if (train_count[c] == 0)
      throw ConfigError(fmt::format("{}: class {} has no training images (index labels must cover 0..{} in the train split)", manifest,
                                    classes[c], classes.size() - 1));
  if (classes.size() < 2) throw ConfigError(fmt::format("{}: {} class(es); a classifier needs at least 2", manifest, classes.size()));
  return open_file_list(std::move(samples), std::move(classes), fmt::format("CSV manifest {}", manifest));
}

}  // namespace finch::data
