#include <cstring>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/distributed/agree.h"
#include "finch/distributed/communicator.h"
#include "finch/distributed/world.h"

using finch::distributed::ReduceOp;

TEST(World, MatchesLauncher) {
  const auto& w = finch::distributed::world();
  ASSERT_TRUE(w.mpi) << "these tests must run under mpiexec";
  EXPECT_GE(w.size, 1);
  EXPECT_LT(w.rank, w.size);
  EXPECT_LT(w.local_rank, w.local_size);
  EXPECT_EQ(w.local_size, w.size);  // one node
}

TEST(MpiCommunicator, AllreduceOps) {
  auto comm = finch::distributed::make_mpi_communicator();
  const int r = comm->rank(), n = comm->size();
  auto t = torch::full({5}, static_cast<float>(r + 1));
  comm->allreduce(t, ReduceOp::kSum);
  EXPECT_TRUE(torch::allclose(t, torch::full({5}, n * (n + 1) / 2.0f)));
  auto a = torch::full({2, 3}, static_cast<double>(r), torch::kDouble);
  comm->allreduce(a, ReduceOp::kAvg);
  EXPECT_TRUE(torch::allclose(a, torch::full({2, 3}, (n - 1) / 2.0, torch::kDouble)));
  auto m = torch::tensor({static_cast<int64_t>(r), static_cast<int64_t>(-r)});
  comm->allreduce(m, ReduceOp::kMax);
  EXPECT_EQ(m[0].item<int64_t>(), n - 1);
  EXPECT_EQ(m[1].item<int64_t>(), 0);
  comm->allreduce(m, ReduceOp::kMin);
  EXPECT_EQ(m[0].item<int64_t>(), n - 1);
}

TEST(MpiCommunicator, NonContiguousAndHalfTensorsAreWrittenBack) {
  auto comm = finch::distributed::make_mpi_communicator();
  auto base = torch::zeros({4, 4});
  auto col = base.select(1, 2);  // a strided view
  col.fill_(1.0f);
  comm->allreduce(col, ReduceOp::kSum);
  EXPECT_FLOAT_EQ(base[3][2].item<float>(), static_cast<float>(comm->size()));
  EXPECT_FLOAT_EQ(base[3][1].item<float>(), 0.0f);
  auto h = torch::ones({3}, torch::kBFloat16);
  comm->allreduce(h, ReduceOp::kSum);
  EXPECT_FLOAT_EQ(h[0].item<float>(), static_cast<float>(comm->size()));
}

TEST(MpiCommunicator, BroadcastFromRoot) {
  auto comm = finch::distributed::make_mpi_communicator();
  std::vector<torch::Tensor> ts{torch::full({3}, static_cast<float>(comm->rank() + 10)), torch::arange(4) * comm->rank()};
  comm->broadcast(ts, 0);
  EXPECT_TRUE(torch::equal(ts[0], torch::full({3}, 10.0f)));
  EXPECT_TRUE(torch::equal(ts[1], torch::zeros({4}, torch::kLong)));
  EXPECT_EQ(comm->broadcast_value(comm->rank() == 0 ? 77 : -1, 0), 77);
  const auto v = comm->allreduce_values({1.0, static_cast<double>(comm->rank())}, ReduceOp::kSum);
  EXPECT_DOUBLE_EQ(v[0], comm->size());
}

TEST(AgreedErrors, OneRankFailingStopsEveryRankWithItsCode) {
  auto comm = finch::distributed::make_mpi_communicator();
  const int last = comm->size() - 1;
  try {
    finch::distributed::run_agreed(*comm, [&] {
      if (comm->rank() == last) throw finch::ConfigError("only the last rank sees this");
    });
    FAIL() << "every rank must leave";
  } catch (const finch::distributed::AgreedExit& e) {
    EXPECT_EQ(e.exit_code(), 2);
    // Rank 0 was fine (unless it is the last): the failing rank is the one that speaks.
    const bool speaks = comm->rank() == last;
    EXPECT_EQ(std::string(e.what()).empty(), !speaks) << e.what();
  }
  EXPECT_NO_THROW(finch::distributed::run_agreed(*comm, [] {}));
}

// The NCCL unique id's way to the other ranks (issue 27): made on rank 0 only, and a failure there
// must reach every rank as an error, not leave them in a broadcast rank 0 never joins (that was
// a 600 s hang with a misleading message).
TEST(BroadcastMadeOnRoot, RankZerosBytesReachEveryRank) {
  const auto bytes = finch::distributed::broadcast_made_on_root(
      6, [](char* out) { std::memcpy(out, "finch", 6); }, "make the test bytes");
  EXPECT_STREQ(bytes.data(), "finch");
}

TEST(BroadcastMadeOnRoot, AFailureOnRankZeroIsEveryRanksErrorNotAHang) {
  const int rank = finch::distributed::world().rank;
  try {
    finch::distributed::broadcast_made_on_root(
        128, [](char*) { throw finch::RuntimeError("rank 0: ncclGetUniqueId failed: injected before the broadcast"); },
        "create the NCCL unique id");
    FAIL() << "rank " << rank << " returned";
  } catch (const finch::RuntimeError& e) {
    const std::string want = rank == 0 ? "rank 0: ncclGetUniqueId failed: injected before the broadcast"
                                       : fmt::format("rank {}: rank 0 could not create the NCCL unique id: rank 0: ncclGetUniqueId "
                                                     "failed: injected before the broadcast", rank);
    EXPECT_EQ(e.what(), want);
  }
  // Both ranks are still in step: a collective after the failure completes.
  auto comm = finch::distributed::make_mpi_communicator();
  EXPECT_EQ(comm->allreduce_value(1, ReduceOp::kSum), comm->size());
}
