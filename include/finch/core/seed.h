// Seeding. Every random choice in finch derives from the config's train.seed plus where it happens
// (epoch, sample index, ...), never from the rank, a thread or the clock, so runs repeat exactly and a
// batch's content does not depend on the world size.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace finch {

// Seeds LibTorch's generators (CPU and, when present, CUDA).
void seed_everything(uint64_t seed);

// A well-mixed 64-bit seed from a base seed and a path of integers (splitmix64 chain).
uint64_t derive_seed(uint64_t seed, std::initializer_list<uint64_t> path);

}  // namespace finch
