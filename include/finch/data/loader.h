// Batches from an ImageSource: worker threads decode and transform samples into batch tensors,
// at most `prefetch` batches ahead of the consumer, delivered in order. A batch's pixels depend only
// on (seed, epoch, sample indices): not on the number of workers, the rank or timing.
//
// A sample that cannot be read follows on_error: "fail" (the consumer gets a RuntimeError naming
// the file when it reaches that batch) or "skip" (the sample is left out of its batch and counted).
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <ATen/core/Tensor.h>

#include "finch/data/source.h"
#include "finch/data/transforms.h"

namespace finch::data {

struct Batch {
  at::Tensor images;   // N x 3 x S x S float32 (normalised); channels_last memory when the loader was asked
  at::Tensor labels;   // N int64
  at::Tensor indices;  // N int64: dataset indices
  int64_t skipped = 0; // samples of this batch left out (on_error = skip)
};

struct LoaderOptions {
  int64_t batch_size = 32;
  int workers = 4;            // 0: load in the calling thread
  int prefetch = 4;            // batches ahead of the consumer (at least `workers`)
  TransformOptions transform;
  bool skip_errors = false;   // on_error = skip
  uint64_t seed = 0;
  int64_t epoch = 0;
  bool pin_memory = false;    // page-locked batches for fast host-to-GPU copies
  // Images written straight into an NHWC (channels_last) batch when the model runs in that layout
  // (Note [Memory format]): the same values, and no conversion before the forward.
  bool channels_last = false;
};

class BatchLoader {
 public:
  BatchLoader(std::shared_ptr<const ImageSource> source, std::vector<int64_t> indices, const LoaderOptions& options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The next batch in order, or nullopt at the end. Rethrows a worker's error (on_error = fail).
  std::optional<Batch> next();
  int64_t num_batches() const { return num_batches_; }
  int64_t skipped() const;

 private:
  Batch make_batch(int64_t b) const;
  void work(int worker);

  std::shared_ptr<const ImageSource> source_;
  std::vector<int64_t> indices_;
  LoaderOptions o_;
  int64_t num_batches_ = 0;
  int64_t consumed_ = 0;

  mutable std::mutex m_;
  std::condition_variable cv_;
  std::map<int64_t, Batch> ready_;
  std::map<int64_t, std::exception_ptr> errors_;
  bool stop_ = false;
  int64_t skipped_ = 0;
  std::vector<std::thread> threads_;
};

// The per-sample seed of the augmentation: (seed, epoch, dataset index) and nothing else.
uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index);

}  // namespace finch::data
