// Parameter counts: total and trainable, overall and per part of the network.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "finch/model/efficientnet.h"

namespace finch::model {

struct PartCount {
  std::string part;    // "stem", "stage1" ... "stage7", "head_conv", "classifier"
  std::string module;  // "features.0", ..., "classifier"
  int64_t total = 0;
  int64_t trainable = 0;
};

struct ParamCount {
  int64_t total = 0;
  int64_t trainable = 0;
  std::vector<PartCount> parts;
};

ParamCount count_parameters(const EfficientNetImpl& model);

// The task's budget: EfficientNets of at most 10M parameters.
constexpr int64_t kParamBudget = 10'000'000;

}  // namespace finch::model
