// finch bench step: one training step — forward, backward, gradient all-reduce, optimizer — on a
// fixed in-memory batch, through the trainer's own step (Note [One step assembly]), so the figure is
// what training gets minus the input pipeline. Under mpirun every rank steps together (a DDP step).
// Its eager-PyTorch counterpart is tests/reference/eager_step.py; launch/compare.sh runs both.
#include <chrono>
#include <filesystem>
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
#include "finch/core/trace.h"
#include "finch/distributed/communicator.h"
#include "finch/distributed/device.h"
#include "finch/distributed/run_context.h"

namespace finch::cli {
namespace {

struct StepBenchOptions {
  RigOptions rig;
  int image_size = 224;
  int steps = 20;
  int warmup = 3;
  int threads = 0;  // 0: as finch train (cores / ranks on the node, or OMP_NUM_THREADS)
  DeviceRequest device = DeviceRequest::kAuto;
  std::string json;
  std::string trace_dir;  // --trace: a timeline of the measured steps, trace-rank<r>.json per rank
};

int run_step_bench(const StepBenchOptions& o) {
  if (o.steps < 1 || o.warmup < 0 || o.rig.batch_size < 1 || o.image_size < 32)
    throw ConfigError("bench step: --steps >= 1, --warmup >= 0, --batch-size >= 1 and --image-size >= 32 are required");
  auto control = distributed::make_mpi_communicator();
  set_intra_op_threads(o.threads);
  auto ctx = distributed::make_run_context(*control, {o.device, false, Backend::kAuto, 600});
  auto& comm = *ctx.comm;

  StepRig rig(rig_config(o.rig), comm, ctx.device);
  const bool cuda = rig.cuda(), channels_last = rig.channels_last();
  const int64_t batch_size = o.rig.batch_size;

  // The batch as the loader hands it over: normalised float32 on the host (pinned for a GPU), in
  // the model's memory format (Note [Memory format]).
  data::Batch batch;
  batch.images = torch::randn({batch_size, 3, o.image_size, o.image_size});
  if (channels_last) batch.images = batch.images.contiguous(at::MemoryFormat::ChannelsLast);
  batch.labels = torch::randint(0, o.rig.classes, {batch_size}, torch::kLong);
  batch.indices = torch::arange(batch_size, torch::kLong);
  if (cuda) batch.images = batch.images.pin_memory(), batch.labels = batch.labels.pin_memory();
  const auto next = [&]() -> std::optional<data::Batch> { return batch; };

  // Each step as the trainer takes it (train::take_step): accumulate (one host read), agree, apply.
  // The host read makes each step's time end when its compute has.
  std::vector<double> ms;
  const auto run_start = Clock::now();
  auto measured_start = run_start;
  for (int k = 0; k < o.warmup + o.steps; ++k) {
    if (k == o.warmup) {
      if (!o.trace_dir.empty()) comm.barrier(), trace::start(comm.rank());  // time zero together (Note [The step timeline])
      measured_start = Clock::now(), rig.parts->sync->reset_overlap();
    }
    const auto t0 = Clock::now();
    rig.take(comm, {0, k, k}, next);
    if (k >= o.warmup) ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  comm.barrier();
  const double seconds = std::chrono::duration<double>(Clock::now() - measured_start).count();
  if (!o.trace_dir.empty()) {
    std::filesystem::create_directories(o.trace_dir);
    trace::stop_and_write(std::filesystem::path(o.trace_dir) / fmt::format("trace-rank{}.json", comm.rank()));
  }
  const double images = static_cast<double>(batch_size) * comm.size() * o.steps;
  const auto peak = distributed::peak_memory(ctx.device);
  const std::string& precision = rig.precision;
  nlohmann::ordered_json r = {{"bench", "step"},
                              {"impl", "finch"},
                              {"arch", o.rig.arch},
                              {"batch_size", batch_size},
                              {"image_size", o.image_size},
                              {"precision", precision},
                              {"channels_last", channels_last},
                              {"optimizer", choice_name(o.rig.optimizer)},
                              {"world_size", comm.size()},
                              {"device", distributed::describe_device(ctx.device)},
                              {"threads", torch::get_num_threads()},
                              {"steps", o.steps},
                              {"ms_per_step_median", median(ms)},
                              {"images_per_s", images / seconds},
                              {"peak_memory_bytes", peak.bytes},
                              {"peak_memory_kind", peak.kind},
                              {"torch", TORCH_VERSION},
                              {"finch", FINCH_VERSION}};
  // The gradients' all-reduce: how long it ran per step, how much of that backward hid; the mean
  // over ranks (each rank waits for its own share of the skew), one collective after the steps.
  auto overlap = rig.parts->sync->overlap();
  if (comm.size() > 1 && overlap.comm_s >= 0 && overlap.syncs > 0) {  // the same on every rank: same backend, same steps
    const auto mean = comm.allreduce_values({overlap.comm_s / overlap.syncs, overlap.exposed_s / overlap.syncs}, distributed::ReduceOp::kSum);
    overlap = {mean[0] / comm.size(), mean[1] / comm.size(), 1};
    r["comm_ms_per_step"] = 1e3 * overlap.comm_s;
    r["exposed_comm_ms_per_step"] = 1e3 * overlap.exposed_s;
    r["comm_hidden_share"] = overlap.hidden_share();
  }
  if (comm.rank() == 0) {
    std::cout << fmt::format("{:<16} {:>5} {:>5} {:>5} {:>6} {:>5} {:>8} {:>10} {:>10} {:>12}\n", "arch", "batch", "size", "prec",
                             "format", "ranks", "threads", "ms/step", "images/s", "peak MiB");
    std::cout << fmt::format("{:<16} {:>5} {:>5} {:>5} {:>6} {:>5} {:>8} {:>10.1f} {:>10.1f} {:>12.0f}  ({}, {})\n", o.rig.arch, batch_size,
                             o.image_size, precision, channels_last ? "NHWC" : "NCHW", comm.size(), torch::get_num_threads(),
                             median(ms), images / seconds, static_cast<double>(peak.bytes) / (1 << 20), peak.kind, r["device"].get<std::string>());
    if (r.contains("comm_hidden_share"))
      std::cout << fmt::format("gradient all-reduce ({}): {:.1f} ms/step, {:.1f} ms of it after backward: {:.0f}% hidden behind backward (mean over ranks)\n",
                               comm.backend(), r["comm_ms_per_step"].get<double>(), r["exposed_comm_ms_per_step"].get<double>(),
                               100 * overlap.hidden_share());
    else if (comm.size() > 1)
      std::cout << fmt::format("gradient all-reduce ({}): runs on the device; its hidden share is not measured from the host\n", comm.backend());
    write_bench_json(o.json, r);
  }
  return 0;
}

}  // namespace

Command add_bench_step(CLI::App& root) {
  auto* bench = root.get_subcommand("bench");
  auto* app = bench->add_subcommand("step", "Images/s of one training step (forward, backward, all-reduce, optimizer) on a fixed batch");
  auto o = std::make_shared<StepBenchOptions>();
  app->add_option("--classes", o->rig.classes, "Classes of the head")->check(CLI::Range(1, 1000000))->capture_default_str();
  app->add_option("--image-size", o->image_size, "Input size")->check(CLI::Range(8, 4096))->capture_default_str();
  app->add_option("--steps", o->steps, "Measured steps")->check(CLI::Range(1, 10000000))->capture_default_str();
  app->add_option("--warmup", o->warmup, "Steps before measuring")->check(CLI::Range(0, 10000000))->capture_default_str();
  app->add_option("--threads", o->threads, "Intra-op threads (0: as finch train)")->check(CLI::Range(0, 1024))->capture_default_str();
  add_device_option(app, o->device);
  add_rig_options(app, o->rig);
  app->add_option("--json", o->json, "Also write the result as JSON to this file");
  app->add_option("--trace", o->trace_dir, "Write a timeline of the measured steps here (trace-rank<r>.json per rank; Perfetto)");
  return {app, [o]() { return run_step_bench(*o); }};
}

}  // namespace finch::cli
