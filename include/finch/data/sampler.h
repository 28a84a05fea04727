// Distributed sampling, as DDP's DistributedSampler plus what a resumable multi-rank run needs.
//
// Training: each epoch's order is a permutation from (seed, epoch) alone. It is padded by wrapping
// around (or cut, with drop_last) to a multiple of world x batch, so every rank gets the same number
// of full batches (unequal counts would hang the gradient all-reduce); rank r takes positions
// r, r+W, r+2W, ... A resumed run starts at a global sample offset (samples all ranks consumed
// together): the rest of the same permutation is split over the new world size, so no sample is
// seen twice and none skipped, whatever the old and new world sizes.
//
// Evaluation: eval_shard gives rank r the indices r, r+W, ...: every sample exactly once across
// ranks, no padding duplicates (ranks may differ by one sample).
#pragma once

#include <cstdint>
#include <vector>

#include "finch/core/seed.h"

namespace finch::data {

struct SamplerOptions {
  int64_t size = 0;     // samples in the dataset (or split)
  int world = 1;
  int rank = 0;
  int batch_size = 1;   // per rank
  bool shuffle = true;
  bool drop_last = false;
  uint64_t seed = 0;
  uint64_t stream = seed_stream::kTrainOrder;  // Precise BN draws its batches from a stream of its own
};

class DistributedSampler {
 public:
  explicit DistributedSampler(const SamplerOptions& options);
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  int64_t epoch() const { return epoch_; }

  // The epoch's permutation of 0..size-1 (identical on every rank and world size).
  std::vector<int64_t> permutation() const;
  // All ranks' positions from `start` on: padded or cut to a multiple of world x batch.
  std::vector<int64_t> global_order(int64_t start = 0) const;
  // This rank's indices from `start` on, in the order it will see them.
  std::vector<int64_t> indices(int64_t start = 0) const;
  // Full batches this rank gets from `start` on (the same on every rank).
  int64_t batches(int64_t start = 0) const;
  // Global samples one optimizer step consumes (world x batch).
  int64_t step_samples() const { return static_cast<int64_t>(o_.world) * o_.batch_size; }

 private:
  SamplerOptions o_;
  int64_t epoch_ = 0;
};

std::vector<int64_t> eval_shard(int64_t size, int world, int rank);

}  // namespace finch::data
