// The named seed streams (core/seed.h): two purposes never share one.
#include <gtest/gtest.h>

#include <set>

#include "finch/core/seed.h"
#include "finch/data/sampler.h"

namespace {

TEST(SeedStreams, AreDistinct) {
  std::set<uint64_t> values;
  std::set<std::string> names;
  for (const auto& [value, name] : finch::seed_stream::kAll) {
    EXPECT_TRUE(values.insert(value).second) << "stream '" << name << "' reuses the value 0x" << std::hex << value;
    EXPECT_TRUE(names.insert(name).second) << "two streams are called '" << name << "'";
  }
}

// Precise BN's batches are an order of their own, not the training order of some other epoch (the
// trainer once took the training stream at epoch + 100003).
TEST(SeedStreams, PreciseBnOrderIsNotTheTrainingOrder) {
  finch::data::SamplerOptions o;
  o.size = 64;
  o.seed = 42;
  finch::data::DistributedSampler train(o);
  o.stream = finch::seed_stream::kPreciseBnOrder;
  finch::data::DistributedSampler bn(o);
  for (int64_t epoch : {0, 1, 7}) {
    train.set_epoch(epoch);
    bn.set_epoch(epoch);
    EXPECT_NE(train.permutation(), bn.permutation()) << "epoch " << epoch;
    for (int64_t other = 0; other < 8; ++other) {
      train.set_epoch(other);
      EXPECT_NE(train.permutation(), bn.permutation()) << "precise-bn epoch " << epoch << " = train epoch " << other;
    }
  }
}

}  // namespace
