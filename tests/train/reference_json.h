// The JSON a reference script wrote (tests/reference/*.py), at the path ctest's reference.* entry
// puts in an environment variable; nothing when the variable is unset (the test skips itself).
#pragma once

#include <cstdlib>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

inline std::optional<nlohmann::json> reference_json(const char* env) {
  const char* path = std::getenv(env);
  if (!path) return std::nullopt;
  std::ifstream in(path);
  if (!in) throw std::runtime_error(std::string("cannot read ") + path + " (" + env + ")");
  return nlohmann::json::parse(in);
}
