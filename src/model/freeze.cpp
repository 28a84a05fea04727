#include "finch/model/freeze.h"

#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/model/batchnorm.h"

namespace finch::model {

void apply_freeze(EfficientNetImpl& model, const FreezePolicy& policy, bool bn_eval) {
  const auto& blocks = model.block_names();
  if (policy.kind == FreezePolicy::Kind::kLastBlocks && policy.blocks > static_cast<int>(blocks.size()))
    throw ConfigError(fmt::format("model.freeze: last_blocks:{} but {} has {} MBConv blocks", policy.blocks,
                                  model.options().arch, blocks.size()));
  // Module-name prefixes that train as a whole.
  std::vector<std::string> trained = {"classifier."};
  if (policy.kind == FreezePolicy::Kind::kLastBlocks)
    for (size_t k = blocks.size() - policy.blocks; k < blocks.size(); ++k) trained.push_back(blocks[k] + ".");
  auto in_trained = [&](const std::string& name) {
    if (policy.kind == FreezePolicy::Kind::kNone) return true;
    for (const auto& p : trained)
      if (name.compare(0, p.size(), p) == 0) return true;
    return false;
  };

  std::vector<std::shared_ptr<torch::nn::Module>> eval_bns;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    const bool is_bn = item.value()->as<BatchNorm2d>() != nullptr;
    const bool trains = in_trained(item.key() + ".") || (is_bn && policy.bn);
    for (auto& p : item.value()->parameters(/*recurse=*/false)) p.set_requires_grad(trains);
    if (is_bn && bn_eval && !in_trained(item.key() + ".")) eval_bns.push_back(item.value());
  }
  model.keep_in_eval(std::move(eval_bns));
}

}  // namespace finch::model
