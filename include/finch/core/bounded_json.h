// Note [Bounded JSON]
// Every JSON document finch reads from a file (configs, state.json, metrics.jsonl, a packed file's
// header, a safetensors header, weight metadata) is parsed here, with its nesting capped at
// kMaxJsonDepth. nlohmann's parser itself is iterative, but printing, comparing and destroying a
// document recurse: a value nested 100,000 levels deep (a dozen bytes per level) parsed fine and
// then overflowed the stack when an error message printed it. A deeper document is refused while it
// is parsed, before such a value exists. finch's own documents nest at most five levels.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace finch {

inline constexpr int kMaxJsonDepth = 64;

// The document in `text`, or a discarded value (is_discarded()) with `problem` saying why: not
// JSON (nlohmann's message, with its byte offset) or nested deeper than kMaxJsonDepth. `comments`:
// // and /* */ comments allowed (configs).
nlohmann::json parse_bounded_json(std::string_view text, std::string* problem = nullptr, bool comments = false);

}  // namespace finch
