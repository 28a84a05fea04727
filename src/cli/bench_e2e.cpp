// finch bench e2e: real training steps through the real input pipeline — packed (or raw) data, the
// distributed sampler, the loader's worker threads, the train transform — into the trainer's own
// TrainStep. Reports images/s and the share of step time spent waiting for the next batch (the
// figure that says whether the loader or the model is the bottleneck). Without --data it trains on
// a generated packed file (synthetic images, never CUB), made once and reused. With --config it
// benchmarks a user's run config: their data and model, their train.* and optimizer; its steps are
// the trainer's own (Note [One step assembly]), so --save-weights after N steps equals the
// checkpoint `finch train --set train.max_steps=N` writes (e2e.np2.bench_matches_train).
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
#include "finch/data/packed.h"
#include "finch/data/synth.h"
#include "finch/distributed/device.h"
#include "finch/distributed/run_context.h"
#include "finch/distributed/agree.h"
#include "finch/io/safetensors.h"
#include "finch/model/weights.h"
#include "finch/train/optim.h"
#include "finch/train/schedule.h"
#include "finch/train/train_data.h"

namespace finch::cli {
namespace {

namespace fs = std::filesystem;

struct E2eBenchOptions {
  RigOptions rig;
  std::string config;              // a run config to benchmark instead of the flags (its data, model, train.*)
  std::vector<std::string> sets;   // --set overrides of it
  std::string save_weights;        // rank 0 writes the weights the steps trained here
  std::string data;
  std::string work_dir = ".finch-bench";
  int synth_per_class = 4;
  int image_size = 224;
  int steps = 200;
  int warmup = 10;
  int workers = 4;
  int prefetch = 0;  // 0: 2 x workers
  int threads = 0;
  DeviceRequest device = DeviceRequest::kAuto;
  std::string json;
};

// The generated dataset: 200 classes at the eval resize's short side, packed raw like `finch pack`
// does CUB. Rank 0 writes it (atomically, under a name that says what it holds); the others wait.
std::string generated_data(const E2eBenchOptions& o, int resize, distributed::Communicator& comm) {
  const fs::path file = fs::path(o.work_dir) / fmt::format("synthetic-200x{}-{}px.finchpack", o.synth_per_class, resize);
  if (comm.rank() == 0 && !fs::exists(file)) {
    fs::create_directories(o.work_dir);
    data::SynthOptions so;
    so.classes = 200;
    so.per_class = o.synth_per_class;
    so.size = resize;
    so.train_fraction = 1.0;
    data::PackOptions po;
    po.short_side = resize;
    std::cout << fmt::format("generating {} synthetic images (not CUB) into {} ...\n", so.classes * so.per_class, file.string()) << std::flush;
    data::write_synthetic_packed(file.string(), so, po);
  }
  comm.barrier();
  if (!fs::exists(file))
    throw RuntimeError(fmt::format("bench e2e: rank {} cannot see '{}' that rank 0 wrote: give --work-dir on a filesystem every node shares, "
                                   "or --data",
                                   comm.rank(), file.string()));
  return file.string();
}

int run_e2e_bench(const E2eBenchOptions& o) {
  if (o.steps < 1 || o.warmup < 0 || o.rig.batch_size < 1 || o.image_size < 32 || o.workers < 0 || o.synth_per_class < 2)
    throw ConfigError("bench e2e: need --steps >= 1, --warmup >= 0, --batch-size >= 1, --image-size >= 32, --workers >= 0, --synth-per-class >= 2");
  auto control = distributed::make_mpi_communicator();
  set_intra_op_threads(o.threads);
  auto ctx = distributed::make_run_context(*control, {o.device, false, Backend::kAuto, 600});
  auto& comm = *ctx.comm;

  // The run config: a user's (--config: their data, model, optimizer and train.* exactly as finch
  // train reads them), or the flags' on the generated data.
  Config c;
  if (!o.config.empty()) {
    distributed::run_agreed(comm, [&] { c = load_config(o.config, o.sets); });
  } else {
    c = rig_config(o.rig);
    c.data.image_size = o.image_size;
    c.data.resize = o.image_size * 256 / 224;
    c.data.root = o.data.empty() ? generated_data(o, c.data.resize, comm) : o.data;
    c.data.val_fraction = 0;
    c.data.workers = o.workers;
    c.data.prefetch = o.prefetch > 0 ? o.prefetch : std::max(2, 2 * o.workers);
    c.model.classes = 0;  // the data set's
  }
  // As the trainer's setup: the data (the keys left to it and to the weights resolved), then the step.
  std::unique_ptr<train::TrainData> data_ptr;
  distributed::run_agreed(comm, [&] { data_ptr = train::open_train_data(c, comm.rank(), comm.size(), ctx.device); });
  train::TrainData& data = *data_ptr;
  StepRig rig(c, comm, ctx.device);
  const train::LrSchedule schedule(c.scheduler, c.optimizer.lr, c.train.epochs);
  const int64_t batch_size = c.train.batch_size;

  // Epoch after epoch of the sampler's order until warmup + steps steps have been taken.
  double wait_s = 0, step_s = 0;
  int64_t measured = 0;
  Clock::time_point measured_start;
  int64_t taken = 0;
  for (int epoch = 0; taken < o.warmup + o.steps; ++epoch) {
    const auto sampler = data.sampler(epoch);
    if (sampler.batches() == 0)
      throw ConfigError(fmt::format("bench e2e: '{}' has too few training images for one step of {} x {} rank(s)", c.data.root,
                                    batch_size, comm.size()));
    auto batches = data.train_batches(sampler.indices(), epoch, rig.channels_last());
    for (int64_t s = 0; s < sampler.batches() && taken < o.warmup + o.steps; ++s, ++taken) {
      if (taken == o.warmup) comm.barrier(), measured_start = Clock::now();
      double waited = 0;
      const auto t0 = Clock::now();
      // As the trainer's step (no validation: a plateau never lowers the epoch's LR).
      train::set_step_lr(*rig.parts, schedule, schedule.lr_at(epoch), epoch, s, sampler.batches());
      rig.take(comm, {epoch, s, taken}, [&]() -> std::optional<data::Batch> {
        const auto w0 = Clock::now();
        auto b = batches.next();
        waited += std::chrono::duration<double>(Clock::now() - w0).count();
        return b;
      });
      if (taken >= o.warmup) {
        wait_s += waited;
        step_s += std::chrono::duration<double>(Clock::now() - t0).count();
        ++measured;
      }
    }
  }
  comm.barrier();
  const double seconds = std::chrono::duration<double>(Clock::now() - measured_start).count();
  const double images = static_cast<double>(batch_size) * c.train.accum_steps * comm.size() * measured;
  // The rank that waited most says how far the input pipeline holds the job back.
  const auto fr = comm.allreduce_values({wait_s / std::max(1e-9, step_s)}, distributed::ReduceOp::kMax);
  const auto peak = distributed::peak_memory(ctx.device);
  const std::string input = data.bundle().source->describe();
  nlohmann::ordered_json r = {{"bench", "e2e"},
                              {"impl", "finch"},
                              {"arch", c.model.arch},
                              {"data", input},
                              {"batch_size", batch_size},
                              {"image_size", c.data.image_size},
                              {"precision", rig.precision},
                              {"channels_last", rig.channels_last()},
                              {"world_size", comm.size()},
                              {"workers", c.data.workers},
                              {"prefetch", c.data.prefetch},
                              {"threads", torch::get_num_threads()},
                              {"device", distributed::describe_device(ctx.device)},
                              {"steps", measured},
                              {"images_per_s", images / seconds},
                              {"data_wait_fraction", fr[0]},
                              {"peak_memory_bytes", peak.bytes},
                              {"peak_memory_kind", peak.kind},
                              {"torch", TORCH_VERSION},
                              {"finch", FINCH_VERSION}};
  if (comm.rank() == 0) {
    std::cout << fmt::format("{}\n{:<16} {:>5} {:>5} {:>5} {:>5} {:>7} {:>7} {:>10} {:>10}\n", input, "arch", "batch", "size", "prec",
                             "ranks", "workers", "threads", "images/s", "data wait");
    std::cout << fmt::format("{:<16} {:>5} {:>5} {:>5} {:>5} {:>7} {:>7} {:>10.1f} {:>9.1f}%  ({} steps, {})\n", c.model.arch, batch_size,
                             c.data.image_size, rig.precision, comm.size(), c.data.workers, torch::get_num_threads(), images / seconds, 100 * fr[0],
                             measured, r["device"].get<std::string>());
    write_bench_json(o.json, r);
    if (!o.save_weights.empty()) {
      io::write_safetensors(o.save_weights, model::model_state(*rig.parts->model));
      std::cout << fmt::format("weights after {} steps: {}\n", taken, o.save_weights);
    }
  }
  return 0;
}

}  // namespace

Command add_bench_e2e(CLI::App& root) {
  auto* bench = root.get_subcommand("bench");
  auto* app = bench->add_subcommand("e2e", "Images/s of real training steps through the loader, and the share of time spent waiting for data");
  auto o = std::make_shared<E2eBenchOptions>();
  app->add_option("--data", o->data, "Packed file or CUB folder (default: generated synthetic packed data)");
  app->add_option("--work-dir", o->work_dir, "Where the generated data is kept (shared by every node)")->capture_default_str();
  app->add_option("--synth-per-class", o->synth_per_class, "Generated images per class (200 classes)")->capture_default_str();
  app->add_option("--image-size", o->image_size, "Train crop (the data is kept at size x 256/224)")->check(CLI::Range(8, 4096))->capture_default_str();
  app->add_option("--steps", o->steps, "Measured steps")->check(CLI::Range(1, 10000000))->capture_default_str();
  app->add_option("--warmup", o->warmup, "Steps before measuring")->check(CLI::Range(0, 10000000))->capture_default_str();
  app->add_option("--workers", o->workers, "Loader threads per rank (data.workers)")->check(CLI::Range(0, 256))->capture_default_str();
  app->add_option("--prefetch", o->prefetch, "Batches in flight per rank (data.prefetch; 0: 2 x workers)")->check(CLI::Range(0, 4096))->capture_default_str();
  app->add_option("--threads", o->threads, "Intra-op threads (0: as finch train)")->check(CLI::Range(0, 1024))->capture_default_str();
  add_device_option(app, o->device);
  add_rig_options(app, o->rig);
  app->add_option("--json", o->json, "Also write the result as JSON to this file");
  auto* config = app->add_option("--config,-c", o->config,
                                 "Benchmark this run config's step and input pipeline (its data, model, optimizer, train.*) "
                                 "instead of the flags above");
  app->add_option("--set", o->sets, "Override a key of --config: --set train.batch_size=64 (repeatable)")->needs(config);
  for (const char* flag : {"--data", "--synth-per-class", "--image-size", "--workers", "--prefetch", "--arch", "--batch-size", "--amp",
                           "--channels-last", "--optimizer", "--bucket-mb"})
    config->excludes(app->get_option(flag));
  app->add_option("--save-weights", o->save_weights, "After the steps, write the model's weights and buffers (rank 0's) to this safetensors file");
  return {app, [o]() { return run_e2e_bench(*o); }};
}

}  // namespace finch::cli
