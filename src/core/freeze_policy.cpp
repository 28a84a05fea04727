#include "finch/core/freeze_policy.h"

#include <regex>

#include <fmt/format.h>

#include "finch/core/checked_int.h"
#include "finch/core/error.h"

namespace finch {

FreezePolicy FreezePolicy::parse(const std::string& text) {
  static const std::regex re(R"((none|head|last_blocks:([1-9][0-9]*))(\+bn)?)");
  auto bad = [&] {
    return ConfigError(fmt::format("model.freeze: '{}' is not one of none, head, last_blocks:K (K 1..1000), optionally followed by +bn",
                                   briefly(text, 50)));
  };
  // std::regex matches recursively, one frame per character: a 120,000-character value overflowed
  // the stack. No policy is longer than this.
  if (text.size() > 40) throw bad();
  std::smatch m;
  if (!std::regex_match(text, m, re)) throw bad();
  FreezePolicy p;
  p.kind = m[1] == "none" ? Kind::kNone : m[1] == "head" ? Kind::kHead : Kind::kLastBlocks;
  if (p.kind == Kind::kLastBlocks) {
    const auto k = parse_int(m[2].str(), 1, 1000);  // EfficientNet-B7 has 55 blocks
    if (!k) throw bad();
    p.blocks = static_cast<int>(*k);
  }
  p.bn = m[3].matched;
  return p;
}

std::string FreezePolicy::str() const {
  const std::string base = kind == Kind::kNone ? "none" : kind == Kind::kHead ? "head" : fmt::format("last_blocks:{}", blocks);
  return base + (bn ? "+bn" : "");
}

}  // namespace finch
