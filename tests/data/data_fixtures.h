// Shared helpers for the data tests: a small synthetic CUB tree, made once per test binary.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include "finch/data/synth.h"

namespace finch::testing {

inline std::string synthetic_tree(int classes = 6, int per_class = 10, int size = 64) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("finch_test_synth_" + std::to_string(classes) + "_" + std::to_string(per_class) + "_" + std::to_string(size));
  if (!std::filesystem::exists(dir / "images.txt")) {
    std::filesystem::remove_all(dir);
    data::SynthOptions o;
    o.classes = classes;
    o.per_class = per_class;
    o.size = size;
    o.seed = 7;
    o.workers = 2;
    data::write_synthetic_tree(dir.string(), o);
  }
  return dir.string();
}

// A copy of a tree that a test may damage.
inline std::string copy_tree(const std::string& src, const std::string& name) {
  const auto dst = std::filesystem::temp_directory_path() / ("finch_test_copy_" + name);
  std::filesystem::remove_all(dst);
  std::filesystem::copy(src, dst, std::filesystem::copy_options::recursive);
  return dst.string();
}

inline void replace_line(const std::string& file, int line_number, const std::string& text) {
  std::ifstream in(file);
  std::string out, line;
  for (int n = 1; std::getline(in, line); ++n) out += (n == line_number ? text : line) + "\n";
  std::ofstream(file) << out;
}

}  // namespace finch::testing
