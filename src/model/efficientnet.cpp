// Mirrors torchvision/models/efficientnet.py (v0.14): _efficientnet_conf, MBConv,
// SqueezeExcitation, Conv2dNormActivation, StochasticDepth and EfficientNet.__init__; the Lite
// rows follow TensorFlow's efficientnet/lite/efficientnet_lite_builder.py as EfficientNet-PyTorch
// (lukemelas, and the efficientnet-lite-pytorch package) builds it.
#include "finch/model/efficientnet.h"

#include <cmath>
#include <iterator>

#include <fmt/format.h>
#include <torch/nn/functional.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

#include "finch/core/error.h"
#include "finch/model/batchnorm.h"

namespace finch::model {
namespace nn = torch::nn;

namespace {

// torchvision's _make_divisible: round to a multiple of 8, never going down by more than 10%.
int64_t make_divisible(double v, int64_t divisor = 8) {
  int64_t new_v = std::max<int64_t>(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (new_v < 0.9 * v) new_v += divisor;
  return new_v;
}
int64_t adjust_channels(int64_t c, double width) { return make_divisible(c * width); }
int64_t adjust_depth(int64_t n, double depth) { return static_cast<int64_t>(std::ceil(n * depth)); }

struct StageConf {
  int64_t expand, kernel, stride, in, out, layers;
};

// B0's stages; the variants scale channels and depth.
constexpr StageConf kB0Stages[] = {
    {1, 3, 1, 32, 16, 1},  {6, 3, 2, 16, 24, 2},   {6, 5, 2, 24, 40, 2},   {6, 3, 2, 40, 80, 3},
    {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4}, {6, 3, 1, 192, 320, 1},
};

// What every layer of one model shares: BatchNorm constants, padding rule, activation.
struct LayerOpts {
  double eps, momentum;
  Padding padding;
  bool relu6;  // Lite: ReLU6 (quantisation-friendly); B0-B7: SiLU
};

// The padding TensorFlow's "same" adds along one axis (Note [TF same padding]).
int64_t tf_same_total(int64_t in, int64_t k, int64_t s) {
  const int64_t out = (in + s - 1) / s;
  return std::max<int64_t>((out - 1) * s + k - in, 0);
}

// A Conv2d that pads as TensorFlow's "same" for the size it is given, at forward time: no input
// size is baked in, so one model serves 224, 225 and any other size. A Conv2dImpl underneath, so
// its parameters keep their names and `as<nn::Conv2d>()` still finds it. (Module::clone() would
// return a plain Conv2d: finch never clones a model, it copies state with model_state/load_weights.)
class Conv2dTfSameImpl : public nn::Conv2dImpl {
 public:
  using nn::Conv2dImpl::Conv2dImpl;
  torch::Tensor forward(const torch::Tensor& x) {
    const auto& k = *options.kernel_size();
    const auto& s = *options.stride();
    const int64_t ph = tf_same_total(x.size(2), k[0], s[0]), pw = tf_same_total(x.size(3), k[1], s[1]);
    if (ph == 0 && pw == 0) return nn::Conv2dImpl::forward(x);
    return nn::Conv2dImpl::forward(torch::constant_pad_nd(x, {pw / 2, pw - pw / 2, ph / 2, ph - ph / 2}, 0));
  }
};
TORCH_MODULE(Conv2dTfSame);

// Conv2dNormActivation: Sequential(Conv2d(bias=False), BatchNorm2d[, SiLU | ReLU6]) -> names .0 .1 (.2)
Stack conv_bn(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t groups, const LayerOpts& o, bool act) {
  Stack s;
  auto conv = nn::Conv2dOptions(in, out, k).stride(stride).groups(groups).bias(false);
  // Stride 1 with an odd kernel: TF's "same" is the symmetric (k-1)/2, so only strided convs differ.
  if (o.padding == Padding::kTfSame && stride > 1) s->push_back(Conv2dTfSame(conv.padding(0)));
  else s->push_back(nn::Conv2d(conv.padding((k - 1) / 2)));
  s->push_back(BatchNorm2d(out, o.eps, o.momentum));
  if (act) {
    if (o.relu6) s->push_back(nn::ReLU6());
    else s->push_back(nn::SiLU());
  }
  return s;
}

class SqueezeExcitationImpl : public nn::Module {
 public:
  SqueezeExcitationImpl(int64_t channels, int64_t squeeze)
      : fc1(register_module("fc1", nn::Conv2d(nn::Conv2dOptions(channels, squeeze, 1)))),
        fc2(register_module("fc2", nn::Conv2d(nn::Conv2dOptions(squeeze, channels, 1)))) {}
  torch::Tensor forward(torch::Tensor x) {
    auto s = torch::adaptive_avg_pool2d(x, {1, 1});
    s = torch::sigmoid(fc2->forward(torch::silu(fc1->forward(s))));
    return x * s;
  }
  nn::Conv2d fc1, fc2;
};
TORCH_MODULE(SqueezeExcitation);

class MBConvImpl : public nn::Module {
 public:
  MBConvImpl(const StageConf& c, double sd_prob, const LayerOpts& o, bool se)
      : residual_(c.stride == 1 && c.in == c.out), sd_prob_(sd_prob) {
    const int64_t expanded = adjust_channels(c.in, c.expand);  // torchvision: adjust_channels(in, expand_ratio)
    Stack layers;
    if (expanded != c.in) layers->push_back(conv_bn(c.in, expanded, 1, 1, 1, o, true));
    layers->push_back(conv_bn(expanded, expanded, c.kernel, c.stride, expanded, o, true));
    if (se) layers->push_back(SqueezeExcitation(expanded, std::max<int64_t>(1, c.in / 4)));
    layers->push_back(conv_bn(expanded, c.out, 1, 1, 1, o, false));
    block = register_module("block", layers);
  }

  torch::Tensor forward(torch::Tensor x) {
    auto y = block->forward(x);
    if (!residual_) return y;
    if (is_training() && sd_prob_ > 0) {
      // StochasticDepth(mode="row"): drop the whole residual branch per sample.
      const double survival = 1.0 - sd_prob_;
      auto noise = torch::empty({y.size(0), 1, 1, 1}, y.options()).bernoulli_(survival);
      if (survival > 0) noise.div_(survival);
      y = y * noise;
    }
    return y + x;
  }

  Stack block{nullptr};

 private:
  bool residual_;
  double sd_prob_;
};
TORCH_MODULE(MBConv);

nn::AnyModule activation(const HeadOptions& h) {
  switch (h.activation) {
    case Activation::kReLU: return nn::AnyModule(nn::ReLU());
    case Activation::kLeakyReLU: return nn::AnyModule(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(h.negative_slope)));
    case Activation::kSiLU: return nn::AnyModule(nn::SiLU());
  }
  throw ConfigError("model.head.activation: not a known activation");
}

// B0's stages scaled to a variant: channels by width, blocks by depth.
std::vector<StageConf> stage_confs(const VariantSpec& v) {
  std::vector<StageConf> stages;
  const size_t num_stages = std::size(kB0Stages);
  for (size_t si = 0; si < num_stages; ++si) {
    StageConf c = kB0Stages[si];
    c.in = adjust_channels(c.in, v.width_mult);
    c.out = adjust_channels(c.out, v.width_mult);
    // Lite keeps the first and last stage at one block, and the stem at 32 channels.
    const bool fixed_depth = v.lite && (si == 0 || si + 1 == num_stages);
    if (!fixed_depth) c.layers = adjust_depth(c.layers, v.depth_mult);
    if (v.lite && si == 0) c.in = 32;
    stages.push_back(c);
  }
  return stages;
}

}  // namespace

std::vector<int> stage_blocks(const VariantSpec& v) {
  std::vector<int> blocks;
  for (const auto& s : stage_confs(v)) blocks.push_back(static_cast<int>(s.layers));
  return blocks;
}

const std::vector<VariantSpec>& variant_table() {
  // torchvision's efficientnet_bN (resolution: its eval transforms' resize) and TF's lite builder
  // (efficientnet_lite_builder.py: width, depth, resolution, dropout; BatchNorm momentum 0.99 in
  // TF's convention, 0.01 in PyTorch's).
  static const std::vector<VariantSpec> table = {
      {"efficientnet_b0", 1.0, 1.0, 0.2, 1e-5, 0.1, 224, false},  {"efficientnet_b1", 1.0, 1.1, 0.2, 1e-5, 0.1, 240, false},
      {"efficientnet_b2", 1.1, 1.2, 0.3, 1e-5, 0.1, 288, false},  {"efficientnet_b3", 1.2, 1.4, 0.3, 1e-5, 0.1, 320, false},
      {"efficientnet_b4", 1.4, 1.8, 0.4, 1e-5, 0.1, 384, false},  {"efficientnet_b5", 1.6, 2.2, 0.4, 1e-3, 0.01, 489, false},
      {"efficientnet_b6", 1.8, 2.6, 0.5, 1e-3, 0.01, 561, false}, {"efficientnet_b7", 2.0, 3.1, 0.5, 1e-3, 0.01, 633, false},
      {"efficientnet_lite0", 1.0, 1.0, 0.2, 1e-3, 0.01, 224, true}, {"efficientnet_lite1", 1.0, 1.1, 0.2, 1e-3, 0.01, 240, true},
      {"efficientnet_lite2", 1.1, 1.2, 0.3, 1e-3, 0.01, 260, true}, {"efficientnet_lite3", 1.2, 1.4, 0.3, 1e-3, 0.01, 280, true},
      {"efficientnet_lite4", 1.4, 1.8, 0.3, 1e-3, 0.01, 300, true},
  };
  return table;
}

std::string canonical_arch(const std::string& arch) {
  const std::string a = arch.rfind("efficientnet_", 0) == 0 ? arch : "efficientnet_" + arch;
  for (const auto& v : variant_table())
    if (a == v.name) return a;
  throw ConfigError("unknown architecture '" + arch +
                    "': expected efficientnet_b0 ... efficientnet_b7 or efficientnet_lite0 ... efficientnet_lite4 (or b0, lite0, ...)");
}

VariantSpec variant_spec(const std::string& arch) {
  const std::string a = canonical_arch(arch);
  for (const auto& v : variant_table())
    if (a == v.name) return v;
  throw ConfigError("unknown architecture '" + arch + "'");  // unreachable: canonical_arch checked it
}

EfficientNetImpl::EfficientNetImpl(const EfficientNetOptions& options) : options_(options) {
  options_.arch = canonical_arch(options.arch);
  const VariantSpec v = variant_spec(options_.arch);
  const LayerOpts layer{options_.bn_eps.value_or(v.bn_eps), v.bn_momentum, options_.padding, v.lite};

  const std::vector<StageConf> stages = stage_confs(v);
  int64_t total_blocks = 0;
  for (const auto& s : stages) total_blocks += s.layers;

  Stack f;
  f->push_back(conv_bn(3, stages.front().in, 3, 2, 1, layer, true));
  int64_t block_id = 0;
  for (size_t si = 0; si < stages.size(); ++si) {
    Stack stage;
    for (int64_t b = 0; b < stages[si].layers; ++b) {
      StageConf c = stages[si];
      if (b > 0) c.in = c.out, c.stride = 1;
      const double sd = options_.stochastic_depth * static_cast<double>(block_id) / static_cast<double>(total_blocks);
      stage->push_back(MBConv(c, sd, layer, /*se=*/!v.lite));
      block_names_.push_back(fmt::format("features.{}.{}", si + 1, b));
      ++block_id;
    }
    f->push_back(stage);
  }
  const int64_t last_in = stages.back().out;
  feature_dim_ = v.lite ? 1280 : 4 * last_in;  // Lite's head is fixed; torchvision's is 4x the last stage
  f->push_back(conv_bn(last_in, feature_dim_, 1, 1, 1, layer, true));
  features = register_module("features", f);

  const double dropout = options_.dropout.value_or(v.dropout);
  Stack head;
  head->push_back(nn::Dropout(nn::DropoutOptions(dropout)));
  if (options_.head.hidden > 0) {
    head->push_back(nn::Linear(feature_dim_, options_.head.hidden));
    head->push_back(activation(options_.head));
    head->push_back(nn::Dropout(nn::DropoutOptions(dropout)));
    head->push_back(nn::Linear(options_.head.hidden, options_.classes));
  } else {
    head->push_back(nn::Linear(feature_dim_, options_.classes));
  }
  classifier = register_module("classifier", head);

  // torchvision's initialisation.
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut);
      if (conv->bias.defined()) nn::init::zeros_(conv->bias);
    } else if (auto* bnm = m->as<BatchNorm2d>()) {
      nn::init::ones_(bnm->weight);
      nn::init::zeros_(bnm->bias);
    } else if (auto* lin = m->as<nn::Linear>()) {
      const double range = 1.0 / std::sqrt(static_cast<double>(lin->weight.size(0)));
      nn::init::uniform_(lin->weight, -range, range);
      nn::init::zeros_(lin->bias);
    }
  }
}

torch::Tensor EfficientNetImpl::forward_features(torch::Tensor x) {
  x = features->forward(x);
  return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
}

torch::Tensor EfficientNetImpl::forward(torch::Tensor x) { return classifier->forward(forward_features(x)); }

void EfficientNetImpl::train(bool on) {
  nn::Module::train(on);
  if (on)
    for (auto& m : eval_modules_) m->eval();
}

void EfficientNetImpl::set_sync_batchnorm(std::shared_ptr<CrossReplicaSum> reducer) {
  for (auto& m : modules(/*include_self=*/false))
    if (auto* b = m->as<BatchNorm2dImpl>()) b->sync = reducer;
}

void EfficientNetImpl::keep_in_eval(std::vector<std::shared_ptr<nn::Module>> modules) {
  eval_modules_ = std::move(modules);
  train(is_training());
}

}  // namespace finch::model
