// finch dataset | synth | pack: checking, generating and packing data sets (CUB, ImageFolder, CSV, packed).
#include <sys/stat.h>
#include <unistd.h>  // isatty

#include <atomic>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "finch/core/worker_threads.h"
#include "finch/core/error.h"
#include "finch/data/cub.h"
#include "finch/data/dataset.h"
#include "finch/data/layouts.h"
#include "finch/data/image_ops.h"
#include "finch/data/packed.h"
#include "finch/data/synth.h"

namespace finch::cli {
namespace {

// Each file exists (and with `deep`, decodes): the missing ones returned, the corrupt ones in `corrupt`.
std::vector<std::string> check_files(const std::vector<std::string>& paths, bool deep, int workers, std::vector<std::string>& corrupt) {
  std::vector<std::string> missing;
  std::mutex m;
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads = start_threads(std::max(1, workers), [&](int) {
      for (size_t i = next++; i < paths.size(); i = next++) {
        const std::string& path = paths[i];
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
          std::lock_guard<std::mutex> lock(m);
          missing.push_back(path);
          continue;
        }
        if (!deep) continue;
        try {
          data::decode_image_file(path);
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(m);
          corrupt.push_back(e.what());
        }
      }
    }, [&] { next = paths.size(); }, fmt::format("--workers {}", workers));
  for (auto& t : threads) t.join();
  std::sort(missing.begin(), missing.end());
  std::sort(corrupt.begin(), corrupt.end());
  return missing;
}

}  // namespace

Command add_dataset(CLI::App& parent) {
  auto* app = parent.add_subcommand(
      "dataset", "Validate a data set (CUB-200-2011 tree, ImageFolder tree, CSV manifest or packed file): counts, split, missing or corrupt files");
  struct Opts {
    std::string root;
    bool json = false, deep = false;
    int workers = static_cast<int>(std::thread::hardware_concurrency());
  };
  auto o = std::make_shared<Opts>();
  app->add_option("--root", o->root, "CUB_200_2011 folder, ImageFolder tree, CSV manifest, or a file written by finch pack")->required();
  app->add_flag("--json", o->json, "Machine-readable report");
  app->add_flag("--deep", o->deep, "Also decode every image (finds corrupt JPEGs)");
  app->add_option("--workers", o->workers, "Threads for file checks")->check(CLI::Range(1, 4096))->capture_default_str();
  return {app, [o]() {
            nlohmann::ordered_json r = {{"root", o->root}};
            std::vector<std::string> problems;
            std::vector<int> labels;
            std::vector<bool> train, val;
            std::vector<std::string> paths;  // image files to check (none for a packed file)
            size_t n_classes = 0;
            DataConfig dc;
            dc.root = o->root;
            const bool cub = std::filesystem::exists(std::filesystem::path(o->root) / "images.txt");
            if (std::filesystem::is_regular_file(o->root) || !cub) {
              // Packed files, ImageFolder trees, CSV manifests: a layout that does not read is one
              // error naming the path (exit 2); the images are then checked one by one.
              const auto src = data::open_source(dc);
              const bool packed = data::is_packed_file(o->root);
              r["format"] = packed ? "packed" : data::is_csv_manifest(o->root) ? "csv" : "imagefolder";
              r["source"] = src->describe();
              n_classes = src->class_names().size();
              for (size_t i = 0; i < src->size(); ++i) {
                labels.push_back(src->info(i).label);
                train.push_back(src->info(i).is_train);
                val.push_back(src->info(i).is_val);
                if (!packed) paths.push_back(src->name(i));
              }
            } else {
              auto rep = data::read_cub_report(o->root);
              problems = rep.problems;
              r["format"] = "raw";
              n_classes = rep.dataset.class_names.size();
              for (size_t i = 0; i < rep.dataset.images.size(); ++i) {
                labels.push_back(rep.dataset.images[i].label);
                train.push_back(rep.dataset.images[i].is_train);
                val.push_back(false);
                paths.push_back(rep.dataset.image_path(i));
              }
              r["bounding_boxes"] = rep.dataset.has_bboxes;
            }
            if (!paths.empty()) {
              std::vector<std::string> corrupt;
              const auto missing = check_files(paths, o->deep, o->workers, corrupt);
              r["missing_files"] = missing.size();
              if (o->deep) r["corrupt_files"] = corrupt.size();
              for (const auto& m : missing) problems.push_back("missing image file: " + m);
              for (const auto& c : corrupt) problems.push_back(c);
            }
            r["synthetic"] = data::is_synthetic(o->root);
            std::vector<int64_t> per_class_train(n_classes, 0), per_class_test(n_classes, 0);
            int64_t n_train = 0, n_val = 0, n_test = 0;
            for (size_t i = 0; i < labels.size(); ++i) {
              (train[i] ? n_train : val[i] ? n_val : n_test)++;
              if (val[i]) continue;
              if (labels[i] >= 0 && static_cast<size_t>(labels[i]) < n_classes) (train[i] ? per_class_train : per_class_test)[labels[i]]++;
            }
            for (size_t c = 0; c < n_classes; ++c)
              if (per_class_train[c] == 0) problems.push_back(fmt::format("class {} has no training images", c + 1));
            r["images"] = labels.size();
            r["classes"] = n_classes;
            r["train"] = n_train;
            r["val"] = n_val;  // the data set's own validation split (ImageFolder val/, CSV "val")
            r["test"] = n_test;
            if (n_classes > 0) {
              r["train_per_class_min"] = *std::min_element(per_class_train.begin(), per_class_train.end());
              r["train_per_class_max"] = *std::max_element(per_class_train.begin(), per_class_train.end());
            }
            r["problems"] = problems.size();
            r["usable"] = problems.empty();
            if (o->json) {
              r["problem_list"] = problems;
              std::cout << r.dump(2) << "\n";
            } else {
              std::cout << fmt::format("{} ({}{})\n", o->root, r["format"].get<std::string>(),
                                       r["synthetic"].get<bool>() ? ", SYNTHETIC: not CUB-200-2011" : "");
              std::cout << fmt::format("  images {}  classes {}  train {}  {}test {}\n", labels.size(), n_classes, n_train,
                                       n_val ? fmt::format("val {}  ", n_val) : "", n_test);
              if (n_classes > 0)
                std::cout << fmt::format("  train images per class: {} .. {}\n", r["train_per_class_min"].get<int64_t>(),
                                         r["train_per_class_max"].get<int64_t>());
              for (size_t k = 0; k < problems.size() && k < 25; ++k) std::cout << "  problem: " << problems[k] << "\n";
              if (problems.size() > 25) std::cout << fmt::format("  ... and {} more problems (--json lists all)\n", problems.size() - 25);
              std::cout << (problems.empty() ? "  usable: yes\n" : fmt::format("  usable: NO ({} problems)\n", problems.size()));
            }
            return problems.empty() ? 0 : 1;
          }};
}

