#include <algorithm>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "finch/data/sampler.h"

using namespace finch::data;

namespace {

SamplerOptions opts(int64_t n, int world, int rank, int batch, bool drop_last = false) {
  SamplerOptions o;
  o.size = n;
  o.world = world;
  o.rank = rank;
  o.batch_size = batch;
  o.drop_last = drop_last;
  o.seed = 11;
  return o;
}

}  // namespace

TEST(DistributedSampler, ShardsCoverTheEpochWithEqualBatchCounts) {
  for (int64_t n : {1, 7, 100, 5794, 5995}) {
    for (int w = 1; w <= 8; ++w) {
      for (int batch : {1, 3, 16}) {
        for (bool drop : {false, true}) {
          std::multiset<int64_t> seen;
          int64_t batches = -1;
          for (int r = 0; r < w; ++r) {
            DistributedSampler s(opts(n, w, r, batch, drop));
            s.set_epoch(2);
            const auto idx = s.indices();
            EXPECT_EQ(static_cast<int64_t>(idx.size()), s.batches() * batch);
            if (batches >= 0) EXPECT_EQ(s.batches(), batches) << "unequal batch counts hang the all-reduce";
            batches = s.batches();
            seen.insert(idx.begin(), idx.end());
          }
          const int64_t step = static_cast<int64_t>(w) * batch;
          if (drop) {
            EXPECT_EQ(static_cast<int64_t>(seen.size()), n / step * step);
            for (auto v : seen) EXPECT_EQ(seen.count(v), 1u);  // disjoint
          } else {
            EXPECT_EQ(static_cast<int64_t>(seen.size()), (n + step - 1) / step * step);
            for (int64_t v = 0; v < n; ++v) EXPECT_GE(seen.count(v), 1u) << "sample " << v << " never seen";
            // Only padding repeats samples, and only as much as needed.
            EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), static_cast<size_t>(n));
          }
        }
      }
    }
  }
}

TEST(DistributedSampler, DeterministicPerEpochAndDifferentAcrossEpochs) {
  DistributedSampler a(opts(1000, 2, 1, 8)), b(opts(1000, 2, 1, 8));
  a.set_epoch(3);
  b.set_epoch(3);
  EXPECT_EQ(a.indices(), b.indices());
  b.set_epoch(4);
  EXPECT_NE(a.indices(), b.indices());
  // The permutation does not depend on the world size or rank.
  DistributedSampler c(opts(1000, 5, 2, 3));
  c.set_epoch(3);
  EXPECT_EQ(a.permutation(), c.permutation());
}

TEST(DistributedSampler, ResumeAtAnOffsetWithAnotherWorldSize) {
  // 4 ranks x batch 8 run 20 steps of epoch 1, then the job resumes on 3 ranks x batch 8.
  const int64_t n = 1003;
  DistributedSampler before(opts(n, 4, 0, 8));
  before.set_epoch(1);
  const int64_t consumed = 20 * before.step_samples();
  std::multiset<int64_t> seen;
  for (int r = 0; r < 4; ++r) {
    DistributedSampler s(opts(n, 4, r, 8));
    s.set_epoch(1);
    const auto idx = s.indices();
    seen.insert(idx.begin(), idx.begin() + 20 * 8);
  }
  int64_t batches = -1;
  for (int r = 0; r < 3; ++r) {
    DistributedSampler s(opts(n, 3, r, 8));
    s.set_epoch(1);
    const auto idx = s.indices(consumed);
    if (batches >= 0) EXPECT_EQ(s.batches(consumed), batches);
    batches = s.batches(consumed);
    seen.insert(idx.begin(), idx.end());
  }
  // Every sample of the epoch exactly once, plus only the padding of the last step.
  for (int64_t v = 0; v < n; ++v) EXPECT_GE(seen.count(v), 1u) << "sample " << v << " skipped";
  const int64_t padding = static_cast<int64_t>(seen.size()) - n;
  EXPECT_LT(padding, 3 * 8);
  int64_t duplicates = 0;
  for (int64_t v = 0; v < n; ++v) duplicates += static_cast<int64_t>(seen.count(v)) - 1;
  EXPECT_EQ(duplicates, padding);
  // And the first part is exactly what the 4-rank run would have consumed.
  const auto order = before.global_order();
  std::multiset<int64_t> first(order.begin(), order.begin() + consumed);
  for (auto v : first) EXPECT_GE(seen.count(v), 1u);
}

TEST(EvalShard, EverySampleExactlyOnce) {
  for (int64_t n : {0, 1, 5794, 5795}) {
    for (int w = 1; w <= 8; ++w) {
      std::vector<int> count(n, 0);
      for (int r = 0; r < w; ++r)
        for (auto i : eval_shard(n, w, r)) count[i]++;
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(count[i], 1) << "n=" << n << " w=" << w << " i=" << i;
    }
  }
}
