// The grammar of model.freeze, in core so that config validation and the model share one parser:
//   none | head | last_blocks:K, each optionally followed by "+bn".
#pragma once

#include <string>

namespace finch {

struct FreezePolicy {
  enum class Kind { kNone, kHead, kLastBlocks };
  Kind kind = Kind::kNone;
  int blocks = 0;
  bool bn = false;

  static FreezePolicy parse(const std::string& text);  // ConfigError naming model.freeze
  std::string str() const;
};

}  // namespace finch
