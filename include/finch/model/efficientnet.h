// EfficientNet B0-B7 as torchvision builds it (torchvision.models.efficientnet_bN, v1 family):
// same layers, same order, same parameter and buffer names (features.0.0.weight, ...,
// features.1.0.block.1.fc1.weight, ..., classifier.1.weight), same BatchNorm eps/momentum, same
// stochastic-depth schedule and same initialisation, so torchvision state dicts load one to one.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/pimpl.h>

#include "finch/core/config.h"
#include "finch/model/stack.h"

namespace finch::model {

class CrossReplicaSum;

// The per-variant constants of torchvision's efficientnet_bN builders.
struct VariantSpec {
  double width_mult;
  double depth_mult;
  double dropout;      // torchvision's default head dropout
  double bn_eps;       // B0-B4: 1e-5, B5-B7: 1e-3
  double bn_momentum;  // B0-B4: 0.1,  B5-B7: 0.01
  int resolution;      // the ImageNet eval resolution (for information)
};

// ConfigError for an unknown name. Accepts "efficientnet_b0" ... "efficientnet_b7" and "b0" ... "b7".
VariantSpec variant_spec(const std::string& arch);
std::string canonical_arch(const std::string& arch);

struct HeadOptions {
  int hidden = 0;                   // 0: Dropout -> Linear (torchvision's head)
  Activation activation = Activation::kReLU;  // only with hidden > 0
  double negative_slope = 0.01;
};

struct EfficientNetOptions {
  std::string arch = "efficientnet_b0";
  int64_t classes = 1000;
  std::optional<double> dropout;    // unset: the variant's default
  double stochastic_depth = 0.2;
  HeadOptions head;
};

class EfficientNetImpl : public torch::nn::Module {
 public:
  explicit EfficientNetImpl(const EfficientNetOptions& options);

  torch::Tensor forward(torch::Tensor x);
  // Globally pooled backbone features (N x feature_dim), before the classifier.
  torch::Tensor forward_features(torch::Tensor x);

  // MBConv blocks in forward order, by module name ("features.1.0", ..., "features.7.0").
  const std::vector<std::string>& block_names() const { return block_names_; }
  int64_t feature_dim() const { return feature_dim_; }
  const EfficientNetOptions& options() const { return options_; }

  // Module::train, except that BatchNorm layers marked with keep_in_eval() stay in eval mode
  // (model.bn_eval: frozen layers keep their running statistics).
  void train(bool on = true) override;
  void keep_in_eval(std::vector<std::shared_ptr<torch::nn::Module>> modules);

  // SyncBatchNorm for every BatchNorm layer (nullptr: per-rank statistics, as DDP without SyncBN).
  void set_sync_batchnorm(std::shared_ptr<CrossReplicaSum> reducer);

  Stack features{nullptr};
  Stack classifier{nullptr};

 private:
  EfficientNetOptions options_;
  std::vector<std::string> block_names_;
  int64_t feature_dim_ = 0;
  std::vector<std::shared_ptr<torch::nn::Module>> eval_modules_;
};
TORCH_MODULE(EfficientNet);

}  // namespace finch::model
