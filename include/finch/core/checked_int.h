// One checked integer parse for numbers finch reads out of text (a freeze policy's K, a tensor
// name's block index, a manifest's class index): std::stoi threw "stoi" (naming nothing) on
// 2147483648 and silently wrapped nothing; this says no, and the caller names the file or key.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace finch {

// The decimal integer `text` is, when it is one (all of it) within [lo, hi]; nullopt otherwise.
inline std::optional<int64_t> parse_int(std::string_view text, int64_t lo, int64_t hi) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || v < lo || v > hi) return std::nullopt;
  return v;
}

}  // namespace finch
