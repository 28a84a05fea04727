#include "finch/model/param_count.h"

#include <fmt/format.h>

namespace finch::model {

ParamCount count_parameters(const EfficientNetImpl& model) {
  ParamCount out;
  const auto n_features = static_cast<int64_t>(model.features->size());
  for (int64_t k = 0; k < n_features; ++k) {
    const std::string part = k == 0 ? "stem" : k == n_features - 1 ? "head_conv" : fmt::format("stage{}", k);
    out.parts.push_back({part, fmt::format("features.{}", k)});
  }
  out.parts.push_back({"classifier", "classifier"});
  for (const auto& p : model.named_parameters()) {
    const int64_t n = p.value().numel();
    const bool trains = p.value().requires_grad();
    out.total += n;
    out.trainable += trains ? n : 0;
    for (auto& part : out.parts) {
      if (p.key().compare(0, part.module.size() + 1, part.module + ".") == 0) {
        part.total += n;
        part.trainable += trains ? n : 0;
        break;
      }
    }
  }
  return out;
}

}  // namespace finch::model
