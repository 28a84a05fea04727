// Note [Memory format]: finch train's default (train.channels_last=auto) on the CPU trains in
// channels_last where LibTorch has oneDNN: the step the trainer builds holds NHWC weights (the
// EMA's too), feeds NHWC input, and its gradients are NHWC views into the persistent buckets. The
// old rule (`channels_last && cuda`) fails every check here.
#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "finch/core/config.h"
#include "finch/distributed/communicator.h"
#include "finch/train/forward_loss.h"
#include "finch/train/memory_format.h"
#include "finch/train/step_parts.h"

using namespace finch;

TEST(MemoryFormat, AutoChoosesChannelsLastOnACpuWithOneDnn) {
  const auto cpu = train::choose_memory_format(ChannelsLast::kAuto, c10::Device(c10::kCPU));
  EXPECT_EQ(cpu.channels_last, at::hasMKLDNN()) << cpu.why;
  EXPECT_NE(cpu.why.find("auto"), std::string::npos) << cpu.why;
  EXPECT_FALSE(train::choose_memory_format(ChannelsLast::kFalse, c10::Device(c10::kCPU)).channels_last);
  EXPECT_TRUE(train::choose_memory_format(ChannelsLast::kTrue, c10::Device(c10::kCPU)).channels_last);
}

TEST(MemoryFormat, TheDefaultCpuStepTrainsInChannelsLast) {
  if (!at::hasMKLDNN()) GTEST_SKIP() << "this LibTorch has no oneDNN: auto keeps NCHW on the CPU";
  auto comm = distributed::make_mpi_communicator();
  Config c;  // train.channels_last at its default, auto
  c.model.classes = 5;
  c.model.dropout = 0.0;
  c.train.batch_size = 2;
  c.train.ema.enabled = true;
  const c10::Device cpu(c10::kCPU);
  auto parts = train::build_step_parts(c, cpu);
  train::connect_step_parts(*parts, c, *comm);
  EXPECT_TRUE(parts->forward.channels_last) << parts->memory_format;
  int conv = 0;
  for (const auto& p : parts->model->parameters())
    if (p.dim() == 4) {
      ++conv;
      EXPECT_TRUE(p.is_contiguous(at::MemoryFormat::ChannelsLast)) << "a weight of shape " << p.sizes();
    }
  EXPECT_GT(conv, 50);
  for (const auto& p : parts->ema->module().parameters())
    if (p.dim() == 4) EXPECT_TRUE(p.is_contiguous(at::MemoryFormat::ChannelsLast)) << "an EMA weight of shape " << p.sizes();
  torch::manual_seed(7);
  data::Batch batch{torch::randn({2, 3, 32, 32}), torch::randint(0, 5, {2}, torch::kLong), torch::arange(2), 0};
  EXPECT_TRUE(train::model_input(batch.images, parts->forward).is_contiguous(at::MemoryFormat::ChannelsLast));
  bool given = false, checked = false;
  // Between backward and the optimizer (take_step's before_agree): the gradients as the buckets hold them.
  train::take_step(
      *parts, *comm, 1, {0, 0, 0},
      [&]() -> std::optional<data::Batch> {
        if (given) return std::nullopt;
        given = true;
        return batch;
      },
      [&](train::StepSums&) {
        checked = true;
        for (const auto& p : parts->trainable) {
          if (p.dim() != 4) continue;
          ASSERT_TRUE(p.grad().defined());
          EXPECT_TRUE(p.grad().is_contiguous(at::MemoryFormat::ChannelsLast)) << "the gradient of a weight of shape " << p.sizes();
          // Its parameter's strides (a bucket view on 2 ranks; a size-1 dimension's stride says nothing).
          for (int64_t d = 0; d < p.dim(); ++d)
            if (p.size(d) > 1) EXPECT_EQ(p.grad().stride(d), p.stride(d)) << "dimension " << d << " of a weight of shape " << p.sizes();
        }
      });
  EXPECT_TRUE(checked);
}
