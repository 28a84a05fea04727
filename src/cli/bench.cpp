// finch bench loader: images/s of the training input pipeline (decode + RandomResizedCrop + flip +
// normalise + batching) for a raw tree and/or a packed file, at several thread counts.
#include <chrono>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "finch/core/clock.h"
#include "finch/core/error.h"
#include "finch/data/dataset.h"
#include "finch/data/loader.h"
#include "finch/data/packed.h"

namespace finch::cli {

Command add_bench(CLI::App& parent) {
  auto* app = parent.add_subcommand("bench", "Benchmarks: a training step, all-reduce, end-to-end training, the data loader");
  app->require_subcommand(1);
  auto* loader = app->add_subcommand("loader", "Images/s of the training input pipeline alone");
  struct Opts {
    std::vector<std::string> roots;
    std::vector<int> threads = {1, 2};
    int batches = 20, batch_size = 32, image_size = 224;
    AutoAugmentPolicy auto_augment = AutoAugmentPolicy::kNone;
    double random_erasing = 0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  loader->add_option("--root", o->roots, "CUB folder and/or packed file (repeatable)")->required();
  loader->add_option("--threads", o->threads, "Loader thread counts to try")->check(CLI::Range(1, 1024))->capture_default_str();
  loader->add_option("--batches", o->batches, "Batches per measurement")->check(CLI::Range(1, 1000000))->capture_default_str();
  loader->add_option("--batch-size", o->batch_size, "Batch size")->check(CLI::Range(1, 65536))->capture_default_str();
  loader->add_option("--image-size", o->image_size, "Crop size")->check(CLI::Range(8, 4096))->capture_default_str();
  add_choice_option(loader, "--auto-augment", o->auto_augment, "data.auto_augment of the transform measured");
  loader->add_option("--random-erasing", o->random_erasing, "data.random_erasing.prob of the transform measured")->check(CLI::Range(0.0, 1.0));
  loader->add_flag("--json", o->json, "Machine-readable output");
  return {loader, [o]() {
            nlohmann::ordered_json rows = nlohmann::ordered_json::array();
            for (const auto& root : o->roots) {
              DataConfig dc;
              dc.root = root;
              dc.image_size = o->image_size;
              dc.resize = std::max(o->image_size, dc.resize);
              dc.val_fraction = 0;
              dc.auto_augment = o->auto_augment;
              dc.random_erasing.prob = o->random_erasing;
              const auto bundle = data::open_dataset(dc, 0);
              for (int t : o->threads) {
                data::LoaderOptions lo;
                lo.batch_size = o->batch_size;
                lo.workers = t;
                lo.prefetch = std::max(2, 2 * t);
                lo.transform = data::train_transform(dc);
                std::vector<int64_t> idx;
                for (int64_t k = 0; k < static_cast<int64_t>(o->batches) * o->batch_size; ++k)
                  idx.push_back(bundle.split.train[k % bundle.split.train.size()]);
                data::BatchLoader warm(bundle.source, std::vector<int64_t>(idx.begin(), idx.begin() + o->batch_size), lo);
                while (warm.next()) {}  // page cache and allocator warm-up
                const auto start = Clock::now();
                data::BatchLoader l(bundle.source, idx, lo);
                int64_t images = 0;
                while (auto b = l.next()) images += b->images.size(0);
                const double s = std::chrono::duration<double>(Clock::now() - start).count();
                rows.push_back({{"input", bundle.source->describe()}, {"threads", t}, {"images", images}, {"seconds", s},
                                {"images_per_s", images / s}});
                if (!o->json)
                  std::cout << fmt::format("{:<70} threads {:>2}  {:>8.1f} images/s\n", bundle.source->describe(), t, images / s);
              }
            }
            if (o->json) std::cout << rows.dump(2) << "\n";
            return 0;
          }};
}

}  // namespace finch::cli
