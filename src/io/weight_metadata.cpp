#include "finch/io/weight_metadata.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "finch/core/bounded_json.h"
#include "finch/core/error.h"

namespace finch::io {

std::map<std::string, std::string> to_safetensors_metadata(const WeightMetadata& m) {
  std::map<std::string, std::string> out = {{"format", "finch"}};
  if (!m.arch.empty()) out["arch"] = m.arch;
  if (!m.source.empty()) out["source"] = m.source;
  if (m.padding) out["padding"] = *m.padding;
  if (m.bn_eps) out["bn_eps"] = nlohmann::json(*m.bn_eps).dump();
  if (m.mean) out["mean"] = nlohmann::json(*m.mean).dump();
  if (m.std) out["std"] = nlohmann::json(*m.std).dump();
  return out;
}

WeightMetadata weight_metadata(const std::map<std::string, std::string>& md, const std::string& path) {
  auto bad = [&](const std::string& key, const std::string& expected) {
    throw RuntimeError(fmt::format("'{}': metadata key '{}' is \"{}\", expected {}", path, key, md.at(key), expected));
  };
  auto number = [&](const std::string& key) {
    const auto j = parse_bounded_json(md.at(key));
    if (!j.is_number() || j.get<double>() <= 0 || j.get<double>() > 1) bad(key, "a number in (0, 1]");
    return j.get<double>();
  };
  auto rgb = [&](const std::string& key) {
    const auto j = parse_bounded_json(md.at(key));
    if (!j.is_array() || j.size() != 3) bad(key, "a list of 3 numbers");
    std::array<double, 3> v{};
    for (size_t c = 0; c < 3; ++c) {
      if (!j[c].is_number()) bad(key, "a list of 3 numbers");
      v[c] = j[c].get<double>();
    }
    return v;
  };
  WeightMetadata m;
  if (md.count("arch")) m.arch = md.at("arch");
  if (md.count("source")) m.source = md.at("source");
  if (md.count("padding")) {
    m.padding = md.at("padding");
    if (*m.padding != "symmetric" && *m.padding != "tf_same") bad("padding", "\"symmetric\" or \"tf_same\"");
  }
  if (md.count("bn_eps")) m.bn_eps = number("bn_eps");
  if (md.count("mean")) m.mean = rgb("mean");
  if (md.count("std")) m.std = rgb("std");
  return m;
}

}  // namespace finch::io
