#include "finch/core/seed.h"

#include <torch/utils.h>

namespace finch {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

void seed_everything(uint64_t seed) { torch::manual_seed(seed); }

uint64_t derive_seed(uint64_t seed, std::initializer_list<uint64_t> path) {
  uint64_t h = splitmix64(seed);
  for (uint64_t p : path) h = splitmix64(h ^ splitmix64(p + 0x632be59bd9b4e019ULL));
  return h;
}

}  // namespace finch
