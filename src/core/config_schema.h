// Internal to core: the config schema as a list of fields bound to a Config's members.
// config_schema.cpp is the single source of every key; config.cpp walks the list to parse,
// write and document.
#pragma once

#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "finch/core/config.h"

namespace finch::config_detail {

// A key whose value is one of an enum's names: reads and writes the enum member by name.
struct ChoiceSlot {
  std::function<std::string()> get;
  std::function<void(const std::string&)> set;  // called with one of Field::choices only
};

using Slot = std::variant<bool*, int*, double*, std::string*, std::optional<double>*, std::vector<double>*,
                          std::optional<std::vector<double>>*, ChoiceSlot>;

struct Field {
  std::string path;                    // "train.epochs"
  Slot slot;                           // where the value lives in the Config
  nlohmann::json def;                  // default (null only for optional numbers)
  std::string doc;
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;                // lo itself not allowed (e.g. lr > 0)
  std::vector<std::string> choices;    // non-empty: the string must be one of these
  size_t list_size = 0;                // for number lists
  // Extra check on the parsed JSON value; returns "" when fine, else what was expected.
  std::function<std::string(const nlohmann::json&)> check;
};

std::vector<Field> schema(Config& c);

}  // namespace finch::config_detail
