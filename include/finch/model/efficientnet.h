// EfficientNet B0-B7 as torchvision builds it (torchvision.models.efficientnet_bN, v1 family):
// same layers, same order, same parameter and buffer names (features.0.0.weight, ...,
// features.1.0.block.1.fc1.weight, ..., classifier.1.weight), same BatchNorm eps/momentum, same
// stochastic-depth schedule and same initialisation, so torchvision state dicts load one to one.
// EfficientNet-Lite0-4 (TensorFlow's efficientnet/lite builder, as EfficientNet-PyTorch and timm
// port it) are rows of the same variant table: ReLU6, no squeeze-and-excitation, stem (32) and
// head (1280) fixed while width and depth scale, first and last stage never repeated. Their
// blocks keep torchvision's naming with the SE position left out (features.2.0.block.2.0 is a
// Lite block's projection). Weights trained in TensorFlow also need its "same" padding
// (Padding::kTfSame), chosen per model, not per variant: see Note [TF same padding].
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

// One row of the variant table: the per-variant constants of torchvision's efficientnet_bN
// builders and of TensorFlow's efficientnet-lite builder.
struct VariantSpec {
  const char* name;    // "efficientnet_b0", ..., "efficientnet_lite4"
  double width_mult;
  double depth_mult;
  double dropout;      // the default head dropout
  double bn_eps;       // B0-B4: 1e-5, B5-B7 and Lite: 1e-3
  double bn_momentum;  // B0-B4: 0.1,  B5-B7 and Lite: 0.01
  int resolution;      // the ImageNet resolution the weights were trained and evaluated at
  bool lite;           // ReLU6, no SE, fixed stem/head widths, first/last stage not repeated
};

// Every variant, in table order (B0-B7, then Lite0-4).
const std::vector<VariantSpec>& variant_table();

// ConfigError for an unknown name. Accepts "efficientnet_b0" ... "efficientnet_b7",
// "efficientnet_lite0" ... "efficientnet_lite4", and the short forms "b0", "lite0".
VariantSpec variant_spec(const std::string& arch);
std::string canonical_arch(const std::string& arch);

// MBConv blocks in each of the 7 stages, as the model builds them (what weight names are numbered by).
std::vector<int> stage_blocks(const VariantSpec& v);

// Note [TF same padding]
// TensorFlow pads a stride-2 convolution asymmetrically: total = max((ceil(in/s) - 1) * s + k - in, 0),
// total/2 before and the rest after, computed from the input size at forward time (so 224 px pads
// a 3x3 stride-2 conv by 0 before and 1 after, 225 px by 1 and 1). PyTorch-trained weights
// (torchvision, timm's efficientnet_bN) use the symmetric (k-1)/2. Stride-1 convolutions with odd
// kernels pad (k-1)/2 on both sides either way. Weights carry which one they need in their
// safetensors metadata ("padding"), written by `finch import-weights`; model.padding=auto follows it.
enum class Padding { kSymmetric, kTfSame };

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
  Padding padding = Padding::kSymmetric;  // Note [TF same padding]
  std::optional<double> bn_eps;           // unset: the variant's (weights trained in TF: 1e-3)
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
