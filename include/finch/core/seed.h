// Seeding. Every random choice in finch derives from the config's train.seed, a named stream (below)
// and where it happens (epoch, step, sample index, ...), never from a thread or the clock, so runs
// repeat exactly and a resumed run draws what the uninterrupted one drew.
//
// Note [Where the rank enters a seed]
// The data path never sees the rank: the order (kTrainOrder), each sample's augmentation
// (kAugment: per sample index, not per batch) and the splits are the same on any world size, so a
// resume on another number of GPUs continues the same epoch. The model's own draws do see it:
// dropout and stochastic depth (kStepDropout, kPreciseBnDropout) are seeded per (epoch, step, rank),
// so each rank's shard gets its own masks, as one process training the whole global batch would
// draw independent masks per image; without the rank every replica would drop the same channels.
// Those streams are re-seeded at every step, so a resume at any step boundary draws the same masks.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

namespace finch {

// The seed streams: the first element of every derive_seed path, one per purpose, so that two
// purposes never draw the same numbers (SeedStreams.AreDistinct checks every one listed in kAll).
// A new stream gets a new constant here and a row in kAll; the values are arbitrary but fixed
// (changing one changes every run's numbers).
namespace seed_stream {
inline constexpr uint64_t kTrainOrder = 0xe90c;        // sampler: each epoch's permutation (data/sampler)
inline constexpr uint64_t kPreciseBnOrder = 0xb70c;    // sampler: Precise BN's batches, apart from training's
inline constexpr uint64_t kAugment = 0xa06;            // loader: one sample's augmentation in an epoch (data/loader)
inline constexpr uint64_t kStepDropout = 0xd0;         // trainer: dropout/stochastic depth of a step, per rank
inline constexpr uint64_t kPreciseBnDropout = 0xb7;    // trainer: the same in Precise BN's forwards, per rank
inline constexpr uint64_t kMixup = 0x313;              // trainer: a step's Mixup/CutMix draws, per rank (data/mixup)
inline constexpr uint64_t kCubValSplit = 0x5a11;       // cub: which train images of a class become val
inline constexpr uint64_t kSynthShape = 0x5e7;         // synth: one image's shapes and colours
inline constexpr uint64_t kSynthNoise = 0x9015e;       // synth: one image's pixel noise
inline constexpr uint64_t kSynthSplit = 0x5b1;         // synth: a class's train/test split
inline constexpr std::array<std::pair<uint64_t, const char*>, 10> kAll{{
    {kTrainOrder, "train order"},
    {kPreciseBnOrder, "precise-bn order"},
    {kAugment, "augment"},
    {kStepDropout, "step dropout"},
    {kPreciseBnDropout, "precise-bn dropout"},
    {kMixup, "mixup"},
    {kCubValSplit, "cub val split"},
    {kSynthShape, "synth shape"},
    {kSynthNoise, "synth noise"},
    {kSynthSplit, "synth split"},
}};
}  // namespace seed_stream

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
