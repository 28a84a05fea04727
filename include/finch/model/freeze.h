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

#include "finch/core/freeze_policy.h"
#include "finch/model/efficientnet.h"

namespace finch::model {

using finch::FreezePolicy;  // the grammar lives in core (config validation uses it too)

void apply_freeze(EfficientNetImpl& model, const FreezePolicy& policy, bool bn_eval);

}  // namespace finch::model
