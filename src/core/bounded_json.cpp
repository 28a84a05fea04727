#include "finch/core/bounded_json.h"

#include <fmt/format.h>

namespace finch {

nlohmann::json parse_bounded_json(std::string_view text, std::string* problem, bool comments) {
  bool too_deep = false;
  // Values beyond the depth are dropped as they are read (the callback's `false`), so the document
  // never grows deep; the flag then refuses what is left.
  const nlohmann::json::parser_callback_t cap = [&too_deep](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > kMaxJsonDepth) too_deep = true;
    return !too_deep;
  };
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.begin(), text.end(), cap, /*allow_exceptions=*/true, comments);
  } catch (const nlohmann::json::exception& e) {
    if (problem) *problem = e.what();
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
  if (too_deep) {
    if (problem) *problem = fmt::format("nested deeper than {} levels", kMaxJsonDepth);
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
  return doc;
}

}  // namespace finch
