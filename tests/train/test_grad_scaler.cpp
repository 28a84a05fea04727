// The fp16 loss scaler: GradScaler's rule (back off and skip on inf/NaN, grow after an interval of
// clean steps), gradients unscaled in place with the inf/NaN flag left on the device, state saved
// and restored. The agreement over ranks is agree_step's (tests/mpi covers it with 2 ranks).
#include <limits>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "finch/train/grad_scaler.h"

using namespace finch;
using finch::train::GradScaler;
using finch::train::GradScalerOptions;

namespace {

at::Tensor param_with_grad(float g) {
  auto p = torch::zeros({3}, torch::requires_grad());
  p.mutable_grad() = torch::full({3}, g);
  return p;
}

// What the scaler found, read back (the step reads it once with the loss).
bool found_inf(const at::Tensor& flag) { return flag.item<float>() != 0; }

// One step as the trainer takes it at a world of one: unscale, agree (trivially), update.
bool step(GradScaler& s, const std::vector<at::Tensor>& params) {
  const bool inf = found_inf(s.unscale_(params));
  s.update(inf);
  return !inf;
}

}  // namespace

TEST(GradScaler, DisabledIsANoOp) {
  GradScaler s;
  EXPECT_FALSE(s.enabled());
  EXPECT_DOUBLE_EQ(s.scale(), 1.0);
  auto p = param_with_grad(std::numeric_limits<float>::infinity());
  EXPECT_FALSE(s.unscale_({p}).defined());  // nothing checked without fp16
  s.update(true);
  EXPECT_DOUBLE_EQ(s.scale(), 1.0);
  EXPECT_EQ(s.overflows(), 0);
  EXPECT_TRUE(torch::equal(s.scale_loss(torch::full({}, 2.0f)), torch::full({}, 2.0f)));
}

TEST(GradScaler, UnscalesBacksOffAndGrows) {
  GradScalerOptions o;
  o.enabled = true;
  o.init_scale = 1024;
  o.growth_interval = 3;
  GradScaler s(o);
  EXPECT_DOUBLE_EQ(s.scale_loss(torch::full({}, 2.0f)).item<double>(), 2048.0);
  auto p = param_with_grad(512.0f);
  const auto flag = s.unscale_({p});
  ASSERT_TRUE(flag.defined());
  EXPECT_EQ(flag.sizes(), at::IntArrayRef({1}));
  EXPECT_EQ(flag.device(), p.device());
  EXPECT_FALSE(found_inf(flag));
  EXPECT_TRUE(torch::allclose(p.grad(), torch::full({3}, 0.5f)));  // divided by the scale
  s.update(false);
  // inf/NaN anywhere among the gradients, and a +inf/-inf pair that a plain sum would turn to NaN.
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()})
    EXPECT_TRUE(found_inf(s.unscale_({param_with_grad(1.0f), param_with_grad(bad)}))) << bad;
  EXPECT_DOUBLE_EQ(s.scale(), 1024.0);  // finding is not deciding: the scale moves on update only
  EXPECT_FALSE(step(s, {p, param_with_grad(std::numeric_limits<float>::quiet_NaN())}));
  EXPECT_DOUBLE_EQ(s.scale(), 512.0);
  EXPECT_EQ(s.overflows(), 1);
  // Another rank's overflow, agreed: this rank backs off too although its gradients were finite.
  EXPECT_FALSE(found_inf(s.unscale_({param_with_grad(1.0f)})));
  s.update(true);
  EXPECT_DOUBLE_EQ(s.scale(), 256.0);
  EXPECT_EQ(s.overflows(), 2);
  for (int k = 0; k < 2; ++k) EXPECT_TRUE(step(s, {param_with_grad(1.0f)}));
  EXPECT_DOUBLE_EQ(s.scale(), 256.0);  // two clean steps since the back-off: not yet
  EXPECT_TRUE(step(s, {param_with_grad(1.0f)}));
  EXPECT_DOUBLE_EQ(s.scale(), 512.0);  // the third grows it
}

TEST(GradScaler, StateRoundTrip) {
  GradScalerOptions o;
  o.enabled = true;
  o.growth_interval = 4;
  GradScaler a(o);
  EXPECT_FALSE(step(a, {param_with_grad(std::numeric_limits<float>::infinity())}));
  for (int k = 0; k < 3; ++k) step(a, {param_with_grad(1.0f)});
  GradScaler b(o);
  b.load(nlohmann::json::parse(a.state().dump()));
  EXPECT_EQ(b.state(), a.state());
  step(a, {param_with_grad(1.0f)});
  step(b, {param_with_grad(1.0f)});
  EXPECT_DOUBLE_EQ(b.scale(), a.scale());  // the growth tracker came along: both grew here
  EXPECT_DOUBLE_EQ(a.scale(), 65536.0);
  GradScaler off;  // a run resumed without fp16 stays unscaled
  off.load(a.state());
  EXPECT_DOUBLE_EQ(off.scale(), 1.0);
}
