#include "finch/core/freeze_policy.h"

#include <regex>

#include <fmt/format.h>

#include "finch/core/error.h"

namespace finch {

FreezePolicy FreezePolicy::parse(const std::string& text) {
  static const std::regex re(R"((none|head|last_blocks:([1-9][0-9]*))(\+bn)?)");
  std::smatch m;
  if (!std::regex_match(text, m, re))
    throw ConfigError("model.freeze: '" + text + "' is not one of none, head, last_blocks:K (K >= 1), optionally followed by +bn");
  FreezePolicy p;
  p.kind = m[1] == "none" ? Kind::kNone : m[1] == "head" ? Kind::kHead : Kind::kLastBlocks;
  if (p.kind == Kind::kLastBlocks) p.blocks = std::stoi(m[2]);
  p.bn = m[3].matched;
  return p;
}

std::string FreezePolicy::str() const {
  const std::string base = kind == Kind::kNone ? "none" : kind == Kind::kHead ? "head" : fmt::format("last_blocks:{}", blocks);
  return base + (bn ? "+bn" : "");
}

}  // namespace finch
