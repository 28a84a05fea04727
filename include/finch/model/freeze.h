// Freezing policies (model.freeze): which parameters train.
//   none            everything
//   head            the classifier only
//   last_blocks:K   the last K MBConv blocks and the classifier
//   ...+bn          also every BatchNorm affine parameter (the seed's "FreezeAllExceptOneBlock"
//                   is last_blocks:1+bn)
// Frozen parameters get requires_grad=false: no gradient, skipped by the optimizer and by the
// gradient all-reduce. With bn_eval, BatchNorm layers outside the trained blocks stay in eval mode
// in training (their running statistics neither update nor get used from the batch).
#pragma once

#include <string>

#include "finch/model/efficientnet.h"

namespace finch::model {

struct FreezePolicy {
  enum class Kind { kNone, kHead, kLastBlocks };
  Kind kind = Kind::kNone;
  int blocks = 0;
  bool bn = false;

  static FreezePolicy parse(const std::string& text);  // ConfigError naming model.freeze
  std::string str() const;
};

void apply_freeze(EfficientNetImpl& model, const FreezePolicy& policy, bool bn_eval);

}  // namespace finch::model
