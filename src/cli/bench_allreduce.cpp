// finch bench allreduce: the communicator's all-reduce bandwidth over message sizes (nccl-tests'
// algbw and busbw), and the gradient synchronizer on a real model's gradients against one bare
// all-reduce of the same bytes (MPI_Allreduce in place on the CPU; on a GPU the communicator's
// single-tensor all-reduce, which is one ncclAllReduce). Run it under mpirun/srun: a world of one
// reduces nothing.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <torch/version.h>

#include "bench_rig.h"
#include "commands.h"
#include "finch/core/clock.h"
#include "finch/core/build_info.h"
#include "finch/core/error.h"
#include "finch/distributed/communicator.h"
#include "finch/distributed/device.h"
#include "finch/distributed/grad_sync.h"
#include "finch/distributed/run_context.h"
#include "finch/distributed/world.h"
#include "finch/model/build.h"

namespace finch::cli {
namespace {

struct AllreduceBenchOptions {
  int64_t min_bytes = 4 << 10;
  int64_t max_bytes = 256 << 20;
  int factor = 4;
  int iters = 20;
  int warmup = 3;
  std::string arch = "efficientnet_b0";
  int classes = 200;
  double bucket_mb = 25;
  DeviceRequest device = DeviceRequest::kAuto;
  Backend backend = Backend::kAuto;
  std::string json;
};


// Seconds per call of `op`, the slowest rank's (a collective is as slow as its slowest member).
// A host read of `probe` ends each timing, so queued GPU work counts.
template <class Op>
double time_per_call(distributed::Communicator& comm, int warmup, int iters, const at::Tensor& probe, Op op) {
  for (int k = 0; k < warmup; ++k) op();
  (void)probe.view(-1)[0].item<float>();
  comm.barrier();
  const auto t0 = Clock::now();
  for (int k = 0; k < iters; ++k) op();
  (void)probe.view(-1)[0].item<float>();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count() / iters;
  return comm.allreduce_value(s, distributed::ReduceOp::kMax);
}

// MPI_Allreduce in place on a contiguous float CPU tensor: the floor any MPI-based reducer stands on.
void bare_mpi_allreduce(at::Tensor& t) {
  if (!distributed::world().mpi || distributed::world().size == 1) return;
  if (MPI_Allreduce(MPI_IN_PLACE, t.data_ptr<float>(), static_cast<int>(t.numel()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
    throw RuntimeError("MPI_Allreduce failed");
}

int run_allreduce_bench(const AllreduceBenchOptions& o) {
  if (o.min_bytes < 4 || o.max_bytes < o.min_bytes || o.factor < 2 || o.iters < 1 || o.warmup < 0)
    throw ConfigError("bench allreduce: need 4 <= --min-bytes <= --max-bytes, --factor >= 2, --iters >= 1, --warmup >= 0");
  auto control = distributed::make_mpi_communicator();
  auto ctx = distributed::make_run_context(*control, {o.device, false, o.backend, 600});
  auto& comm = *ctx.comm;
  const int n = comm.size();
  const bool cpu = ctx.device.is_cpu();
  const bool root = comm.rank() == 0;
  const double bus_factor = n > 1 ? 2.0 * (n - 1) / n : 0.0;  // nccl-tests' all-reduce busbw factor
  const auto opts = at::TensorOptions().dtype(at::kFloat).device(ctx.device);

  nlohmann::ordered_json out = {{"bench", "allreduce"},
                                {"impl", "finch"},
                                {"world_size", n},
                                {"backend", comm.backend()},
                                {"device", distributed::describe_device(ctx.device)},
                                {"torch", TORCH_VERSION},
                                {"finch", FINCH_VERSION},
                                {"sizes", nlohmann::ordered_json::array()}};
  if (root) {
    std::cout << fmt::format("all-reduce, float32 sum, {} rank(s), {} on {}\n", n, comm.backend(), out["device"].get<std::string>());
    std::cout << fmt::format("{:>12} {:>6} {:>11} {:>12} {:>12} {:>11} {:>12}\n", "bytes", "iters", "time us", "algbw GB/s",
                             "busbw GB/s", "bare us", "bare busbw");
  }
  for (int64_t bytes = o.min_bytes; bytes <= o.max_bytes; bytes *= o.factor) {
    const int iters = static_cast<int>(std::clamp<int64_t>((int64_t{1} << 30) / bytes, 3, o.iters));
    auto t = at::ones({bytes / 4}, opts);
    const double s = time_per_call(comm, o.warmup, iters, t, [&] { comm.allreduce(t, distributed::ReduceOp::kSum); });
    double bare = 0;
    if (cpu) bare = time_per_call(comm, o.warmup, iters, t, [&] { bare_mpi_allreduce(t); });
    const double algbw = bytes / s / 1e9;
    nlohmann::ordered_json row = {{"bytes", bytes}, {"iters", iters}, {"seconds", s}, {"algbw_gb_s", algbw}, {"busbw_gb_s", algbw * bus_factor}};
    if (cpu) row["bare_seconds"] = bare, row["bare_busbw_gb_s"] = bytes / bare / 1e9 * bus_factor;
    out["sizes"].push_back(row);
    if (root)
      std::cout << fmt::format("{:>12} {:>6} {:>11.1f} {:>12.3f} {:>12.3f} {:>11} {:>12}\n", bytes, iters, s * 1e6, algbw, algbw * bus_factor,
                               cpu ? fmt::format("{:.1f}", bare * 1e6) : "-", cpu ? fmt::format("{:.3f}", bytes / bare / 1e9 * bus_factor) : "-");
  }

  // The synchronizer on a real model's gradients, as the step's finish() runs it when backward has
  // left every bucket to the end (no overlap): every bucket all-reduced in place.
  ModelConfig mc;
  mc.arch = o.arch;
  mc.classes = o.classes;
  torch::manual_seed(1);
  auto model = model::build_model(mc);
  model->to(ctx.device);
  std::vector<at::Tensor> trainable;
  int64_t grad_bytes = 0;
  for (auto& p : model->parameters())
    if (p.requires_grad()) {
      p.mutable_grad() = torch::randn_like(p);
      grad_bytes += p.numel() * p.element_size();
      trainable.push_back(p);
    }
  // As the trainer runs it: the loss prescaled by 1/world, the buckets summed (the gradients here are
  // random numbers: what is timed is the same).
  distributed::GradientSynchronizer sync(comm, trainable, {o.bucket_mb, /*loss_prescaled=*/true});
  const int iters = std::max(3, o.iters);
  const double s_sync = time_per_call(comm, o.warmup, iters, trainable.front(), [&] { sync.finish(); });
  auto flat = at::ones({grad_bytes / 4}, opts);
  const double s_bare = time_per_call(comm, o.warmup, iters, flat, [&] {
    if (cpu) bare_mpi_allreduce(flat);
    else comm.allreduce(flat, distributed::ReduceOp::kSum);
  });
  const double efficiency = n > 1 ? s_bare / s_sync : 1.0;
  out["synchronizer"] = {{"arch", o.arch},
                         {"gradient_bytes", grad_bytes},
                         {"buckets", sync.num_buckets()},
                         {"bucket_mb", o.bucket_mb},
                         {"seconds", s_sync},
                         {"bare_seconds", s_bare},
                         {"bare", cpu ? "MPI_Allreduce" : "communicator all-reduce of one tensor"},
                         {"efficiency", efficiency}};
  if (root) {
    std::cout << fmt::format("\ngradient synchronizer, {} ({:.1f} MB of gradients, {} bucket(s) of <= {} MB):\n", o.arch, grad_bytes / 1e6,
                             sync.num_buckets(), o.bucket_mb);
    std::cout << fmt::format("  synchronizer {:.2f} ms   bare {} of the same bytes {:.2f} ms   bare/synchronizer {:.2f}\n", s_sync * 1e3,
                             cpu ? "MPI_Allreduce" : "all-reduce", s_bare * 1e3, efficiency);
    write_bench_json(o.json, out);
  }
  return 0;
}

}  // namespace

Command add_bench_allreduce(CLI::App& root) {
  auto* bench = root.get_subcommand("bench");
  auto* app = bench->add_subcommand("allreduce", "All-reduce bandwidth over sizes (busbw), and the gradient synchronizer against a bare all-reduce");
  auto o = std::make_shared<AllreduceBenchOptions>();
  app->add_option("--min-bytes", o->min_bytes, "Smallest message")->check(CLI::Range(1.0, 1e12))->capture_default_str();
  app->add_option("--max-bytes", o->max_bytes, "Largest message")->check(CLI::Range(1.0, 1e12))->capture_default_str();
  app->add_option("--factor", o->factor, "Size multiplier between rows (nccl-tests -f)")->check(CLI::Range(2, 1024))->capture_default_str();
  app->add_option("--iters", o->iters, "Timed calls per size (fewer above 64 MB, at least 3)")->check(CLI::Range(1, 1000000))->capture_default_str();
  app->add_option("--warmup", o->warmup, "Untimed calls first")->check(CLI::Range(0, 1000000))->capture_default_str();
  app->add_option("--arch", o->arch, "Model whose gradients the synchronizer reduces")->capture_default_str();
  app->add_option("--classes", o->classes, "Classes of the head")->check(CLI::Range(1, 1000000))->capture_default_str();
  app->add_option("--bucket-mb", o->bucket_mb, "Gradient bucket size (dist.bucket_mb)")->check(CLI::Range(0.001, 100000.0))->capture_default_str();
  add_device_option(app, o->device);
  add_choice_option(app, "--backend", o->backend, "auto (NCCL on a GPU, MPI on the CPU), nccl or mpi");
  app->add_option("--json", o->json, "Also write the results as JSON to this file");
  return {app, [o]() { return run_allreduce_bench(*o); }};
}

}  // namespace finch::cli
