// The device rule of distributed::plan_device: ranks per node x visible GPUs x how the launcher bound them.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "finch/core/build_info.h"
#include "finch/core/error.h"
#include "finch/distributed/device.h"

namespace finch::distributed {
namespace {

DeviceInputs node(int local_rank, int local_size, int gpus, std::vector<std::string> visible = {}) {
  DeviceInputs in;
  in.rank = 10 + local_rank;
  in.local_rank = local_rank;
  in.local_size = local_size;
  in.visible_gpus = gpus;
  in.node_visible = visible.empty() ? std::vector<std::string>(static_cast<size_t>(local_size)) : std::move(visible);
  return in;
}

TEST(DevicePlan, OneRankPerGpuTakesItsNodeLocalRank) {
  for (int size : {1, 2, 4, 8})
    for (int gpus : {size, 8})
      for (int r = 0; r < size; ++r) {
        const auto p = plan_device(node(r, size, gpus));
        EXPECT_TRUE(p.cuda);
        EXPECT_EQ(p.index, r) << size << " ranks, " << gpus << " GPUs";
      }
}

TEST(DevicePlan, SameVisibleListOnEveryRankIsSharedNotPerRank) {
  // CUDA_VISIBLE_DEVICES=2,3 exported to both ranks: each sees two GPUs and takes its own.
  const std::vector<std::string> v{"2,3", "2,3"};
  EXPECT_EQ(plan_device(node(0, 2, 2, v)).index, 0);
  EXPECT_EQ(plan_device(node(1, 2, 2, v)).index, 1);
}

TEST(DevicePlan, PerRankBindingTakesTheFirstVisibleGpu) {
  // srun --gpus-per-task=1 (or --gpu-bind): every rank sees one different GPU, index 0 for all.
  const std::vector<std::string> v{"0", "1", "2", "3"};
  for (int r = 0; r < 4; ++r) {
    const auto p = plan_device(node(r, 4, 1, v));
    EXPECT_TRUE(p.cuda);
    EXPECT_EQ(p.index, 0);
    EXPECT_NE(p.reason.find("CUDA_VISIBLE_DEVICES=" + v[static_cast<size_t>(r)]), std::string::npos) << p.reason;
  }
  // Two GPUs per task: still the first of its own.
  EXPECT_EQ(plan_device(node(1, 2, 2, {"0,1", "2,3"})).index, 0);
}

TEST(DevicePlan, DeviceCgroupsEveryRankSeesItsOwnGpuAsZero) {
  // srun --gpus-per-task=1 with ConstrainDevices=yes: each rank sees one GPU, CUDA_VISIBLE_DEVICES=0
  // everywhere, but the bus ids differ: each rank has its own GPU.
  auto in = node(1, 2, 1, {"0", "0"});
  in.node_devices = {"00000000:1A:00.0", "00000000:3B:00.0"};
  const auto p = plan_device(in);
  EXPECT_TRUE(p.cuda);
  EXPECT_EQ(p.index, 0);
  // The same GPU behind both ranks' "0" is still two ranks on one GPU.
  in.node_devices = {"00000000:1A:00.0", "00000000:1A:00.0"};
  EXPECT_THROW(plan_device(in), ConfigError);
}

TEST(DevicePlan, MoreRanksThanGpusIsAnErrorNamingTheRankAndTheWayOut) {
  try {
    plan_device(node(1, 2, 1, {"0", "0"}));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("rank 11: 2 ranks on this node but 1 GPU(s) visible (CUDA_VISIBLE_DEVICES=0)"), std::string::npos) << m;
    EXPECT_NE(m.find("dist.share_gpus=true"), std::string::npos) << m;
    EXPECT_NE(m.find("mpirun -np 1"), std::string::npos) << m;
  }
  EXPECT_THROW(plan_device(node(0, 3, 2)), ConfigError);
  EXPECT_THROW(plan_device(node(0, 2, 1, {"0", ""})), ConfigError);  // one rank unbound: not per-rank binding
}

TEST(DevicePlan, SharingWhenAskedWrapsAround) {
  for (int r = 0; r < 4; ++r) {
    auto in = node(r, 4, 3);
    in.share_gpus = true;
    const auto p = plan_device(in);
    EXPECT_TRUE(p.cuda);
    EXPECT_EQ(p.index, r % 3);
  }
}

TEST(DevicePlan, CpuRequestsAndNoGpus) {
  auto cpu = node(0, 2, 8);
  cpu.request = DeviceRequest::kCpu;
  EXPECT_FALSE(plan_device(cpu).cuda);
  EXPECT_FALSE(plan_device(node(1, 4, 0)).cuda);  // auto without GPUs: CPU, whatever the rank count
  auto cuda = node(1, 2, 0);
  cuda.request = DeviceRequest::kCuda;
  try {
    plan_device(cuda);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 11: train.device is cuda but"), std::string::npos) << e.what();
  }
}

TEST(DevicePlan, SelectDeviceOnThisMachine) {
  // A world of one: CPU on a machine without GPUs (CI), GPU 0 where there is one.
  const auto d = select_device(DeviceRequest::kAuto, false);
  EXPECT_EQ(d.is_cuda(), torch::cuda::is_available());
}

}  // namespace
}  // namespace finch::distributed