Command add_synth(CLI::App& parent) {
  auto* app = parent.add_subcommand("synth", "Write a synthetic CUB-format dataset (for tests and the quickstart; never CUB)");
  auto o = std::make_shared<data::SynthOptions>();
  auto out = std::make_shared<std::string>();
  auto packed = std::make_shared<std::string>();
  app->add_option("--out", *out, "Folder for a CUB-layout tree of JPEGs");
  app->add_option("--packed", *packed, "Write a packed file instead (no JPEG codec needed)");
  app->add_option("--classes", o->classes, "Classes (2..400)")->check(CLI::Range(2, 400))->capture_default_str();
  app->add_option("--per-class", o->per_class, "Images per class (about half go to the train split)")->check(CLI::Range(1, 1000000))->capture_default_str();
  app->add_option("--size", o->size, "Shorter image side in pixels")->check(CLI::Range(8, 4096))->capture_default_str();
  app->add_option("--seed", o->seed, "Seed")->capture_default_str();
  app->add_option("--workers", o->workers, "Threads")->check(CLI::Range(1, 4096))->capture_default_str();
  app->add_flag("--easy", o->easy, "The class also sets the background hue (learnable in a few CPU epochs: smoke tests)");
  return {app, [o, out, packed]() {
            if (out->empty() == packed->empty()) throw ConfigError("synth: give exactly one of --out DIR or --packed FILE");
            if (!out->empty()) {
              if (std::filesystem::exists(std::filesystem::path(*out) / "images.txt"))
                throw ConfigError("synth: '" + *out + "' already holds a dataset; remove it or choose another --out");
              data::write_synthetic_tree(*out, *o);
            } else {
              data::PackOptions p;
              p.short_side = 0;
              p.workers = o->workers;
              data::write_synthetic_packed(*packed, *o, p);
            }
            std::cout << fmt::format("wrote a SYNTHETIC CUB-format dataset (not CUB-200-2011) to {}: {} classes x {} images, {} px\n",
                                     out->empty() ? *packed : *out, o->classes, o->per_class, o->size);
            return 0;
          }};
}

Command add_pack(CLI::App& parent) {
  auto* app = parent.add_subcommand("pack", "Pack a data set (CUB tree, ImageFolder tree, CSV manifest) into one mmap-able file for cluster filesystems");
  auto o = std::make_shared<data::PackOptions>();
  auto root = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  app->add_option("--root", *root, "CUB_200_2011 folder, ImageFolder tree or CSV manifest")->required();
  app->add_option("--out", *out, "Packed file to write")->required();
  app->add_option("--size", o->short_side, "Shorter side after resizing (0: keep original size)")->check(CLI::Range(0, 65535))->capture_default_str();
  app->add_option("--encoding", o->encoding, "raw (uint8, fastest to read) or jpeg (smaller)")
      ->check(CLI::IsMember({"raw", "jpeg"}))->capture_default_str();
  app->add_option("--quality", o->jpeg_quality, "JPEG quality for --encoding jpeg")->check(CLI::Range(1, 100))->capture_default_str();
  app->add_option("--workers", o->workers, "Threads")->check(CLI::Range(1, 4096))->capture_default_str();
  return {app, [o, root, out]() {
            const bool tty = isatty(fileno(stderr));
            auto progress = [&](size_t done, size_t total) {
              if (tty) std::cerr << fmt::format("\rpacking {}/{}", done, total) << std::flush;
            };
            size_t images = 0;
            if (std::filesystem::exists(std::filesystem::path(*root) / "images.txt")) {
              const auto ds = data::read_cub(*root);
              data::pack_cub(ds, *out, *o, progress);
              images = ds.images.size();
            } else {
              DataConfig dc;
              dc.root = *root;
              const auto src = data::open_source(dc);  // ImageFolder or CSV: its own val/test travel in the index
              if (data::is_packed_file(*root)) throw ConfigError("pack: '" + *root + "' is already a packed file");
              data::pack_source(*src, *root, *out, *o, progress);
              images = src->size();
            }
            if (tty) std::cerr << "\n";
            std::cout << fmt::format("wrote {}: {} images, {} encoding, shorter side {}, {:.1f} MB\n", *out, images, o->encoding,
                                     o->short_side, std::filesystem::file_size(*out) / 1e6);
            return 0;
          }};
}

}  // namespace finch::cli
