#include "finch/distributed/device.h"

#include <sys/resource.h>

#include <cstdlib>
#include <set>

#include <fmt/format.h>
#include <torch/cuda.h>

#include "finch/core/build_info.h"
#include "finch/core/error.h"
#include "finch/distributed/world.h"

namespace finch::distributed {

#if FINCH_USE_CUDA
// cuda_device.cpp (CUDA builds only)
void set_cuda_device(int index);
std::string cuda_device_name(int index);
std::string cuda_visible_bus_ids();
int64_t cuda_peak_allocated_bytes(int index);
#endif

namespace {

std::string visible_note(const std::string& v) { return v.empty() ? "" : fmt::format(" (CUDA_VISIBLE_DEVICES={})", v); }

// Each rank of the node was given its own GPUs: all known, all different. By bus id where known:
// CUDA_VISIBLE_DEVICES can read the same ("0") for GPUs that device cgroups keep apart.
bool bound_per_rank(const DeviceInputs& in) {
  const auto& sets = in.node_devices.size() == in.node_visible.size() && !in.node_devices.empty() ? in.node_devices : in.node_visible;
  if (sets.size() < 2) return false;
  std::set<std::string> distinct;
  for (const auto& v : sets) {
    if (v.empty()) return false;
    distinct.insert(v);
  }
  return distinct.size() == sets.size();
}

}  // namespace

DevicePlan plan_device(const DeviceInputs& in) {
  if (in.request == DeviceRequest::kCpu) return {false, 0, "train.device=cpu"};
  const std::string mine = in.local_rank < static_cast<int>(in.node_visible.size()) ? in.node_visible[in.local_rank] : "";
  if (in.visible_gpus <= 0) {
    if (in.request == DeviceRequest::kCuda)
      throw ConfigError(fmt::format("rank {}: train.device is cuda but {}{}", in.rank,
                                    FINCH_USE_CUDA ? "no CUDA device is visible" : "this finch was built without CUDA (a CPU LibTorch or FINCH_CUDA=OFF)",
                                    visible_note(mine)));
    return {false, 0, FINCH_USE_CUDA ? "no CUDA device visible" : "a CPU build"};
  }
  if (bound_per_rank(in))
    return {true, 0, fmt::format("this rank's own GPU set{} (first of {})", visible_note(mine), in.visible_gpus)};
  if (in.local_size <= in.visible_gpus)
    return {true, in.local_rank, fmt::format("node-local rank {} of {} on GPU {} of {}{}", in.local_rank, in.local_size, in.local_rank,
                                             in.visible_gpus, visible_note(mine))};
  if (in.share_gpus)
    return {true, in.local_rank % in.visible_gpus,
            fmt::format("dist.share_gpus: {} ranks on {} GPU(s), node-local rank {} on GPU {}{}", in.local_size, in.visible_gpus,
                        in.local_rank, in.local_rank % in.visible_gpus, visible_note(mine))};
  throw ConfigError(fmt::format(
      "rank {}: {} ranks on this node but {} GPU(s) visible{}: start one rank per GPU (mpirun -np {} / srun --ntasks-per-node={} "
      "--gpus-per-task=1), or set dist.share_gpus=true to put several ranks on one GPU (with dist.backend=mpi: NCCL refuses two "
      "ranks on one GPU), or train.device=cpu",
      in.rank, in.local_size, in.visible_gpus, visible_note(mine), in.visible_gpus, in.visible_gpus));
}

c10::Device select_device(DeviceRequest request, bool share_gpus, std::string* reason) {
  const WorldInfo& w = world();
  DeviceInputs in;
  in.request = request;
  in.rank = w.rank;
  in.local_rank = w.local_rank;
  in.local_size = w.local_size;
  in.share_gpus = share_gpus;
  const char* env = std::getenv("CUDA_VISIBLE_DEVICES");
  in.node_visible = gather_on_node(env ? env : "");
  in.visible_gpus = request == DeviceRequest::kCpu ? 0 : static_cast<int>(torch::cuda::device_count());
#if FINCH_USE_CUDA
  in.node_devices = gather_on_node(in.visible_gpus > 0 ? cuda_visible_bus_ids() : "");  // every rank: a collective
#endif
  const DevicePlan plan = plan_device(in);
  if (reason) *reason = plan.reason;
  if (!plan.cuda) return c10::Device(c10::kCPU);
#if FINCH_USE_CUDA
  set_cuda_device(plan.index);
#endif
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(plan.index));
}

PeakMemory peak_memory(const c10::Device& device) {
#if FINCH_USE_CUDA
  if (device.is_cuda()) return {cuda_peak_allocated_bytes(device.index()), "cuda_allocated"};
#endif
  (void)device;
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return {static_cast<int64_t>(u.ru_maxrss) * 1024, "cpu_rss"};
}

std::string describe_device(const c10::Device& device) {
#if FINCH_USE_CUDA
  if (device.is_cuda()) return fmt::format("{} = {}", device.str(), cuda_device_name(device.index()));
#endif
  return device.str();
}

}  // namespace finch::distributed
