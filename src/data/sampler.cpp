#include "finch/data/sampler.h"

#include <numeric>

#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/core/seed.h"

namespace finch::data {

DistributedSampler::DistributedSampler(const SamplerOptions& options) : o_(options) {
  if (o_.world < 1 || o_.rank < 0 || o_.rank >= o_.world || o_.batch_size < 1 || o_.size < 0)
    throw RuntimeError(fmt::format("sampler: invalid rank {} of world {} with batch {} and {} samples", o_.rank, o_.world,
                                   o_.batch_size, o_.size));
}

std::vector<int64_t> DistributedSampler::permutation() const {
  std::vector<int64_t> p(static_cast<size_t>(o_.size));
  std::iota(p.begin(), p.end(), 0);
  if (o_.shuffle) shuffle(p, derive_seed(o_.seed, {o_.stream, static_cast<uint64_t>(epoch_)}));
  return p;
}

std::vector<int64_t> DistributedSampler::global_order(int64_t start) const {
  const auto perm = permutation();
  const int64_t n = o_.size;
  if (start < 0 || start > n) throw RuntimeError(fmt::format("sampler: offset {} outside an epoch of {} samples", start, n));
  std::vector<int64_t> order(perm.begin() + start, perm.end());
  const int64_t step = step_samples();
  const int64_t rest = static_cast<int64_t>(order.size()) % step;
  if (rest == 0 || n == 0) return order;
  if (o_.drop_last) {
    order.resize(order.size() - rest);
  } else {
    // Pad with the epoch's first samples, as DDP does (wrapping again if the epoch is tiny).
    for (int64_t k = 0; k < step - rest; ++k) order.push_back(perm[k % n]);
  }
  return order;
}

std::vector<int64_t> DistributedSampler::indices(int64_t start) const {
  const auto order = global_order(start);
  std::vector<int64_t> mine;
  for (size_t k = o_.rank; k < order.size(); k += o_.world) mine.push_back(order[k]);
  return mine;
}

int64_t DistributedSampler::batches(int64_t start) const {
  return static_cast<int64_t>(global_order(start).size()) / step_samples();
}

std::vector<int64_t> eval_shard(int64_t size, int world, int rank) {
  std::vector<int64_t> mine;
  for (int64_t k = rank; k < size; k += world) mine.push_back(k);
  return mine;
}

}  // namespace finch::data
