// The fp16 loss scaler: GradScaler's rule (back off and skip on inf/NaN, grow after an interval of
// clean steps), gradients unscaled in place, state saved and restored. A world of one here; the
// agreement over ranks is the communicator's max (tests/mpi covers collectives).
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

}  // namespace

TEST(GradScaler, DisabledIsANoOp) {
  auto comm = distributed::make_mpi_communicator();
  GradScaler s;
  EXPECT_FALSE(s.enabled());
  EXPECT_DOUBLE_EQ(s.scale(), 1.0);
  auto p = param_with_grad(std::numeric_limits<float>::infinity());
  EXPECT_TRUE(s.unscale_and_check({p}, *comm));  // nothing checked without fp16
  EXPECT_TRUE(torch::equal(s.scale_loss(torch::full({}, 2.0f)), torch::full({}, 2.0f)));
}

TEST(GradScaler, UnscalesBacksOffAndGrows) {
  auto comm = distributed::make_mpi_communicator();
  GradScalerOptions o;
  o.enabled = true;
  o.init_scale = 1024;
  o.growth_interval = 3;
  GradScaler s(o);
  EXPECT_DOUBLE_EQ(s.scale_loss(torch::full({}, 2.0f)).item<double>(), 2048.0);
  auto p = param_with_grad(512.0f);
  ASSERT_TRUE(s.unscale_and_check({p}, *comm));
  EXPECT_TRUE(torch::allclose(p.grad(), torch::full({3}, 0.5f)));  // divided by the scale
  auto bad = param_with_grad(std::numeric_limits<float>::quiet_NaN());
  EXPECT_FALSE(s.unscale_and_check({p, bad}, *comm));
  EXPECT_DOUBLE_EQ(s.scale(), 512.0);
  EXPECT_EQ(s.overflows(), 1);
  for (int k = 0; k < 2; ++k) EXPECT_TRUE(s.unscale_and_check({param_with_grad(1.0f)}, *comm));
  EXPECT_DOUBLE_EQ(s.scale(), 512.0);  // two clean steps since the back-off: not yet
  EXPECT_TRUE(s.unscale_and_check({param_with_grad(1.0f)}, *comm));
  EXPECT_DOUBLE_EQ(s.scale(), 1024.0);  // the third grows it
}

TEST(GradScaler, StateRoundTrip) {
  auto comm = distributed::make_mpi_communicator();
  GradScalerOptions o;
  o.enabled = true;
  o.growth_interval = 4;
  GradScaler a(o);
  EXPECT_FALSE(a.unscale_and_check({param_with_grad(std::numeric_limits<float>::infinity())}, *comm));
  for (int k = 0; k < 3; ++k) a.unscale_and_check({param_with_grad(1.0f)}, *comm);
  GradScaler b(o);
  b.load(nlohmann::json::parse(a.state().dump()));
  EXPECT_EQ(b.state(), a.state());
  a.unscale_and_check({param_with_grad(1.0f)}, *comm);
  b.unscale_and_check({param_with_grad(1.0f)}, *comm);
  EXPECT_DOUBLE_EQ(b.scale(), a.scale());  // the growth tracker came along: both grew here
  EXPECT_DOUBLE_EQ(a.scale(), 65536.0);
  GradScaler off;  // a run resumed without fp16 stays unscaled
  off.load(a.state());
  EXPECT_DOUBLE_EQ(off.scale(), 1.0);
}
