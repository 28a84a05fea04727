// Seeding. Every random choice in finch derives from the config's train.seed plus where it happens
// (epoch, sample index, ...), never from the rank, a thread or the clock, so runs repeat exactly and a
// batch's content does not depend on the world size.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace finch {

// Seeds LibTorch's generators (CPU and, when present, CUDA).
void seed_everything(uint64_t seed);

// A well-mixed 64-bit seed from a base seed and a path of integers (splitmix64 chain).
uint64_t derive_seed(uint64_t seed, std::initializer_list<uint64_t> path);

// A small counter-based generator with a fixed, documented algorithm (splitmix64), so that the
// same seed gives the same numbers on every platform and standard library (std::shuffle and the
// std distributions are implementation-defined).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next();
  double uniform();                       // [0, 1)
  double uniform(double lo, double hi);   // [lo, hi)
  uint64_t below(uint64_t n);             // [0, n), unbiased
 private:
  uint64_t state_;
};

// Fisher-Yates with Rng: identical on every build.
void shuffle(std::vector<int64_t>& v, uint64_t seed);

}  // namespace finch
