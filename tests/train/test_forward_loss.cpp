// The forward pass training and evaluation share: the loss is cross-entropy of the float32 logits
// (mean for training, with label smoothing; sum for evaluation), on the model's device, with the
// same logits in channels-last as in contiguous memory.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "finch/train/forward_loss.h"

using namespace finch;

namespace {

model::EfficientNet tiny_model() {
  torch::manual_seed(3);
  model::EfficientNetOptions o;
  o.classes = 7;
  model::EfficientNet m(o);
  m->eval();
  return m;
}

data::Batch batch() {
  torch::manual_seed(4);
  data::Batch b;
  b.images = torch::randn({3, 3, 32, 32});
  b.labels = torch::tensor({0, 6, 2}, torch::kLong);
  return b;
}

// A tiny model in eval mode, a batch, default options, no autograd.
class ForwardLoss : public ::testing::Test {
 protected:
  model::EfficientNet m = tiny_model();
  data::Batch b = batch();
  torch::NoGradGuard no_grad;
  train::ForwardOptions o;
};

}  // namespace

TEST_F(ForwardLoss, MeanSumAndSmoothingAreCrossEntropyOfTheLogits) {
  const auto mean = train::forward_loss(*m, b, o);
  EXPECT_EQ(mean.logits.scalar_type(), torch::kFloat);
  EXPECT_EQ(mean.logits.sizes(), (std::vector<int64_t>{3, 7}));
  const auto expected = torch::nn::functional::cross_entropy(m->forward(b.images), b.labels);
  EXPECT_NEAR(mean.loss.item<double>(), expected.item<double>(), 1e-6);
  o.sum = true;
  EXPECT_NEAR(train::forward_loss(*m, b, o).loss.item<double>(), 3 * expected.item<double>(), 1e-5);
  o.sum = false;
  o.label_smoothing = 0.1;
  const auto smoothed = torch::nn::functional::cross_entropy(
      m->forward(b.images), b.labels, torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(0.1));
  EXPECT_NEAR(train::forward_loss(*m, b, o).loss.item<double>(), smoothed.item<double>(), 1e-6);
}

TEST_F(ForwardLoss, ChannelsLastGivesTheSameLogits) {
  const auto plain = train::forward_loss(*m, b, o);
  o.channels_last = true;
  EXPECT_TRUE(train::model_input(b.images, o).is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(torch::allclose(train::forward_loss(*m, b, o).logits, plain.logits, 1e-5, 1e-5));
}

// eval.tta=hflip: the logits are the mean of the image's and its mirror's (mirrored along the
// width), the loss cross-entropy of that mean; a mirror-symmetric image is its own mirror.
TEST_F(ForwardLoss, HflipTtaAveragesTheLogitsOfTheImageAndItsMirror) {
  // A random-init model in eval mode answers with its classifier's bias (torchvision's init keeps
  // deep activations near zero): in train mode, with batch statistics and nothing random, the
  // logits depend on the image. The difference the mirror makes is the yardstick.
  model::EfficientNetOptions opts;
  opts.classes = 7;
  opts.dropout = 0.0;
  opts.stochastic_depth = 0.0;
  torch::manual_seed(3);
  model::EfficientNet m(opts);
  m->train();
  o.hflip_tta = true;
  const auto tta = train::forward_loss(*m, b, o);
  const auto mirror = b.images.flip({3});
  const auto fx = m->forward(b.images), fm = m->forward(mirror);
  const double d = (fx - fm).abs().max().item<double>();
  ASSERT_GT(d, 1e-6) << "the image and its mirror give the same logits: the test could not tell";
  const auto expected = (fx + fm) / 2;
  EXPECT_LT((tta.logits - expected).abs().max().item<double>(), d / 20);
  EXPECT_GT((tta.logits - fx).abs().max().item<double>(), d / 4) << "the mirror's logits were not averaged in";
  EXPECT_NEAR(tta.loss.item<double>(), torch::nn::functional::cross_entropy(expected, b.labels).item<double>(), 1e-5);
  data::Batch symmetric = b;
  symmetric.images = (b.images + mirror) / 2;
  o.hflip_tta = false;
  const auto plain = train::forward_loss(*m, symmetric, o);
  o.hflip_tta = true;
  EXPECT_TRUE(torch::allclose(train::forward_loss(*m, symmetric, o).logits, plain.logits, 1e-5, 1e-5));
}
